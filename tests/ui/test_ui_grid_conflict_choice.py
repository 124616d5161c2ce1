"""A conflict's choice stays offered until it is made, and a merged row that fails shows why."""

from __future__ import annotations

import re
from typing import Any

from gridpage import GridPage, text_of

from app.licenses.models import ProviderCredLicense
from app.tenancy import session_scope
from tests.factories import grid_license


def bob_sets(put_licenses: Any, **cells: str) -> None:
    """Bob writes the license with ``cells`` changed (an upsert replaces every field)."""
    put_licenses(1, grid_license(**cells), actor="bob")


def stored(app: Any, key: int) -> ProviderCredLicense:
    with app.app_context(), session_scope("main") as session:
        license = session.get(ProviderCredLicense, key)
    assert license is not None
    return license


def after(page: GridPage, response: Any) -> GridPage:
    """The page a browser shows after ``response`` (what the user edits and saves next)."""
    return GridPage(page.client, page.provider_cred_key, response.get_data(as_text=True))


def choose(page: GridPage, prefix: str, value: str) -> GridPage:
    """Pick a radio of the row's choice, as a person can only when the page offers it."""
    assert f'name="{prefix}-resolve" value="{value}"' in page.html, "no such choice on the page"
    return page.set(prefix, resolve=value)


def stored_row(html: str) -> str:
    found = re.search(r'<tr class="conflict-stored">.*?</tr>', html, re.S)
    assert found, "no stored row"
    return found.group(0)


def test_saving_without_a_choice_keeps_offering_it_until_it_is_made(
    app: Any, one_license_cred: int, login: Any, open_grid: Any, put_licenses: Any
) -> None:
    login()
    page = open_grid(one_license_cred)
    bob_sets(put_licenses, specialty_Code="AAA")
    row = page.row(11)
    page.set(row, specialty_Code="BBB", license_Name="Alice's name")
    first = after(page, page.save())
    assert first.fields[f"{first.row(11)}-conflicts"] == "specialty_Code"

    # Save without a choice, from the page that answer rendered (as a browser does).
    response = first.save()
    assert response.status_code == 422
    second = after(first, response)
    html = second.html
    mine = second.row(11)
    assert second.fields[f"{mine}-specialty_Code"] == "BBB"  # what was typed stays
    assert second.fields[f"{mine}-license_Name"] == "Alice's name"
    assert second.fields[f"{mine}-conflicts"] == "specialty_Code"
    assert f'name="{mine}-resolve" value="mine"' in html  # the choice is still offered...
    assert f'name="{mine}-resolve" value="theirs"' in html
    assert "AAA" in stored_row(html)  # ...beside the stored values
    assert "Changed by someone else too" in text_of(html)
    assert stored(app, 11).specialty_code == "AAA"

    # Choosing now (on that page) saves: my specialty and my other cell.
    choose(second, mine, "mine")
    assert second.save().status_code == 200
    license = stored(app, 11)
    assert (license.specialty_code, license.license_name) == ("BBB", "Alice's name")


def test_their_value_can_be_chosen_after_a_save_without_a_choice(
    app: Any, one_license_cred: int, login: Any, open_grid: Any, put_licenses: Any
) -> None:
    login()
    page = open_grid(one_license_cred)
    bob_sets(put_licenses, specialty_Code="AAA")
    page.set(page.row(11), specialty_Code="BBB", license_Name="Alice's name")
    first = after(page, page.save())
    second = after(first, first.save())
    choose(second, second.row(11), "theirs")
    assert second.save().status_code == 200
    license = stored(app, 11)
    assert (license.specialty_code, license.license_name) == ("AAA", "Alice's name")


def test_a_merge_that_fails_shows_the_merged_row_and_the_stored_one(
    app: Any, one_license_cred: int, login: Any, open_grid: Any, put_licenses: Any
) -> None:
    login()
    page = open_grid(one_license_cred)
    bob_sets(put_licenses, effective_Date="2027-02-01")
    row = page.row(11)
    page.set(row, term_Date="01/15/2027")  # before Bob's effective date, after the one loaded
    response = page.save()
    assert response.status_code == 422
    shown = after(page, response)
    mine = shown.row(11)
    # The row is rebased on the stored one: Bob's effective date beside my term date...
    assert shown.fields[f"{mine}-effective_Date"] == "02/01/2027"
    assert shown.fields[f"{mine}-term_Date"] == "01/15/2027"
    assert shown.fields[f"{mine}-version"] == stored(app, 11).update_date.isoformat()
    assert shown.fields[f"{mine}-conflicts"] == ""  # nothing to choose
    assert "02/01/2027" in stored_row(shown.html)
    page_text = text_of(shown.html)
    assert "Changed by bob while you saved" in page_text
    assert "Must not be before the Effective date" in page_text
    # ...so correcting the term date saves, keeping Bob's effective date.
    shown.set(mine, term_Date="03/01/2027")
    assert shown.save().status_code == 200
    license = stored(app, 11)
    assert (license.effective_date.date().isoformat(), license.term_date.date().isoformat()) == (
        "2027-02-01",
        "2027-03-01",
    )


def test_both_changing_a_cell_to_the_same_value_is_no_conflict(
    app: Any, one_license_cred: int, login: Any, open_grid: Any, put_licenses: Any
) -> None:
    """Bob and Alice both set the specialty to AAA: nothing to choose, Alice's save is
    written at once (with her other cell)."""
    login()
    page = open_grid(one_license_cred)
    bob_sets(put_licenses, specialty_Code="AAA")
    page.set(page.row(11), specialty_Code="AAA", license_Name="Alice's name")
    response = page.save()
    assert response.status_code == 200
    assert "Changed by someone else too" not in text_of(response.get_data(as_text=True))
    license = stored(app, 11)
    assert (license.specialty_code, license.license_name) == ("AAA", "Alice's name")


def test_a_conflict_changed_again_before_the_choice_is_merged_on_the_newer_values(
    app: Any, one_license_cred: int, login: Any, open_grid: Any, put_licenses: Any
) -> None:
    """Saved without a choice, then Bob writes again: the row offered next is based on Bob's
    newer version (its version and stored values), so choosing then saves."""
    login()
    page = open_grid(one_license_cred)
    bob_sets(put_licenses, specialty_Code="AAA")
    page.set(page.row(11), specialty_Code="BBB", license_Name="Alice's name")
    first = after(page, page.save())
    bob_sets(put_licenses, specialty_Code="CCC")
    response = first.save()  # still no choice
    assert response.status_code == 422
    second = after(first, response)
    mine = second.row(11)
    assert second.fields[f"{mine}-version"] == stored(app, 11).update_date.isoformat()
    assert "CCC" in stored_row(second.html)
    choose(second, mine, "mine")
    assert second.save().status_code == 200
    license = stored(app, 11)
    assert (license.specialty_code, license.license_name) == ("BBB", "Alice's name")
