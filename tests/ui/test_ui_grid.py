"""The license grid through Flask's test client: load, Save, errors, conflicts, roles."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from gridpage import GridPage, text_of
from sqlalchemy import select

from app import create_app
from app.history.models import LicenseChange
from app.licenses.models import ProviderCredLicense
from app.licenses.service import delete_licenses
from app.tenancy import session_scope
from app.ui.grid_save import LOCKED_KEY
from tests.helpers import dispose_engines

NEW_KEY = 7001


@pytest.fixture
def cred(make_cred: Any, make_license_type: Any, put_licenses: Any) -> int:
    """ProviderCred 1 with two licenses (keys 11, 12) and license types 1 (MD) and 2 (DEA)."""
    make_license_type(1, display="MD")
    make_license_type(2, display="DEA")
    make_cred(1)
    put_licenses(
        1,
        {
            "providerCredLicense_Key": 11,
            "credLicenseType_Key": 1,
            "license_Name": "Medical license",
            "license_Number": "MD-111",
            "state": "CA",
            "term_Date": "2030-01-01",
        },
        {"providerCredLicense_Key": 12, "license_Name": "DEA registration", "state": "NY"},
    )
    return 1


def stored(app: Any, key: int, database: str = "main") -> ProviderCredLicense | None:
    with app.app_context(), session_scope(database) as session:
        return session.get(ProviderCredLicense, key)


def changes_of(app: Any, key: int) -> list[LicenseChange]:
    with app.app_context(), session_scope("main") as session:
        return list(
            session.scalars(
                select(LicenseChange)
                .where(LicenseChange.provider_cred_license_key == key)
                .order_by(LicenseChange.id)
            )
        )


def cell_error(html: str, field_id: str) -> str:
    """The error text the input ``field_id`` points at through aria-describedby."""
    tag = re.search(rf'<(?:input|select)[^>]*id="{re.escape(field_id)}"[^>]*>', html)
    assert tag, f"no input {field_id}"
    described = re.search(r'aria-describedby="([^"]+)"', tag.group(0))
    assert described, f"{field_id} has no aria-describedby"
    assert 'aria-invalid="true"' in tag.group(0)
    error_id = f"{field_id}-error"  # beside it, a conflict's stored value or the row's message
    assert error_id in described.group(1).split(), described.group(1)
    error = re.search(rf'id="{error_id}">([^<]*)<', html)
    assert error, f"no element {error_id}"
    return error.group(1)


# ---------------------------------------------------------------------------------------------
# Loading


def test_grid_lists_every_license_with_its_version_and_blank_rows(
    app: Any, cred: int, login: Any, open_grid: Any
) -> None:
    login()
    page = open_grid(cred)
    row = page.row(11)
    assert page.fields[f"{row}-license_Name"] == "Medical license"
    assert page.fields[f"{row}-credLicenseType_Key"] == "1"
    assert page.fields[f"{row}-state"] == "CA"
    assert page.fields[f"{row}-term_Date"] == "01/01/2030"  # as staff type dates
    license = stored(app, 11)
    assert license is not None
    assert page.fields[f"{row}-version"] == license.update_date.isoformat()
    assert datetime.fromisoformat(page.fields[f"{row}-version"]) == license.update_date
    assert f'id="{row}-providerCredLicense_Key"' in page.html
    assert re.search(rf'id="{row}-providerCredLicense_Key"[^>]*readonly', page.html)

    blanks = page.blank_rows()
    assert len(blanks) == app.config["GRID_BLANK_ROWS"]
    # No key to manage: a blank row's key is empty, the server assigns one on Save.
    assert [page.fields[f"{p}-providerCredLicense_Key"] for p in blanks] == [""] * len(blanks)
    assert not re.search(rf'id="{blanks[0]}-providerCredLicense_Key"[^>]*readonly', page.html)


def test_grid_inputs_have_labels_and_limits(cred: int, login: Any, open_grid: Any) -> None:
    login()
    page = open_grid(cred)
    names = [
        name
        for name in re.findall(r'<(?:input|select) [^>]*id="(rows-\d+-[A-Za-z_]+)"', page.html)
        if not name.endswith(("version", "loaded", "conflicts", "resolve"))
    ]
    # Not vacuous: the loop below reaches every visible cell of the first row at least.
    assert {"rows-0-license_Number", "rows-0-license_Name", "rows-0-state"} <= set(names), names
    for name in names:
        assert f'<label class="visually-hidden" for="{name}">' in page.html, name
    # The limit is told, not enforced by the browser: ``maxlength`` cut a pasted value short
    # without a word, and the shortened value was saved.
    assert re.search(r'name="rows-0-license_Number"[^>]*data-max-length="50"', page.html)
    assert re.search(r'name="rows-0-license_Name"[^>]*data-max-length="512"', page.html)
    assert re.search(r'name="rows-0-specialty_Code"[^>]*data-max-length="10"', page.html)
    assert "maxlength" not in page.html
    # A text input: the server receives what was typed, never a browser-emptied date.
    assert re.search(r'<input type="text"[^>]*name="rows-0-term_Date"', page.html)
    assert re.search(
        r'<input type="text"[^>]*name="rows-0-state"[^>]*list="state-codes"', page.html
    )
    codes = re.search(r'<datalist id="state-codes">.*?</datalist>', page.html, re.S)
    assert codes is not None
    options = re.findall(r'<option value="([A-Z]{2})">', codes.group(0))
    assert len(options) == 56 and "PR" in options and "DC" in options


def test_unknown_provider_credential_is_an_html_404(login: Any, client: Any) -> None:
    login()
    response = client.get("/ui/credentials/999/licenses")
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert "Not found" in response.get_data(as_text=True)


def test_a_credential_of_another_database_is_not_visible(
    make_cred: Any, login: Any, client: Any
) -> None:
    make_cred(5, database="main")
    login(database="other")
    assert client.get("/ui/credentials/5/licenses").status_code == 404


# ---------------------------------------------------------------------------------------------
# Saving


def test_save_updates_creates_and_reports_each_row(
    app: Any, cred: int, login: Any, open_grid: Any
) -> None:
    login()
    page = open_grid(cred)
    page.set(page.row(11), license_Number="MD-222")
    page.set(
        page.blank_rows()[0],
        providerCredLicense_Key=str(NEW_KEY),
        credLicenseType_Key="2",
        license_Name="  New DEA  ",
        state="tx",
        effective_Date="2024-02-01",
    )
    response = page.save()

    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "1 created · 1 updated." in text_of(html)
    updated, created = stored(app, 11), stored(app, NEW_KEY)
    assert updated is not None and updated.license_number == "MD-222"
    assert updated.update_user == "alice"
    assert created is not None
    assert (created.license_name, created.state, created.cred_license_type_key) == (
        "New DEA",
        "TX",
        2,
    )
    assert created.effective_date == datetime(2024, 2, 1)
    assert created.entry_user == "alice"

    after = GridAfter(html)
    assert after.badge(11) == "Updated"
    assert after.badge(NEW_KEY) == "Created"
    assert after.badge(12) is None  # untouched: not sent, nothing to report
    # Saved rows now carry the stored values and their new version, ready for the next Save.
    again = GridPageFrom(page, html)
    row = again.row(NEW_KEY)
    assert again.fields[f"{row}-state"] == "TX"
    assert again.fields[f"{row}-version"] == created.update_date.isoformat()


def test_save_writes_history_with_the_user_and_one_activity(
    app: Any, cred: int, login: Any, open_grid: Any
) -> None:
    login()
    page = open_grid(cred)
    page.set(page.row(11), license_Name="Renamed")
    page.set(page.blank_rows()[0], license_Name="Another")
    response = page.save()
    activity = response.history[0].headers["X-Activity-ID"]  # the POST's, not the redirect's

    update = [c for c in changes_of(app, 11) if c.action == "updated"]
    assert [(c.changes, c.user) for c in update] == [
        ({"license_Name": ["Medical license", "Renamed"]}, "alice")
    ]
    created = changes_of(app, 13)
    assert {c.action for c in created} == {"created"}
    assert {c.activity_id for c in update + created} == {activity}


def test_a_second_save_of_the_same_page_is_unchanged(
    app: Any, cred: int, login: Any, open_grid: Any
) -> None:
    login()
    page = open_grid(cred)
    page.set(page.row(11), license_Name="Once")
    first = page.save()
    again = GridPageFrom(page, first.get_data(as_text=True))
    version = stored(app, 11).update_date  # type: ignore[union-attr]
    response = again.save()
    assert response.status_code == 200
    assert "Nothing to save" in text_of(response.get_data(as_text=True))
    assert stored(app, 11).update_date == version  # type: ignore[union-attr]
    assert len([c for c in changes_of(app, 11) if c.action == "updated"]) == 1


def test_untouched_rows_and_blank_rows_are_not_sent(
    app: Any, cred: int, login: Any, open_grid: Any, count_statements: Any
) -> None:
    login()
    page = open_grid(cred)
    before = {k: stored(app, k).update_date for k in (11, 12)}  # type: ignore[union-attr]
    response = page.save()
    assert response.status_code == 200
    assert "Nothing to save" in text_of(response.get_data(as_text=True))
    assert {k: stored(app, k).update_date for k in (11, 12)} == before  # type: ignore[union-attr]
    assert stored(app, 13) is None  # the suggested key of a blank row is not a license


def test_delete_checkbox_deletes_through_the_service(
    app: Any, cred: int, login: Any, open_grid: Any
) -> None:
    login()
    page = open_grid(cred)
    page.tick(page.row(12), "delete")
    response = page.save()
    assert response.status_code == 200
    assert stored(app, 12) is None
    assert [c.action for c in changes_of(app, 12)][-1] == "deleted"
    html = response.get_data(as_text=True)
    after = GridPageFrom(page, html)
    editable_keys = [v for k, v in after.fields.items() if k.endswith("-providerCredLicense_Key")]
    assert "12" not in editable_keys  # not even as a suggestion: its history stays under 12
    assert "1 deleted." in text_of(html)
    assert deleted_links(html) == [("/ui/licenses/12/history", "History of license 12")]


def deleted_links(html: str) -> list[tuple[str, str]]:
    """The links of the save summary's "Deleted:" line: (href, the name a screen reader reads)."""
    line = re.search(r"<p[^>]*>\s*Deleted:(.*?)</p>", html, re.S)
    assert line, "no Deleted: line in the save summary"
    return [
        (href, text_of(inner))
        for href, inner in re.findall(r'<a href="([^"]+)">(.*?)</a>', line.group(1), re.S)
    ]


