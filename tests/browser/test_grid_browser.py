"""What a person sees and does in the grid, in Chromium: edit, add, paste, errors, conflicts."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from app.licenses.models import ProviderCredLicense
from app.tenancy import session_scope
from tests.browser_support import paste


@pytest.fixture
def cred(make_cred: Any, make_license_type: Any, put_licenses: Any) -> int:
    make_license_type(1, display="MD")
    make_license_type(2, display="DEA")
    make_cred(1, provider_id="PRV00001")
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
        },
        {"providerCredLicense_Key": 12, "license_Name": "DEA registration", "state": "NY"},
    )
    return 1


def stored(app: Any, key: int) -> ProviderCredLicense | None:
    with app.app_context(), session_scope("main") as session:
        return session.get(ProviderCredLicense, key)


def row_of(page: Any, key: int) -> Any:
    """The grid row whose key cell holds ``key``."""
    return page.locator("tr[data-row]").filter(
        has=page.locator(f'input[data-kind="key"][value="{key}"]')
    )


def cell(page: Any, row: int, name: str) -> Any:
    return page.locator(f'[name="rows-{row}-{name}"]')


def test_log_in_edit_add_a_row_and_save(
    app: Any, cred: int, logged_in: Any, screenshot: Any, axe_clean: Any
) -> None:
    page = logged_in()
    axe_clean(page, "the credential list")
    page.get_by_role("link", name="PRV00001").click()
    expect(page.get_by_role("heading", name="Licenses of PRV00001")).to_be_visible()
    axe_clean(page, "the grid")

    number = page.get_by_label("Number, license 11")
    number.fill("MD-999")
    expect(row_of(page, 11)).to_have_class(re.compile("is-dirty"))

    blank_rows = page.locator("tr[data-row].is-new").count()
    page.get_by_role("button", name="Add row").click()
    expect(page.locator("tr[data-row].is-new")).to_have_count(blank_rows + 1)
    new_row = page.locator("tr[data-row].is-new").last
    # No key to manage: the key cell is empty and says the server assigns one.
    expect(new_row.locator('input[data-kind="key"]')).to_have_value("")
    expect(new_row.locator('input[data-kind="key"]')).to_have_attribute("placeholder", "auto")
    key = "13"  # one past the highest key in use, assigned on Save
    expect(new_row.locator('select[data-kind="type"]')).to_be_focused()
    new_row.locator('select[data-kind="type"]').select_option(label="DEA")
    new_row.get_by_label(re.compile("^License name")).fill("Added in the browser")
    new_row.get_by_label(re.compile("^State")).fill("TX")
    new_row.get_by_label(re.compile("^Effective")).fill("2024-03-01")

    page.get_by_role("button", name="Save").click()
    summary = page.locator("#save-summary")
    expect(summary).to_contain_text("Saved")
    expect(summary).to_contain_text("1 created · 1 updated")
    expect(summary).to_be_focused()
    axe_clean(page, "the grid after a Save")
    expect(row_of(page, 11).locator(".badge")).to_have_text("Updated")
    expect(row_of(page, int(key)).locator(".badge")).to_have_text("Created")
    screenshot(page, "grid-after-save")

    assert stored(app, 11).license_number == "MD-999"  # type: ignore[union-attr]
    added = stored(app, int(key))
    assert added is not None
    assert (added.license_name, added.state, added.cred_license_type_key) == (
        "Added in the browser",
        "TX",
        2,
    )
    assert added.entry_user == "alice"


def test_pasted_invalid_state_shows_the_error_on_the_cell_and_keeps_the_input(
    app: Any, cred: int, logged_in: Any, screenshot: Any, axe_clean: Any
) -> None:
    page = logged_in()
    page.goto("/ui/credentials/1/licenses")
    first_blank = page.locator("tr[data-row].is-new").first
    first_blank.get_by_label(re.compile("^License name")).focus()
    paste(page, "Typed license\tN-77\tZZ\tFM")

    state = first_blank.get_by_label(re.compile("^State"))
    expect(state).to_have_value("ZZ")
    page.get_by_role("button", name="Save").click()

    expect(page.locator("#save-summary")).to_contain_text("1 row not saved")
    row = page.locator("tr[data-row].outcome-invalid")
    expect(row).to_have_count(1)
    state = row.get_by_label(re.compile("^State"))
    expect(state).to_have_value("ZZ")
    expect(state).to_have_attribute("aria-invalid", "true")
    error_id = state.get_attribute("aria-describedby")
    expect(page.locator(f"#{error_id}")).to_contain_text(
        "Enter a state as its 2-letter code or full name, e.g. TX or Texas"
    )
    expect(row.get_by_label(re.compile("^License name"))).to_have_value("Typed license")
    expect(row.get_by_label(re.compile("^Number"))).to_have_value("N-77")
    expect(row.get_by_label(re.compile("^Specialty"))).to_have_value("FM")
    screenshot(page, "grid-invalid-state")
    axe_clean(page, "the grid with a cell in error")
    assert stored(app, 13) is None

    # Fix the one cell and Save again: the kept row goes through.
    state.fill("WA")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#save-summary")).to_contain_text("1 created")
    assert stored(app, 13).state == "WA"  # type: ignore[union-attr]


def test_conflict_between_two_browsers(
    app: Any, cred: int, logged_in: Any, screenshot: Any, axe_clean: Any
) -> None:
    alice = logged_in("alice")
    bob = logged_in("bob")
    alice.goto("/ui/credentials/1/licenses")
    bob.goto("/ui/credentials/1/licenses")

    bob.get_by_label("License name, license 11").fill("Bob's edit")
    bob.get_by_role("button", name="Save").click()
    expect(bob.locator("#save-summary")).to_contain_text("1 updated")

    alice.get_by_label("License name, license 11").fill("Alice's edit")
    alice.get_by_role("button", name="Save").click()
    expect(alice.locator("#save-summary")).to_contain_text("1 row not saved")
    row = row_of(alice, 11)
    expect(row.locator(".badge")).to_have_text("Conflict")
    expect(alice.get_by_label("License name, license 11")).to_have_value("Alice's edit")
    stored_row = alice.locator("tr.conflict-stored")
    expect(stored_row).to_contain_text("Bob's edit")
    expect(stored_row.locator("td.differs")).to_have_count(1)
    expect(alice.locator("tr.row-detail")).to_contain_text("bob changed the marked cells too")
    screenshot(alice, "grid-conflict")
    axe_clean(alice, "the grid with a conflict")
    assert stored(app, 11).license_name == "Bob's edit"  # type: ignore[union-attr]

    # Ctrl+Enter from a cell of the conflicting row reaches its choice, not the Save bar.
    alice.get_by_label("License name, license 11").focus()
    alice.keyboard.press("Control+Enter")
    expect(alice.get_by_label("My values")).to_be_focused()
    alice.keyboard.press("Space")
    expect(alice.get_by_label("My values")).to_be_checked()
    alice.get_by_label("My values").check()
    alice.get_by_role("button", name="Save").click()
    expect(row_of(alice, 11).locator(".badge")).to_have_text("Updated")
    assert stored(app, 11).license_name == "Alice's edit"  # type: ignore[union-attr]


def test_paste_of_spreadsheet_cells_fills_and_adds_rows_then_keys_move(
    app: Any, cred: int, logged_in: Any, screenshot: Any
) -> None:
    page = logged_in()
    page.goto("/ui/credentials/1/licenses")
    blank = page.locator("tr[data-row].is-new")
    blanks = blank.count()
    first_key = blank.first.locator('input[data-kind="key"]')
    first_key.focus()
    lines = [
        f"{100 + i}\tMD\tPasted {i}\tP-{i}\tny\tIM\t1/15/2024\t2026-12-31\t2024-06-01"
        for i in range(blanks + 2)
    ]
    lines[1] = '101\tDEA\t"Quoted\ttab"\tP-1\tWA\tIM\t2024-02-01\t\t'
    paste(page, "\r\n".join(lines) + "\r\n")

    expect(page.locator("tr[data-row].is-new")).to_have_count(blanks + 2)  # rows were added
    row0 = page.locator("tr[data-row].is-new").first
    expect(row0.locator('input[data-kind="key"]')).to_have_value("100")
    expect(row0.locator('select[data-kind="type"]')).to_have_value("1")  # "MD" → its key
    expect(row0.get_by_label(re.compile("^State"))).to_have_value("NY")
    expect(row0.get_by_label(re.compile("^Effective"))).to_have_value("01/15/2024")
    row1 = page.locator("tr[data-row].is-new").nth(1)
    expect(row1.get_by_label(re.compile("^License name"))).to_have_value("Quoted\ttab")
    expect(row1.locator('select[data-kind="type"]')).to_have_value("2")
    assert stored(app, 100) is None  # nothing is saved before Save

    # Arrow keys and Enter move like a spreadsheet; Enter never submits the form.
    name = row0.get_by_label(re.compile("^License name"))
    name.focus()
    page.keyboard.press("Enter")
    expect(row1.get_by_label(re.compile("^License name"))).to_be_focused()
    page.keyboard.press("ArrowUp")
    expect(name).to_be_focused()
    page.keyboard.press("End")
    page.keyboard.press("ArrowRight")
    expect(row0.get_by_label(re.compile("^Number"))).to_be_focused()
    page.keyboard.press("ArrowLeft")  # the caret is not at the start: stays in the cell
    expect(row0.get_by_label(re.compile("^Number"))).to_be_focused()
    page.keyboard.press("ArrowDown")
    expect(row1.get_by_label(re.compile("^Number"))).to_be_focused()
    assert page.locator("#save-summary").count() == 0
    screenshot(page, "grid-pasted")

    page.get_by_role("button", name="Save").click()
    expect(page.locator("#save-summary")).to_contain_text(f"{blanks + 2} created")
    first = stored(app, 100)
    assert first is not None
    assert (first.state, first.cred_license_type_key, first.specialty_code) == ("NY", 1, "IM")
    assert first.effective_date is not None and first.effective_date.isoformat() == (
        "2024-01-15T00:00:00"
    )
    assert stored(app, 101).license_name == "Quoted\ttab"  # type: ignore[union-attr]


def test_viewer_gets_no_save_button(cred: int, logged_in: Any) -> None:
    page = logged_in("victor", role="viewer")
    page.goto("/ui/credentials/1/licenses")
    expect(page.get_by_text("Medical license")).to_be_visible()
    expect(page.get_by_role("button", name="Save")).to_have_count(0)
    expect(page.locator("input[data-col]")).to_have_count(0)


def test_one_save_with_every_kind_of_outcome(app: Any, logged_in: Any, screenshot: Any) -> None:
    """The demo data, one Save: an update, a create, a delete and a row in error, side by side."""
    from app.demo.seed import seed_demo_data

    with app.app_context(), session_scope("main") as session:
        seed_demo_data(session, providers=8)
    page = logged_in()
    page.goto("/ui/credentials/1004/licenses")
    rows = page.locator("tr[data-row]:not(.is-new)")
    assert rows.count() >= 3
    first_key = int(rows.nth(0).locator('input[data-kind="key"]').input_value())
    last_key = int(rows.nth(rows.count() - 1).locator('input[data-kind="key"]').input_value())
    page.get_by_label(f"Number, license {first_key}").fill("MD-CA-100200")
    page.get_by_label(f"Delete license {last_key}").check()
    blank = page.locator("tr[data-row].is-new")
    blank.nth(0).get_by_label(re.compile("^Type")).focus()
    paste(
        page,
        "MD\tMedical Doctor (state medical license)\tMD-NV-778812\tNV\tFM\t2025-02-01\t2028-01-31\n"
        "DEA\tDEA controlled-substance registration\tDEA-XX-1\tXX\tFM\t2025-03-01\t2025-01-01",
    )
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#save-summary")).to_contain_text("1 row not saved")
    expect(page.locator("#save-summary")).to_contain_text("1 created · 1 updated · 1 deleted")
    expect(row_of(page, first_key).locator(".badge")).to_have_text("Updated")
    expect(page.locator("tr.static-row .badge")).to_have_text("Deleted")
    expect(page.locator("tr[data-row].outcome-invalid")).to_have_count(1)
    page.locator("#save-summary").evaluate("el => el.blur()")
    page.set_viewport_size({"width": 1280, "height": 860})
    screenshot(page, "grid-readme")
    assert stored(app, last_key) is None


def test_a_value_over_a_cells_limit_is_kept_and_flagged_not_cut(
    app: Any, cred: int, logged_in: Any
) -> None:
    page = logged_in()
    page.goto("/ui/credentials/1/licenses")
    number = page.get_by_label("Number, license 11")
    long_number = "LIC-" + "9" * 60
    number.fill(long_number)
    expect(number).to_have_value(long_number)  # not cut to 50 characters
    expect(page.locator(f"#{number.get_attribute('id')}-error")).to_have_text(
        "Too long: shorten it to at most 50 characters."
    )
    number.fill("MD-112")
    expect(page.locator(f"#{number.get_attribute('id')}-error")).to_have_count(0)
    page.get_by_role("button", name="Save").first.click()
    expect(page.get_by_role("status").filter(has_text="Saved")).to_be_visible()
    stored_license = stored(app, 11)
    assert stored_license is not None and stored_license.license_number == "MD-112"


@pytest.mark.parametrize(
    ("cell", "clipboard", "expected"),
    [
        # Several cells: a text input dropped the line break ("Medicallicense").
        ("License name, license 11", '"Medical\nlicense"\tMD-112\n', "Medical license"),
        # One cell, which a spreadsheet quotes: left to the browser, it kept the quotes.
        ("Number, license 11", '"MD\n112"\n', "MD 112"),
    ],
)
def test_a_pasted_cell_of_several_lines_becomes_one_line_of_its_words(
    cred: int, logged_in: Any, cell: str, clipboard: str, expected: str
) -> None:
    page = logged_in()
    page.goto("/ui/credentials/1/licenses")
    target = page.get_by_label(cell)
    target.focus()
    paste(page, clipboard)
    expect(target).to_have_value(expected)


def test_a_date_in_the_first_century_is_read_as_typed(cred: int, logged_in: Any) -> None:
    """``Date.UTC`` read the years 0-99 as 1900-1999, so 01/01/0001 was refused in the page
    while the server accepts it."""
    page = logged_in()
    page.goto("/ui/credentials/1/licenses")
    effective = page.get_by_label("Effective, license 11")
    effective.fill("01/01/0001")
    effective.blur()
    expect(effective).to_have_value("01/01/0001")
    expect(page.locator(f"#{effective.get_attribute('id')}-error")).to_have_count(0)
