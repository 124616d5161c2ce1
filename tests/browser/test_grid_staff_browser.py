"""Issue 13 as a person does it in Chromium: an impossible date, two people adding at once, a
per-cell merge, Ctrl+S and the Save bar, a 390 px phone, a spreadsheet import. axe-core finds
no violation in any state visited."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from app.audit import utcnow
from app.demo.seed import seed_demo_data
from app.licenses.models import ProviderCredLicense
from app.tenancy import session_scope
from tests.browser_support import paste

GRID = "/ui/credentials/1/licenses"


@pytest.fixture
def cred(make_cred: Any, make_license_type: Any, put_licenses: Any) -> int:
    make_license_type(1, display="MD")
    make_cred(1, provider_id="PRV00001")
    soon = (utcnow() + timedelta(days=20)).strftime("%Y-%m-%d")
    put_licenses(
        1,
        {
            "providerCredLicense_Key": 11,
            "credLicenseType_Key": 1,
            "license_Name": "Medical license",
            "license_Number": "MD-111",
            "state": "CA",
            "effective_Date": "2024-01-01",
            "term_Date": "2027-02-12",
        },
        {"providerCredLicense_Key": 12, "license_Name": "DEA registration", "term_Date": soon},
        {"providerCredLicense_Key": 13, "license_Name": "No end"},
    )
    return 1


def stored(app: Any, key: int) -> ProviderCredLicense | None:
    with app.app_context(), session_scope("main") as session:
        return session.get(ProviderCredLicense, key)


def row_of(page: Any, key: int) -> Any:
    return page.locator("tr[data-row]").filter(
        has=page.locator(f'input[data-kind="key"][value="{key}"]')
    )


def test_an_impossible_date_blocks_save_and_never_erases_the_stored_one(
    app: Any, cred: int, logged_in: Any, axe_clean: Any, screenshot: Any
) -> None:
    page = logged_in()
    page.goto(GRID)
    term = page.get_by_label("Term, license 11")
    expect(term).to_have_value("02/12/2027")
    term.fill("")
    term.type("02/30/2027")
    page.get_by_role("button", name="Save").click()

    # Blocked in the browser: still on the grid, the error on the cell, nothing sent.
    error_id = term.get_attribute("aria-describedby")
    expect(page.locator(f"#{error_id}")).to_have_text("Enter a real date, e.g. 03/31/2027.")
    expect(term).to_have_attribute("aria-invalid", "true")
    expect(term).to_be_focused()
    expect(term).to_have_value("02/30/2027")
    assert page.locator("#save-summary").count() == 0
    assert stored(app, 11).term_date == datetime(2027, 2, 12)  # type: ignore[union-attr]
    screenshot(page, "grid-impossible-date")
    axe_clean(page, "the grid with an impossible date")

    # Corrected, it saves; the error goes away.
    term.fill("03/31/2027")
    page.get_by_role("button", name="Save").click()
    expect(row_of(page, 11).locator(".badge")).to_have_text("Updated")
    assert stored(app, 11).term_date == datetime(2027, 3, 31)  # type: ignore[union-attr]


def test_the_server_refuses_an_impossible_date_too(
    app: Any, cred: int, logged_in: Any, browser: Any, live_server: str, axe_clean: Any
) -> None:
    """Without the page's script the form posts the text as typed; the server says the same."""
    page = logged_in()
    cookies = page.context.cookies()
    context = browser.new_context(base_url=live_server, java_script_enabled=False)
    try:
        context.add_cookies(cookies)
        plain = context.new_page()
        plain.goto(GRID)
        plain.get_by_label("Term, license 11").fill("02/30/2027")
        plain.get_by_role("button", name="Save").click()
        expect(plain.locator("#save-summary")).to_contain_text("1 row not saved")
        term = plain.get_by_label("Term, license 11")
        expect(term).to_have_value("02/30/2027")
        error_id = term.get_attribute("aria-describedby")
        expect(plain.locator(f"#{error_id}")).to_have_text("Enter a real date, e.g. 03/31/2027.")
        assert stored(app, 11).term_date == datetime(2027, 2, 12)  # type: ignore[union-attr]
    finally:
        context.close()


def test_two_people_add_a_license_at_the_same_moment(
    app: Any, cred: int, logged_in: Any, axe_clean: Any
) -> None:
    alice, bob = logged_in("alice"), logged_in("bob")
    for page, number in ((alice, "ALICE-1"), (bob, "BOB-1")):
        page.goto(GRID)
        blank = page.locator("tr[data-row].is-new").first
        expect(blank.locator('input[data-kind="key"]')).to_have_value("")  # no key to invent
        blank.get_by_label(re.compile("^Number")).fill(number)
    # Both press Save together.
    alice.evaluate("document.getElementById('grid-form').requestSubmit()")
    bob.evaluate("document.getElementById('grid-form').requestSubmit()")
    for page in (alice, bob):
        expect(page.locator("#save-summary")).to_contain_text("1 created")
    axe_clean(alice, "the grid after adding a license")
    with app.app_context(), session_scope("main") as session:
        rows = session.query(ProviderCredLicense).filter(
            ProviderCredLicense.license_number.in_(["ALICE-1", "BOB-1"])
        )
        keys = sorted(row.provider_cred_license_key for row in rows)
    assert keys == [14, 15]