def test_a_deleted_license_s_history_is_linked_from_the_save_that_deleted_it(
    app: Any, cred: int, login: Any, open_grid: Any, client: Any
) -> None:
    """Once the grid reloads after the Save, a deleted license has no row and no History link
    of its own: the save summary's "Deleted:" line gives each its History link, also a license
    someone else deleted first; the link opens the history, deletion included."""
    login()
    page = open_grid(cred)
    page.tick(page.row(11), "delete")
    page.tick(page.row(12), "delete")
    with app.app_context(), session_scope("main") as session:
        delete_licenses(session, 1, [12], actor="bob", activity_id="x")
    response = page.save()
    assert response.history and response.history[0].status_code == 303  # the grid reloaded
    html = response.get_data(as_text=True)
    assert 'data-license-key="11"' not in html and 'data-license-key="12"' not in html
    assert deleted_links(html) == [
        ("/ui/licenses/11/history", "History of license 11"),
        ("/ui/licenses/12/history", "History of license 12"),
    ]
    seen = re.sub(r'<span class="visually-hidden">.*?</span>', "", html)  # as it looks
    text = " ".join(re.sub(r"<[^>]+>", "", seen).split())
    assert (
        "Deleted: license 11 (History), license 12 (Already deleted by someone else. History)."
        in text
    )
    history = text_of(client.get("/ui/licenses/11/history").get_data(as_text=True))
    assert "This license has been deleted; its history remains." in history
    assert "Deleted" in history and "Medical license" in history


