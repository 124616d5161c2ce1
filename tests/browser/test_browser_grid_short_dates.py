"""In Chromium: the grid's script and the server read a typed date cell alike. Each short form
shows, once its cell is left, the date the server's parser reads from the same text; and one
typed with JavaScript and posted as typed without it are stored as the same date."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from playwright.sync_api import expect
from sqlalchemy import select

from app.licenses.models import ProviderCredLicense
from app.tenancy import session_scope
from app.ui.date_cells import UnreadableDate, format_date_cell, parse_date_cell
from tests.date_cell_forms import NOT_DATES, SHORT_DATES

GRID = "/ui/credentials/1/licenses"


def stored_terms(app: Any) -> dict[str, datetime | None]:
    with app.app_context(), session_scope("main") as session:
        rows = session.scalars(select(ProviderCredLicense))
        return {row.license_number: row.term_date for row in rows}


def test_the_script_shows_each_typed_date_as_the_server_reads_it(
    make_cred: Any, logged_in: Any
) -> None:
    make_cred(1)
    page = logged_in()
    page.goto(GRID)
    year = int(page.evaluate("new Date().getUTCFullYear()"))
    cell = page.locator("#rows-0-term_Date")
    for text in (*SHORT_DATES, *NOT_DATES):
        cell.fill(text)
        cell.blur()
        try:
            server = format_date_cell(parse_date_cell(text, this_year=year))
        except UnreadableDate:
            expect(cell).to_have_attribute("aria-invalid", "true")
            expect(cell).to_have_value(text)
        else:
            expect(cell).to_have_value(server)
            expect(cell).not_to_have_attribute("aria-invalid", "true")


def test_a_short_date_saved_with_and_without_javascript_is_the_same_date(
    app: Any, make_cred: Any, logged_in: Any, browser: Any, live_server: str
) -> None:
    make_cred(1)
    page = logged_in()
    cookies = page.context.cookies()
    typed = {"JS-1": "1/2/24", "JS-2": "Jan 31, 2025", "JS-3": "31-Jan-25", "JS-4": "6/1/98"}
    page.goto(GRID)
    for row, (number, text) in enumerate(typed.items()):
        page.locator(f"#rows-{row}-license_Number").fill(number)
        page.locator(f"#rows-{row}-term_Date").fill(text)
    page.locator("#save").click()
    expect(page.locator("#save-summary")).to_contain_text("4 created")

    context = browser.new_context(base_url=live_server, java_script_enabled=False)
    try:
        context.add_cookies(cookies)
        plain = context.new_page()
        plain.goto(GRID)
        blanks = plain.locator("tr[data-row].is-new")
        for row, text in enumerate(typed.values()):
            blanks.nth(row).get_by_label("Number", exact=False).fill(f"PLAIN-{row + 1}")
            blanks.nth(row).get_by_label("Term", exact=False).fill(text)
        plain.get_by_role("button", name="Save").click()
        expect(plain.locator("#save-summary")).to_contain_text("4 created")
    finally:
        context.close()

    terms = stored_terms(app)
    assert [terms[f"JS-{n}"] for n in range(1, 5)] == [terms[f"PLAIN-{n}"] for n in range(1, 5)]
    assert terms["JS-1"] == datetime(2024, 1, 2)
    assert terms["JS-2"] == terms["JS-3"] == datetime(2025, 1, 31)


def test_a_two_digit_year_is_placed_from_the_utc_year_in_any_time_zone(
    make_cred: Any, logged_in: Any, browser: Any, live_server: str
) -> None:
    """On New Year's Eve in New York it is already next year in UTC: the script places a
    two-digit year from the UTC year, as the server does (``utcnow().year``), not from the
    browser's local year, so a cell left with JavaScript and one posted without it agree."""
    make_cred(1)
    cookies = logged_in().context.cookies()
    context = browser.new_context(
        base_url=live_server, locale="en-US", timezone_id="America/New_York"
    )
    try:
        context.add_cookies(cookies)
        page = context.new_page()
        page.clock.set_fixed_time(datetime(2027, 1, 1, 1, 0, tzinfo=UTC))  # Dec 31, 20:00 in NY
        page.goto(GRID)
        assert page.evaluate("new Date().getFullYear()") == 2026  # the local year lags
        cell = page.locator("#rows-0-term_Date")
        for text in ("1/1/47", "12/31/47", "1/1/48"):  # 20 and 21 years ahead of 2027
            cell.fill(text)
            cell.blur()
            expect(cell).to_have_value(format_date_cell(parse_date_cell(text, this_year=2027)))
    finally:
        context.close()


def test_a_two_digit_year_is_placed_up_to_79_years_back(make_cred: Any, logged_in: Any) -> None:
    """Late in a century the window's start is in that century: in 2090 "11" is 2011, 79
    years back, and "10" is 2110, as the server places them."""
    make_cred(1)
    page = logged_in()
    page.clock.set_fixed_time(datetime(2090, 6, 1, tzinfo=UTC))
    page.goto(GRID)
    cell = page.locator("#rows-0-term_Date")
    for text, shown in (("1/1/11", "01/01/2011"), ("1/1/10", "01/01/2110")):
        assert format_date_cell(parse_date_cell(text, this_year=2090)) == shown
        cell.fill(text)
        cell.blur()
        expect(cell).to_have_value(shown)