def test_changes_to_different_cells_merge_and_a_shared_cell_asks(
    app: Any, cred: int, logged_in: Any, axe_clean: Any, screenshot: Any
) -> None:
    alice, bob = logged_in("alice"), logged_in("bob")
    alice.goto(GRID)
    bob.goto(GRID)
    bob.get_by_label("PSV, license 11").fill("11/01/2026")
    bob.get_by_label("Specialty, license 11").fill("IM")
    bob.get_by_role("button", name="Save").click()
    expect(bob.locator("#save-summary")).to_contain_text("1 updated")

    # Alice changed the number only: her Save merges onto Bob's row, reverting nothing.
    alice.get_by_label("Number, license 11").fill("MD-222")
    alice.get_by_label("Specialty, license 11").fill("FM")  # Bob changed this one too
    alice.get_by_role("button", name="Save").click()
    expect(alice.locator("#save-summary")).to_contain_text("1 row not saved")
    detail = alice.locator("tr.row-detail")
    expect(detail).to_contain_text("bob changed the marked cells too")
    expect(alice.locator("tr.conflict-stored td.differs")).to_have_count(1)
    expect(alice.get_by_label("PSV, license 11")).to_have_value("11/01/2026")  # Bob's, kept
    expect(alice.get_by_label("Number, license 11")).to_have_value("MD-222")  # hers, kept
    screenshot(alice, "grid-per-cell-conflict")
    axe_clean(alice, "the grid with a per-cell conflict")
    assert stored(app, 11).specialty_code == "IM"  # type: ignore[union-attr]

    alice.get_by_label(re.compile("^Their values")).check()
    alice.get_by_role("button", name="Save").click()
    expect(row_of(alice, 11).locator(".badge")).to_have_text("Updated")
    license = stored(app, 11)
    assert license is not None
    assert (license.license_number, license.specialty_code) == ("MD-222", "IM")
    assert license.psv_date == datetime(2026, 11, 1)


def test_expiry_state_pasted_state_names_and_staff_words(
    app: Any, cred: int, logged_in: Any, axe_clean: Any
) -> None:
    page = logged_in()
    page.goto(GRID)
    expect(row_of(page, 12).locator(".col-expiry")).to_contain_text("≤ 30 days (20 days left)")
    expect(row_of(page, 13).locator(".col-expiry")).to_contain_text("No term date")
    expect(row_of(page, 11).locator(".col-expiry")).to_contain_text("PSV overdue")

    blank = page.locator("tr[data-row].is-new")
    blank.nth(0).get_by_label(re.compile("^License name")).focus()
    paste(page, "Texas license\tTX-9\tTexas\nNY license\tNY-9\tnew york")
    blank.nth(2).get_by_label(re.compile("^Type")).select_option(label="MD")  # a type only
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#save-summary")).to_contain_text("1 row not saved")
    expect(page.locator("#save-summary")).to_contain_text("2 created")
    expect(page.locator("#save-summary")).to_contain_text(
        "Number: Enter a license number or a license name, or clear this row."
    )
    axe_clean(page, "the grid with a row that is not a license")
    with app.app_context(), session_scope("main") as session:
        states = {
            row.license_number: row.state
            for row in session.query(ProviderCredLicense).filter(
                ProviderCredLicense.license_number.in_(["TX-9", "NY-9"])
            )
        }
    assert states == {"TX-9": "TX", "NY-9": "NY"}


def test_ctrl_s_saves_and_the_save_bar_is_one_ctrl_enter_away(
    app: Any, cred: int, logged_in: Any, axe_clean: Any
) -> None:
    page = logged_in()
    page.goto(GRID)
    first = page.get_by_label("Key, license 11")
    first.focus()
    page.keyboard.press("Control+Enter")
    expect(page.get_by_role("button", name="Save")).to_be_focused()

    number = page.get_by_label("Number, license 11")
    number.fill("MD-CTRL-S")
    with page.expect_navigation():  # the summary of the first Save is there during the second
        page.keyboard.press("Control+s")
    expect(page.locator("#save-summary")).to_contain_text("1 updated")
    assert stored(app, 11).license_number == "MD-CTRL-S"  # type: ignore[union-attr]
    page.get_by_label("Number, license 11").fill("MD-META-S")
    with page.expect_navigation():
        page.keyboard.press("Meta+s")
    expect(page.locator("#save-summary")).to_contain_text("1 updated")
    assert stored(app, 11).license_number == "MD-META-S"  # type: ignore[union-attr]