def test_a_row_deleted_by_a_save_with_errors_keeps_its_history_link(
    app: Any, cred: int, login: Any, open_grid: Any
) -> None:
    """A Save with a row in error is not reloaded: the deleted row stays, marked Deleted, with
    its History link."""
    login()
    page = open_grid(cred)
    page.tick(page.row(12), "delete")
    page.set(page.row(11), state="XX")
    response = page.save()
    assert response.status_code == 422
    assert stored(app, 12) is None
    html = response.get_data(as_text=True)
    row = re.search(r'<tr[^>]*data-license-key="12"[^>]*>(.*?)</tr>', html, re.S)
    assert row and "Deleted" in text_of(row.group(1))
    assert '<a class="history-link" href="/ui/licenses/12/history">' in row.group(1)


def test_a_successful_save_redirects_so_reloading_does_not_post_again(
    app: Any, cred: int, login: Any, open_grid: Any, client: Any
) -> None:
    login()
    page = open_grid(cred)
    page.set(page.row(11), license_Name="Once")
    posted = page.save(follow_redirects=False)
    assert posted.status_code == 303
    assert posted.location == "/ui/credentials/1/licenses"
    shown = client.get(posted.location).get_data(as_text=True)
    assert GridAfter(shown).badge(11) == "Updated"
    assert "1 updated." in text_of(shown)
    reloaded = client.get(posted.location).get_data(as_text=True)  # the report is shown once
    assert GridAfter(reloaded).badge(11) is None
    assert 'id="save-summary"' not in reloaded