def page_width(page: Any) -> int:
    return int(page.evaluate("document.documentElement.scrollWidth"))


def test_nothing_widens_the_page_at_390px(
    app: Any, logged_in: Any, axe_clean: Any, screenshot: Any
) -> None:
    with app.app_context(), session_scope("main") as session:
        seed_demo_data(session, providers=30)
    page = logged_in()
    page.set_viewport_size({"width": 390, "height": 844})
    visited = {
        "the credential list": "/ui/credentials",
        "a search": "/ui/credentials?q=PRV",
        "the expiring list": "/ui/licenses/expiring",
        "the grid": "/ui/credentials/1004/licenses",
    }
    for state, url in visited.items():
        page.goto(url)
        wide = page.evaluate(
            """() => Array.from(document.querySelectorAll('body *'))
                .filter(el => el.getBoundingClientRect().right > 392)
                .filter(el => !el.closest('.grid-scroll *, table.data *, table.changes *'))
                .map(el => el.tagName + '.' + el.className + '#' + el.id).slice(0, 8)"""
        )
        assert page_width(page) <= 390, (state, wide)
        axe_clean(page, f"{state} at 390 px")
    history = page.locator("a.history-link").first
    history.click()
    expect(page.get_by_role("heading", name=re.compile("History"))).to_be_visible()
    assert page_width(page) <= 390
    axe_clean(page, "a history at 390 px")
    page.goto("/ui/credentials")
    screenshot(page, "credentials-390px", full_page=True)
    # The lists scroll inside their own box instead.
    overflow = page.evaluate("getComputedStyle(document.querySelector('table.data')).overflowX")
    assert overflow == "auto"


@pytest.mark.parametrize(
    ("width", "url"),
    [
        (1024, "/ui/licenses/expiring?bucket=psvOverdue"),
        (1024, "/ui/credentials/1004/licenses"),
        (390, "/ui/integrity"),
    ],
)
def test_nothing_widens_the_page_at_1024px_nor_the_integrity_review_at_390px(
    app: Any, logged_in: Any, width: int, url: str
) -> None:
    """A list wider than the window scrolls in its own box, the page never sideways: the
    hidden labels of its cells stay inside that box, and the review's date range wraps."""
    with app.app_context(), session_scope("main") as session:
        seed_demo_data(session, providers=30)
    page = logged_in()
    page.set_viewport_size({"width": width, "height": 800})
    page.goto(url)
    wide = page.evaluate(
        """width => Array.from(document.querySelectorAll('body *'))
            .filter(el => el.getBoundingClientRect().right > width + 2)
            .map(el => el.tagName + '.' + el.className + '#' + el.id).slice(0, 8)""",
        width,
    )
    assert page_width(page) <= width, wide
    if url == "/ui/integrity":
        expect(page.get_by_role("button", name="Review")).to_be_in_viewport()
    else:
        assert page.locator("main table").count() == 1


def test_import_a_spreadsheet_with_a_preview(
    app: Any, cred: int, logged_in: Any, axe_clean: Any, tmp_path: Path, screenshot: Any
) -> None:
    csv_file = tmp_path / "licenses.csv"
    csv_file.write_text(
        "providerCredLicense_Key,providerCred_Key,license_Name,license_Number,state,term_Date\n"
        "11,1,Medical license,MD-777,CA,2027-02-12T00:00:00Z\n"
        ",1,Imported license,IMP-1,TX,\n"
        ",1,Bad,IMP-2,Texas-ish,\n",
        encoding="utf-8",
    )
    page = logged_in()
    page.goto(GRID)
    page.get_by_role("link", name="Import a CSV file").click()
    axe_clean(page, "the import page")
    page.get_by_label(re.compile("^CSV file")).set_input_files(str(csv_file))
    page.get_by_role("button", name="Preview").click()
    result = page.locator("#import-result")
    expect(result).to_contain_text("Preview: nothing is saved yet")
    expect(result).to_contain_text("Number: MD-111 → MD-777")
    expect(result).to_contain_text("1 to create · 1 to update · 0 unchanged · 1 with errors")
    expect(result).to_contain_text("Enter a state as its 2-letter code or full name")
    screenshot(page, "import-preview")
    axe_clean(page, "the import preview")
    assert stored(app, 11).license_number == "MD-111"  # type: ignore[union-attr]

    page.get_by_role("button", name="Apply this import").click()
    expect(page.locator("#import-result")).to_contain_text("Imported")
    axe_clean(page, "the import result")
    assert stored(app, 11).license_number == "MD-777"  # type: ignore[union-attr]
    assert stored(app, 14).license_number == "IMP-1"  # type: ignore[union-attr]