def test_a_save_report_too_large_for_the_cookie_is_rendered_directly(
    app: Any, cred: int, login: Any, open_grid: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.ui import save_report

    monkeypatch.setattr(save_report, "MAX_CHARS", 10)
    login()
    page = open_grid(cred)
    page.set(page.row(11), license_Name="Once")
    response = page.save(follow_redirects=False)
    assert response.status_code == 200
    assert GridAfter(response.get_data(as_text=True)).badge(11) == "Updated"


def test_a_failed_save_renders_directly_and_keeps_the_report_out_of_the_session(
    cred: int, login: Any, open_grid: Any, client: Any
) -> None:
    login()
    page = open_grid(cred)
    page.set(page.row(11), license_Name="Saved")
    page.set(page.blank_rows()[0], state="ZZ", license_Name="Kept")
    response = page.save(follow_redirects=False)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert GridAfter(html).badge(11) == "Updated" and "Kept" in html
    assert 'id="save-summary"' not in client.get("/ui/credentials/1/licenses").data.decode()


# ---------------------------------------------------------------------------------------------
# Errors keep what was typed


@pytest.mark.parametrize(
    ("cells", "message"),
    [
        ({"providerCredLicense_Key": "9" * 5_000}, "Enter a whole number from -2147483648"),
        ({"providerCredLicense_Key": "-" + "0" * 4_999 + "7"}, None),
        ({"credLicenseType_Key": "9" * 5_000}, "Choose a type from the list."),
    ],
)
def test_a_number_of_thousands_of_digits_is_a_cell_error_not_a_server_error(
    app: Any, cred: int, login: Any, open_grid: Any, cells: dict[str, str], message: str | None
) -> None:
    """More digits than Python converts (4,300) failed the Save with a 500."""
    login()
    page = open_grid(cred)
    page.set(page.blank_rows()[0], license_Name="Digits", **cells)
    response = page.save()
    html = response.get_data(as_text=True)
    if message is None:  # leading zeros: a key like any other, -7
        assert response.status_code == 200
        assert stored(app, -7) is not None
    else:
        assert response.status_code == 422
        assert message in text_of(html)
        assert "Digits" in html  # kept as typed


def test_invalid_row_keeps_input_and_shows_the_error_on_its_cell(
    app: Any, cred: int, login: Any, open_grid: Any
) -> None:
    login()
    page = open_grid(cred)
    good, bad = page.blank_rows()[:2]
    page.set(good, license_Name="Good one", state="WA")
    page.set(
        bad,
        providerCredLicense_Key="7002",
        license_Name="  Bad one, kept as typed  ",
        license_Number="N-1",
        state="ZZ",
        specialty_Code="FM",
        term_Date="2025-01-01",
    )
    page.set(page.row(11), license_Number="X" * 51)
    response = page.save()

    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert stored(app, 13) is not None  # the valid row was saved
    assert stored(app, 7002) is None
    assert stored(app, 11).license_number == "MD-111"  # type: ignore[union-attr]

    after = GridPageFrom(page, html)
    bad_row = after.row(7002)
    assert after.fields[f"{bad_row}-license_Name"] == "  Bad one, kept as typed  "
    assert after.fields[f"{bad_row}-state"] == "ZZ"  # kept, though not a USPS code
    assert after.fields[f"{bad_row}-term_Date"] == "2025-01-01"
    assert after.fields[f"{bad_row}-version"] == ""  # still a new row
    assert cell_error(html, f"{bad_row}-state").startswith(
        "Enter a state as its 2-letter code or full name, e.g. TX or Texas"
    )

    long_row = after.row(11)
    assert after.fields[f"{long_row}-license_Number"] == "X" * 51
    assert cell_error(html, f"{long_row}-license_Number") == (
        "Too long: shorten it to at most 50 characters."
    )
    assert after.fields[f"{long_row}-version"] == page.fields[f"{page.row(11)}-version"]

    summary = text_of(html)
    assert "2 rows not saved" in summary
    assert f'href="#{bad_row}-state"' in html
    # A new row is named by its place in the grid, as its cells' labels name it.
    label = re.search(rf'<label[^>]*for="{bad_row}-state">[^<]*new row (\d+)', html)
    assert label, "the state cell's label names its row"
    assert f"New row {label.group(1)} (key 7002)" in summary
    assert GridAfter(html).badge(7002) == "Error"


@pytest.mark.parametrize(
    ("cells", "field", "message"),
    [
        (
            {"providerCredLicense_Key": "abc"},
            "providerCredLicense_Key",
            "Enter a whole number, or leave it empty to get one assigned.",
        ),
        (
            {"providerCredLicense_Key": "12.5"},
            "providerCredLicense_Key",
            "Enter a whole number, or leave it empty to get one assigned.",
        ),
        (
            {"providerCredLicense_Key": "99999999999"},
            "providerCredLicense_Key",
            "Enter a whole number from -2147483648 to 2147483647, or leave it empty to get one "
            "assigned.",
        ),
        ({"credLicenseType_Key": "MD"}, "credLicenseType_Key", "Choose a type from the list."),
        (
            {"credLicenseType_Key": "9"},
            "credLicenseType_Key",
            "There is no license type 9 in this database; choose one from the list.",
        ),
        (
            {"specialty_Code": "ABCDEFGHIJK"},
            "specialty_Code",
            "Too long: shorten it to at most 10 characters.",
        ),
        ({"effective_Date": "31/12/2024"}, "effective_Date", "Enter a real date, e.g. 03/31/2027."),
        ({"term_Date": "02/30/2027"}, "term_Date", "Enter a real date, e.g. 03/31/2027."),
        (
            {"effective_Date": "2024-05-01", "term_Date": "2024-04-01"},
            "term_Date",
            "Must not be before the Effective date; correct Term or Effective.",
        ),
        ({"psV_Date": "2999-01-01"}, "psV_Date", "Must not be in the future (today is "),
        ({"state": "Narnia"}, "state", "Enter a state as its 2-letter code or full name"),
    ],
)
def test_each_bad_cell_gets_its_own_message(
    cred: int,
    login: Any,
    open_grid: Any,
    cells: dict[str, str],
    field: str,
    message: str,
) -> None:
    login()
    page = open_grid(cred)
    row = page.blank_rows()[0]
    page.set(row, license_Name="Typed", **cells)
    response = page.save()
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    after = GridPageFrom(page, html)
    kept = [p for p in after.prefixes if after.fields[f"{p}-license_Name"] == "Typed"]
    assert len(kept) == 1
    for name, value in cells.items():
        assert after.fields[f"{kept[0]}-{name}"] == value
    shown = cell_error(html, f"{kept[0]}-{field}")
    assert shown.startswith(message)
    # Staff words: no JSON field names, no ISO 8601, neither on the cell nor in the summary.
    summary = text_of(html[: html.index('<table class="grid"')])
    for api_word in ("_Date", "_Key", "ISO", "Not a valid", "JSON"):
        assert api_word not in shown
        assert api_word not in summary
    assert not re.search(r"\d{4}-\d{2}-\d{2}", shown + summary)  # "today is 12/31/2026"


def test_a_row_without_number_or_name_is_not_a_license(
    app: Any, cred: int, login: Any, open_grid: Any
) -> None:
    login()
    page = open_grid(cred)
    only_type, only_state = page.blank_rows()[:2]
    page.set(only_type, credLicenseType_Key="2")
    page.set(only_state, providerCredLicense_Key="600", state="TX")
    response = page.save()
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert stored(app, 600) is None and stored(app, 13) is None
    after = GridPageFrom(page, html)
    kept = [p for p in after.prefixes if after.fields[f"{p}-credLicenseType_Key"] == "2"]
    assert cell_error(html, f"{kept[0]}-license_Number") == (
        "Enter a license number or a license name, or clear this row."
    )
    assert "2 rows not saved" in text_of(html)


def test_an_unreadable_date_blocks_the_row_and_never_clears_the_stored_date(
    app: Any, cred: int, login: Any, open_grid: Any
) -> None:
    login()
    page = open_grid(cred)
    row = page.row(11)
    page.set(row, term_Date="02/30/2027", license_Number="MD-CHANGED")
    response = page.save()
    assert response.status_code == 422
    license = stored(app, 11)
    assert license is not None
    assert license.term_date == datetime(2030, 1, 1)  # not cleared
    assert license.license_number == "MD-111"  # the row is blocked as a whole
    html = response.get_data(as_text=True)
    assert cell_error(html, f"{row}-term_Date") == "Enter a real date, e.g. 03/31/2027."
    assert GridPageFrom(page, html).fields[f"{row}-term_Date"] == "02/30/2027"


def test_a_row_refused_for_its_cells_shows_every_other_error_of_the_row_too(
    app: Any, cred: int, login: Any, open_grid: Any
) -> None:
    """The grid's own checks (a date it cannot read, no number nor name) refuse a row before
    the service sees it; the service's errors of that row (an unknown type, a state that is
    none, a text too long) are shown with them, as the API names every field of an item at
    once, so one Save shows all there is to fix. Nothing is written."""
    login()
    page = open_grid(cred)
    edited = page.row(11)
    page.set(edited, term_Date="02/30/2027", credLicenseType_Key="9", state="Narnia")
    new, nameless = page.blank_rows()[:2]
    page.set(new, license_Name="Typed", effective_Date="31/12/2024", specialty_Code="ABCDEFGHIJK")
    page.set(nameless, credLicenseType_Key="9")
    response = page.save()
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    after = GridPageFrom(page, html)
    assert cell_error(html, f"{edited}-term_Date") == "Enter a real date, e.g. 03/31/2027."
    no_type_9 = "There is no license type 9 in this database; choose one from the list."
    assert cell_error(html, f"{edited}-credLicenseType_Key") == no_type_9
    assert cell_error(html, f"{edited}-state").startswith("Enter a state as its 2-letter code")
    [typed] = [p for p in after.prefixes if after.fields[f"{p}-license_Name"] == "Typed"]
    assert cell_error(html, f"{typed}-effective_Date") == "Enter a real date, e.g. 03/31/2027."
    assert cell_error(html, f"{typed}-specialty_Code") == (
        "Too long: shorten it to at most 10 characters."
    )
    [typeonly] = [
        p for p in after.prefixes if after.fields[f"{p}-credLicenseType_Key"] == "9" and p != edited
    ]
    assert cell_error(html, f"{typeonly}-license_Number") == (
        "Enter a license number or a license name, or clear this row."
    )
    assert cell_error(html, f"{typeonly}-credLicenseType_Key") == no_type_9
    license = stored(app, 11)
    assert license is not None
    assert (license.term_date, license.state) == (datetime(2030, 1, 1), "CA")
    assert stored(app, 13) is None and stored(app, 1) is None
    assert "3 rows not saved" in text_of(html)


def test_clearing_a_date_cell_clears_the_stored_date(
    app: Any, cred: int, login: Any, open_grid: Any
) -> None:
    login()
    page = open_grid(cred)
    page.set(page.row(11), term_Date="")
    assert page.save().status_code == 200
    assert stored(app, 11).term_date is None  # type: ignore[union-attr]


def test_a_full_state_name_stores_its_code(app: Any, cred: int, login: Any, open_grid: Any) -> None:
    login()
    page = open_grid(cred)
    first, second = page.blank_rows()[:2]
    page.set(first, license_Number="TX-1", state="Texas")
    page.set(second, license_Number="NY-1", state="new york")
    assert page.save().status_code == 200
    with app.app_context(), session_scope("main") as session:
        states = session.scalars(
            select(ProviderCredLicense.state).where(
                ProviderCredLicense.license_number.in_(["TX-1", "NY-1"])
            )
        ).all()
    assert sorted(states) == ["NY", "TX"]


def test_an_unparseable_date_is_kept_in_a_text_cell(cred: int, login: Any, open_grid: Any) -> None:
    login()
    page = open_grid(cred)
    row = page.blank_rows()[0]
    page.set(row, license_Name="Typed", term_Date="next tuesday")
    html = page.save().get_data(as_text=True)
    after = GridPageFrom(page, html)
    kept = after.prefixes[-len(page.blank_rows()) - 1]
    assert after.fields[f"{kept}-term_Date"] == "next tuesday"
    assert re.search(rf'<input type="text" id="{kept}-term_Date"', html)


def test_the_same_new_key_twice_fails_both_rows(
    app: Any, cred: int, login: Any, open_grid: Any
) -> None:
    login()
    page = open_grid(cred)
    first, second = page.blank_rows()[:2]
    page.set(first, providerCredLicense_Key="500", license_Name="A")
    page.set(second, providerCredLicense_Key="500", license_Name="B")
    html = page.save().get_data(as_text=True)
    assert stored(app, 500) is None
    message = "Another row of this grid has the same key; change one of them."
    assert text_of(html).count(message) == 4  # 2 rows + 2 in the summary


def test_a_new_row_given_the_key_of_a_row_on_the_page_is_told_the_key_is_taken(
    app: Any, cred: int, login: Any, open_grid: Any
) -> None:
    """The untouched stored row is not sent, and its key cannot be changed: "change one of
    them" was the wrong advice."""
    login()
    page = open_grid(cred)
    page.set(page.blank_rows()[0], providerCredLicense_Key="12", license_Name="Mine")
    html = text_of(page.save().get_data(as_text=True))
    assert stored(app, 12).license_name == "DEA registration"  # type: ignore[union-attr]
    assert "This key is taken by another license; clear it to get a free key." in html
    assert "Another row of this grid has the same key" not in html


def test_a_key_of_another_provider_credential_is_refused(
    app: Any, cred: int, make_cred: Any, put_licenses: Any, login: Any, open_grid: Any
) -> None:
    make_cred(2)
    put_licenses(2, {"providerCredLicense_Key": 21, "license_Name": "Theirs"})
    login()
    page = open_grid(cred)
    page.set(page.blank_rows()[0], providerCredLicense_Key="21", license_Name="Mine")
    html = page.save().get_data(as_text=True)
    assert stored(app, 21).license_name == "Theirs"  # type: ignore[union-attr]
    assert "belongs to a license of another provider credential" in text_of(html)
    assert "Mine" in html


def test_a_time_of_day_survives_the_grid(
    app: Any, cred: int, put_licenses: Any, login: Any, open_grid: Any
) -> None:
    put_licenses(1, {"providerCredLicense_Key": 30, "term_Date": "2030-06-01T15:30:00Z"})
    login()
    page = open_grid(cred)
    row = page.row(30)
    assert page.fields[f"{row}-term_Date"] == "06/01/2030 15:30"
    page.set(row, license_Name="Touched")
    assert page.save().status_code == 200
    assert stored(app, 30).term_date == datetime(2030, 6, 1, 15, 30)  # type: ignore[union-attr]


# ---------------------------------------------------------------------------------------------
# Lost-update protection


@pytest.fixture
def opened_before_bob_renamed_11(
    cred: int, login: Any, open_grid: Any, put_licenses: Any
) -> GridPage:
    """Alice's grid, opened before Bob changed license 11's name and number."""
    login()
    page = open_grid(cred)
    put_licenses(
        1,
        {"providerCredLicense_Key": 11, "license_Name": "Bob's name", "license_Number": "MD-111"},
        actor="bob",
    )
    return page


def test_a_cell_both_people_changed_is_a_conflict_that_needs_a_choice(
    app: Any, opened_before_bob_renamed_11: GridPage
) -> None:
    page = opened_before_bob_renamed_11
    row = page.row(11)
    page.set(row, license_Name="Alice's name")
    response = page.save()

    assert response.status_code == 422
    assert stored(app, 11).license_name == "Bob's name"  # type: ignore[union-attr]
    html = response.get_data(as_text=True)
    after = GridPageFrom(page, html)
    mine = after.row(11)
    assert after.fields[f"{mine}-license_Name"] == "Alice's name"  # what Alice typed, kept
    # Rebased on the stored row: its version, and only the cell both changed in conflict.
    assert after.fields[f"{mine}-version"] == stored(app, 11).update_date.isoformat()  # type: ignore[union-attr]
    assert after.fields[f"{mine}-conflicts"] == "license_Name"
    stored_row = re.search(r'<tr class="conflict-stored">.*?</tr>', html, re.S)
    assert stored_row is not None
    assert "Bob&#39;s name" in stored_row.group(0)
    assert re.search(r'<td class="col-name differs">', stored_row.group(0))
    assert "bob changed the marked cells too" in text_of(html)
    assert GridAfter(html).badge(11) == "Conflict"

    # Saving again without a choice writes nothing and asks for one, on the cell...
    again = after.save()
    assert again.status_code == 422
    assert stored(app, 11).license_name == "Bob's name"  # type: ignore[union-attr]
    assert cell_error(again.get_data(as_text=True), f"{mine}-license_Name").startswith(
        "Changed by someone else too"
    )
    # ...choosing "My values" (on the grid that answered) writes Alice's name.
    asked = GridPageFrom(after, again.get_data(as_text=True))
    asked.set(asked.row(11), resolve="mine")
    final = asked.save()
    assert final.status_code == 200
    assert stored(app, 11).license_name == "Alice's name"  # type: ignore[union-attr]
    assert GridAfter(final.get_data(as_text=True)).badge(11) == "Updated"


def test_choosing_their_values_keeps_theirs_and_applies_my_other_cells(
    app: Any, opened_before_bob_renamed_11: GridPage
) -> None:
    page = opened_before_bob_renamed_11
    row = page.row(11)
    page.set(row, license_Name="Alice's name", specialty_Code="FM")
    after = GridPageFrom(page, page.save().get_data(as_text=True))
    after.set(after.row(11), resolve="theirs")
    assert after.save().status_code == 200
    license = stored(app, 11)
    assert license is not None
    assert (license.license_name, license.specialty_code) == ("Bob's name", "FM")


def test_changes_to_different_cells_merge_without_reverting_anyone(
    app: Any, cred: int, login: Any, open_grid: Any, put_licenses: Any
) -> None:
    login()
    page = open_grid(cred)
    # Bob records a PSV date (and keeps everything else) after Alice loaded the grid.
    put_licenses(
        1,
        {
            "providerCredLicense_Key": 11,
            "credLicenseType_Key": 1,
            "license_Name": "Medical license",
            "license_Number": "MD-111",
            "state": "CA",
            "effective_Date": "2024-01-01",
            "term_Date": "2030-01-01",
            "psV_Date": "2026-01-15",
        },
        actor="bob",
    )
    page.set(page.row(11), license_Number="MD-222")
    response = page.save()
    assert response.status_code == 200
    license = stored(app, 11)
    assert license is not None
    assert license.license_number == "MD-222"  # Alice's change
    assert license.psv_date == datetime(2026, 1, 15)  # Bob's change, not reverted
    assert license.update_user == "alice"
    assert GridAfter(response.get_data(as_text=True)).badge(11) == "Updated"
    updates = [c.changes for c in changes_of(app, 11) if c.action == "updated"]
    assert updates[-1] == {"license_Number": ["MD-111", "MD-222"]}


def test_an_untouched_row_changed_by_someone_else_is_refreshed_not_a_conflict(
    app: Any, cred: int, login: Any, open_grid: Any, put_licenses: Any
) -> None:
    login()
    page = open_grid(cred)
    put_licenses(1, {"providerCredLicense_Key": 12, "license_Name": "Bob's"}, actor="bob")
    page.set(page.row(11), license_Name="Mine")
    response = page.save()
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    after = GridPageFrom(page, html)
    assert after.fields[f"{after.row(12)}-license_Name"] == "Bob's"
    assert GridAfter(html).badge(12) == "Refreshed"
    assert "Changed by bob since you loaded the page" in text_of(html)


def test_a_hand_typed_key_taken_meanwhile_is_an_error_on_the_key(
    app: Any, cred: int, login: Any, open_grid: Any, put_licenses: Any
) -> None:
    login()
    page = open_grid(cred)
    page.set(page.blank_rows()[0], providerCredLicense_Key="700", license_Name="Alice's 700")
    put_licenses(1, {"providerCredLicense_Key": 700, "license_Name": "Bob's 700"}, actor="bob")
    html = page.save().get_data(as_text=True)
    assert stored(app, 700).license_name == "Bob's 700"  # type: ignore[union-attr]
    assert "This key is taken by another license; clear it to get a free key." in text_of(html)
    assert "Alice&#39;s 700" in html


def test_a_new_row_gets_a_free_key_even_when_others_took_the_next_one(
    app: Any, cred: int, login: Any, open_grid: Any, put_licenses: Any
) -> None:
    login()
    page = open_grid(cred)
    put_licenses(1, {"providerCredLicense_Key": 13, "license_Name": "Bob's 13"}, actor="bob")
    page.set(page.blank_rows()[0], license_Name="Alice's")
    assert page.save().status_code == 200
    assert stored(app, 13).license_name == "Bob's 13"  # type: ignore[union-attr]
    assert stored(app, 14).license_name == "Alice's"  # type: ignore[union-attr]


def test_a_hand_typed_key_is_honoured(app: Any, cred: int, login: Any, open_grid: Any) -> None:
    login()
    page = open_grid(cred)
    page.set(page.blank_rows()[0], providerCredLicense_Key="90001", license_Name="Typed key")
    assert page.save().status_code == 200
    assert stored(app, 90001).license_name == "Typed key"  # type: ignore[union-attr]


def test_deleting_a_row_changed_meanwhile_is_a_conflict(
    app: Any, cred: int, login: Any, open_grid: Any, put_licenses: Any
) -> None:
    login()
    page = open_grid(cred)
    put_licenses(1, {"providerCredLicense_Key": 12, "license_Name": "Changed"}, actor="bob")
    page.tick(page.row(12), "delete")
    html = page.save().get_data(as_text=True)
    assert stored(app, 12) is not None
    assert GridAfter(html).badge(12) == "Conflict"
    assert "Tick Delete and Save to delete it anyway" in text_of(html)
    after = GridPageFrom(page, html)
    assert after.fields[f"{after.row(12)}-license_Name"] == "Changed"  # the stored values
    after.tick(after.row(12), "delete")
    assert after.save().status_code == 200
    assert stored(app, 12) is None


def test_editing_a_row_deleted_meanwhile_offers_to_create_it_again(
    app: Any, cred: int, login: Any, open_grid: Any
) -> None:
    login()
    page = open_grid(cred)
    with app.app_context(), session_scope("main") as session:
        delete_licenses(session, 1, [12], actor="bob", activity_id="x")
    row = page.row(12)
    page.set(row, license_Name="Still needed")
    html = page.save().get_data(as_text=True)
    assert stored(app, 12) is None
    assert "Deleted by someone else since you loaded it." in text_of(html)
    after = GridPageFrom(page, html)
    assert after.fields[f"{after.row(12)}-version"] == ""  # now a new row with its key
    assert after.save().status_code == 200
    assert stored(app, 12).license_name == "Still needed"  # type: ignore[union-attr]


def test_a_forged_version_is_refused_without_writing(
    app: Any, cred: int, login: Any, open_grid: Any
) -> None:
    login()
    page = open_grid(cred)
    row = page.row(11)
    page.set(row, license_Name="Forged", version="not-a-date")
    html = page.save().get_data(as_text=True)
    assert stored(app, 11).license_name == "Medical license"  # type: ignore[union-attr]
    assert "unreadable row version" in text_of(html)


@pytest.mark.parametrize("forged", ["abc", "99999999999", "-2147483649"])
@pytest.mark.parametrize("delete", [False, True])
def test_a_forged_key_on_a_loaded_row_is_an_error_on_that_cell(
    app: Any, cred: int, login: Any, open_grid: Any, delete: bool, forged: str
) -> None:
    """Not a key, or a number no key can be (beyond 32 bits: PostgreSQL refused the delete's
    key set with a DataError, a 500)."""
    login()
    page = open_grid(cred)
    row = page.row(11)
    page.set(row, providerCredLicense_Key=forged, license_Name="Forged")
    if delete:
        page.tick(row, "delete")
    response = page.save()
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert cell_error(html, f"{row}-providerCredLicense_Key") == LOCKED_KEY
    assert stored(app, 11).license_name == "Medical license"  # type: ignore[union-attr]


# ---------------------------------------------------------------------------------------------
# Output escaping, roles, CSRF


def test_script_in_a_license_name_is_escaped(
    cred: int, login: Any, open_grid: Any, put_licenses: Any, client: Any
) -> None:
    evil = '<script>alert("x")</script>'
    put_licenses(
        1, {"providerCredLicense_Key": 40, "license_Name": evil, "license_Number": evil[:50]}
    )
    login()
    page = open_grid(cred)
    assert "<script>alert" not in page.html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page.html
    assert page.fields[f"{page.row(40)}-license_Name"] == evil
    # Typed into a failing row, it comes back escaped too.
    page.set(page.blank_rows()[0], license_Name=evil, state="ZZ")
    html = page.save().get_data(as_text=True)
    assert "<script>alert" not in html
    history = client.get("/ui/licenses/40/history").get_data(as_text=True)
    assert "<script>alert" not in history and "&lt;script&gt;" in history
    expiring = client.get("/ui/licenses/expiring?show=psvOverdue").get_data(as_text=True)
    assert "<script>alert" not in expiring and "&lt;script&gt;" in expiring


def test_viewer_sees_the_licenses_read_only(cred: int, login: Any, client: Any) -> None:
    login("victor", role="viewer")
    response = client.get("/ui/credentials/1/licenses")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Medical license" in html and "MD-111" in html
    assert 'id="grid-form"' not in html
    assert ">Save<" not in html
    assert "<input" not in html.split("<main", 1)[1].split("</main>", 1)[0]
    assert "role (viewer) cannot change them" in text_of(html)


def test_viewer_forged_post_is_403_and_writes_nothing(
    app: Any, cred: int, login: Any, client: Any, make_user: Any, open_grid: Any
) -> None:
    editor_client = app.test_client()
    make_user("eddie", "correct horse", "editor")
    editor_client.post(
        "/ui/login", data={"username": "eddie", "password": "correct horse", "database": "main"}
    )
    page = open_grid(cred, viewer=editor_client)
    page.set(page.row(11), license_Name="By a viewer")
    page.set(page.blank_rows()[0], license_Name="New by a viewer")
    page.tick(page.row(12), "delete")

    login("victor", role="viewer")
    response = client.post("/ui/credentials/1/licenses", data=page.fields)
    assert response.status_code == 403
    assert response.mimetype == "text/html"
    assert "viewer" in response.get_data(as_text=True)
    assert stored(app, 11).license_name == "Medical license"  # type: ignore[union-attr]
    assert stored(app, 12) is not None
    assert stored(app, 13) is None


def test_a_role_change_takes_effect_on_the_next_request(
    app: Any, cred: int, login: Any, open_grid: Any
) -> None:
    from app.auth.models import StaffUser

    login()
    page = open_grid(cred)
    with app.app_context(), session_scope("main") as session:
        session.scalars(
            select(StaffUser).where(StaffUser.username == "alice")
        ).one().role = "viewer"
        session.commit()
    page.set(page.row(11), license_Name="Too late")
    assert page.save().status_code == 403


@pytest.fixture
def csrf_app(app_config: dict[str, Any]) -> Iterator[Any]:
    application = create_app({**app_config, "WTF_CSRF_ENABLED": True})
    yield application
    dispose_engines(application)


def test_csrf_token_is_required_when_enabled(
    csrf_app: Any, make_user: Any, make_cred: Any, make_license_type: Any
) -> None:
    make_user("alice", "correct horse", "editor")
    make_cred(1)
    client = csrf_app.test_client()

    login_page = client.get("/ui/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', login_page)
    assert token is not None
    credentials = {"username": "alice", "password": "correct horse", "database": "main"}
    refused = client.post("/ui/login", data=credentials)
    assert refused.status_code == 400
    assert "The form has expired" in refused.get_data(as_text=True)
    assert (
        client.post("/ui/login", data={**credentials, "csrf_token": token.group(1)}).status_code
        == 302
    )

    grid = GridPage(client, 1, client.get("/ui/credentials/1/licenses").get_data(as_text=True))
    assert grid.fields["csrf_token"]
    grid.set(grid.blank_rows()[0], license_Name="With token?")
    without = dict(grid.fields)
    del without["csrf_token"]
    response = client.post("/ui/credentials/1/licenses", data=without)
    assert response.status_code == 400
    # The grid's own words: what was typed is in this tab, and the way back to the grid.
    refused_save = response.get_data(as_text=True)
    assert "Nothing you typed is lost either: this tab keeps it." in refused_save
    assert '<a href="/ui/credentials/1/licenses">Open the grid again</a>' in refused_save
    with csrf_app.app_context(), session_scope("main") as session:
        assert session.scalars(select(ProviderCredLicense)).first() is None
    wrong = {**grid.fields, "csrf_token": "forged"}
    assert client.post("/ui/credentials/1/licenses", data=wrong).status_code == 400

    assert grid.save().status_code == 200
    with csrf_app.app_context(), session_scope("main") as session:
        assert session.scalars(select(ProviderCredLicense.license_name)).all() == ["With token?"]

    assert client.post("/ui/logout").status_code == 400  # logging out needs the token too
    assert client.get("/ui/credentials").status_code == 200


def test_a_refused_save_of_a_later_page_leads_back_to_that_page(
    csrf_app: Any, make_user: Any, make_cred: Any
) -> None:
    """The tab keeps a Save's rows under its page of the grid (``data-draft-scope``), and only
    that page offers them back: "Open the grid again" must open it, not page 1."""
    make_user("alice", "correct horse", "editor")
    make_cred(1)
    client = csrf_app.test_client()
    token = re.search(
        r'name="csrf_token" type="hidden" value="([^"]+)"', client.get("/ui/login").text
    )
    assert token is not None
    credentials = {"username": "alice", "password": "correct horse", "database": "main"}
    assert client.post("/ui/login", data={**credentials, "csrf_token": token[1]}).status_code == 302
    response = client.post("/ui/credentials/1/licenses?page=3", data={"csrf_token": "expired"})
    assert response.status_code == 400
    assert '<a href="/ui/credentials/1/licenses?page=3">Open the grid again</a>' in response.text


# ---------------------------------------------------------------------------------------------
# Reading a page after Save


class GridAfter:
    """The outcome badges of a grid page, by license key."""

    def __init__(self, html: str) -> None:
        self.html = html

    def badge(self, license_key: int) -> str | None:
        for row in re.findall(r"<tr[^>]*class=\"grid-row[^\"]*\".*?</tr>", self.html, re.S):
            key_cell = re.search(r'data-kind="key" value="([^"]*)"', row) or re.search(
                r'<td class="col-key">([^<]*)</td>', row
            )
            if key_cell and key_cell.group(1).strip() == str(license_key):
                badge = re.search(r'<span class="badge [^"]*">([^<]+)</span>', row)
                return badge.group(1) if badge else None
        raise LookupError(license_key)


def GridPageFrom(page: Any, html: str) -> Any:  # noqa: N802 - reads like a constructor
    return type(page)(page.client, page.provider_cred_key, html)


def test_a_large_grid_saves(
    app: Any, make_cred: Any, put_licenses: Any, login: Any, open_grid: Any
) -> None:
    """A full page of a hundred rows (a configured size) posts ~1,300 form fields: more than
    Werkzeug's default limit."""
    app.config["GRID_PAGE_SIZE"] = 100
    make_cred(5)
    put_licenses(5, *({"providerCredLicense_Key": 1000 + n, "state": "NY"} for n in range(120)))
    login()
    page = open_grid(5)
    assert len(page.prefixes) == 100 + app.config["GRID_BLANK_ROWS"]  # one page
    page.set(page.row(1099), license_Number="LAST-ROW")
    response = page.save()
    assert response.status_code == 200
    assert stored(app, 1099).license_number == "LAST-ROW"
