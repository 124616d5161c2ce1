"""In Chromium: a pasted two-digit year is read in a window around this year (not as 20YY), the
arrow keys leave a stored row's read-only Key cell and never leave a cell under the Save bar,
and the first click on Save after a flagged date is fixed does save."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from playwright.sync_api import expect
from sqlalchemy import select

from app.licenses.models import ProviderCredLicense
from app.tenancy import session_scope
from tests.browser_support import paste


def stored(app: Any) -> list[ProviderCredLicense]:
    with app.app_context(), session_scope("main") as session:
        rows = list(session.scalars(select(ProviderCredLicense)).all())
        session.expunge_all()
        return rows


def test_a_pasted_two_digit_year_is_read_around_this_year(
    app: Any, make_cred: Any, logged_in: Any
) -> None:
    """98 is 1998, not 2098: a license that expired in 1999 is not saved as current until 2099.
    The window runs from 79 years back to 20 years ahead of the browser's current year."""
    make_cred(1)
    page = logged_in()
    page.goto("/ui/credentials/1/licenses")
    year = int(page.evaluate("new Date().getFullYear()"))

    def yy(full: int) -> str:
        return f"{full % 100:02d}"

    # From the Number cell: Number, State, Specialty, Effective, Term, PSV (as a spreadsheet
    # copies it, with its line end).
    page.locator("#rows-0-license_Number").focus()
    paste(
        page,
        "YY-2\tTX\tIM\t6/1/98\t5/31/99\t\r\n"
        f"YY-3\tTX\tIM\t1/2/{yy(year + 1)}\t3/4/{yy(year + 20)}\t5/6/{yy(year + 21)}\r\n",
    )

    expect(page.locator("#rows-0-effective_Date")).to_have_value("06/01/1998")
    expect(page.locator("#rows-0-term_Date")).to_have_value("05/31/1999")
    expect(page.locator("#rows-0-psV_Date")).to_have_value("")
    expect(page.locator("#rows-1-effective_Date")).to_have_value(f"01/02/{year + 1}")
    expect(page.locator("#rows-1-term_Date")).to_have_value(f"03/04/{year + 20}")
    expect(page.locator("#rows-1-psV_Date")).to_have_value(f"05/06/{year - 79}")
    for field in ("effective_Date", "term_Date", "psV_Date"):
        expect(page.locator(f"#rows-0-{field}")).not_to_have_attribute("aria-invalid", "true")

    page.locator("#save").click()
    expect(page.locator("#save-summary")).to_contain_text("2 created")
    saved = {row.license_number: row for row in stored(app)}
    assert (saved["YY-2"].effective_date, saved["YY-2"].term_date, saved["YY-2"].psv_date) == (
        datetime(1998, 6, 1),
        datetime(1999, 5, 31),
        None,
    )
    assert (saved["YY-3"].term_date, saved["YY-3"].psv_date) == (
        datetime(year + 20, 3, 4),
        datetime(year - 79, 5, 6),
    )


def test_the_arrow_keys_leave_a_stored_rows_read_only_key_cell(
    make_cred: Any, put_licenses: Any, logged_in: Any
) -> None:
    """Chromium never moves the caret in a read-only input: the arrows must not wait for it."""
    make_cred(1)
    put_licenses(1, {"providerCredLicense_Key": 11, "license_Name": "Stored"})
    page = logged_in()
    page.goto("/ui/credentials/1/licenses")
    key = page.locator("#rows-0-providerCredLicense_Key")
    expect(key).to_have_attribute("readonly", "")
    expect(key).to_have_value("11")

    key.focus()
    page.keyboard.press("ArrowRight")
    expect(page.locator("#rows-0-credLicenseType_Key")).to_be_focused()  # the next cell
    page.keyboard.press("ArrowLeft")
    expect(key).to_be_focused()
    page.keyboard.press("End")  # wherever the read-only cell says its caret is
    page.keyboard.press("ArrowRight")
    expect(page.locator("#rows-0-credLicenseType_Key")).to_be_focused()


def test_the_first_click_on_save_after_a_flagged_date_is_fixed_saves(
    app: Any, make_cred: Any, logged_in: Any
) -> None:
    """The error line under a fixed date went away on focusout, i.e. at the mousedown on Save:
    the row got shorter, Save moved up from under the pointer and the click was lost."""
    make_cred(1)
    page = logged_in()
    page.set_viewport_size({"width": 1280, "height": 1000})  # a short grid: Save is not pinned
    page.goto("/ui/credentials/1/licenses")
    date = page.locator("#rows-0-effective_Date")
    page.locator("#rows-0-license_Name").fill("LOST-CLICK-1")
    date.fill("02/30/2025")
    page.locator("#rows-0-license_Number").focus()
    expect(page.locator("#rows-0-effective_Date-error")).to_be_visible()  # flagged
    date.fill("02/28/2025")

    # The submit leaves the page, so it is also noted in this tab's sessionStorage.
    page.evaluate(
        """() => document.getElementById("grid-form").addEventListener("submit", () => {
            window.s = 1;
            sessionStorage.setItem("test-submitted", "1");
        })"""
    )
    page.click("#save")
    page.wait_for_load_state()
    assert page.evaluate("window.s === 1 || sessionStorage.getItem('test-submitted') === '1'")
    expect(page.locator("#save-summary")).to_contain_text("1 created")
    [saved] = stored(app)
    assert (saved.license_name, saved.effective_date) == ("LOST-CLICK-1", datetime(2025, 2, 28))


def test_a_date_error_goes_as_the_date_is_fixed_and_comes_only_when_the_cell_is_left(
    make_cred: Any, logged_in: Any
) -> None:
    """Typing clears a cell's error once it reads as a date, and never adds one: a half-typed
    date is flagged when the cell is left, as before."""
    make_cred(1)
    page = logged_in()
    page.goto("/ui/credentials/1/licenses")
    date = page.locator("#rows-0-effective_Date")
    date.focus()
    page.keyboard.type("02/3")
    expect(page.locator("#rows-0-effective_Date-error")).to_have_count(0)
    expect(date).not_to_have_attribute("aria-invalid", "true")
    page.locator("#rows-0-license_Number").focus()
    expect(page.locator("#rows-0-effective_Date-error")).to_be_visible()
    expect(date).to_have_attribute("aria-invalid", "true")
    date.focus()
    page.keyboard.press("End")
    page.keyboard.type("0/2025")  # 02/30/2025: a date's shape, not a real date
    expect(page.locator("#rows-0-effective_Date-error")).to_be_visible()  # still flagged
    for _ in "30/2025":
        page.keyboard.press("Backspace")
    expect(date).to_have_value("02/")
    page.keyboard.type("28/2025")  # 02/28/2025, the cell not left yet
    expect(page.locator("#rows-0-effective_Date-error")).to_have_count(0)
    expect(date).not_to_have_attribute("aria-invalid", "true")
    expect(date).to_be_focused()


def test_a_cell_reached_with_the_keys_is_never_under_the_save_bar(
    make_cred: Any, put_licenses: Any, logged_in: Any
) -> None:
    """The Save bar sticks to the bottom of the window: a cell moved to with ArrowDown or Enter
    below the fold is scrolled to above it, so the cell being typed in is in sight."""
    make_cred(1)
    put_licenses(
        1, *({"providerCredLicense_Key": 100 + i, "license_Name": f"L{i}"} for i in range(40))
    )
    page = logged_in()
    page.goto("/ui/credentials/1/licenses")
    page.locator("#rows-0-license_Name").click()
    for key in ["ArrowDown"] * 30 + ["Enter"] * 10:
        page.keyboard.press(key)
        cell, bar = page.evaluate(
            """() => [document.activeElement.getBoundingClientRect().bottom,
                      document.querySelector(".grid-actions").getBoundingClientRect().top]"""
        )
        focused = page.evaluate("document.activeElement.id")
        assert cell <= bar, f"{focused} is under the Save bar ({cell} > {bar})"
    assert page.evaluate("document.activeElement.id") == "rows-40-license_Name"


def test_a_pasted_date_with_the_months_name_is_read(make_cred: Any, logged_in: Any) -> None:
    """A spreadsheet showing dates as "Jan 2, 2025" or "2-Jan-25" copies them so: they are read
    as mm/dd/yyyy, not flagged "Enter a real date"; a name that is no month stays flagged."""
    make_cred(1)
    page = logged_in()
    page.goto("/ui/credentials/1/licenses")
    page.locator("#rows-0-effective_Date").focus()
    paste(
        page,
        "Jan 2 2025\tJanuary 2, 2027\t2-Jan-25\r\n"
        "Sept 30, 2025\t31-Dec-2026\tFeb 30 2026\r\n"
        "Foo 2 2025\t\t\r\n",
    )
    expected = [
        ("01/02/2025", "01/02/2027", "01/02/2025"),
        ("09/30/2025", "12/31/2026", "Feb 30 2026"),
        ("Foo 2 2025", "", ""),
    ]
    for row, values in enumerate(expected):
        for field, value in zip(("effective_Date", "term_Date", "psV_Date"), values, strict=True):
            expect(page.locator(f"#rows-{row}-{field}")).to_have_value(value)
    expect(page.locator("#rows-1-psV_Date")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#rows-2-effective_Date")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#rows-0-effective_Date")).not_to_have_attribute("aria-invalid", "true")


def test_a_typed_date_is_read_as_a_pasted_one(app: Any, make_cred: Any, logged_in: Any) -> None:
    """A date typed "1/2/24" or "Jan 31, 2025" (the forms a paste takes) is read when the cell
    is left, or at Ctrl+S from inside it, not flagged "Enter a real date": it is one."""
    make_cred(1)
    page = logged_in()
    page.goto("/ui/credentials/1/licenses")
    year = int(page.evaluate("new Date().getFullYear()"))
    page.locator("#rows-0-license_Number").fill("TYPED-1")
    page.locator("#rows-0-effective_Date").click()
    page.keyboard.type(f"1/2/{(year - 1) % 100:02d}")
    page.keyboard.press("Tab")
    expect(page.locator("#rows-0-effective_Date")).to_have_value(f"01/02/{year - 1}")
    expect(page.locator("#rows-0-effective_Date")).not_to_have_attribute("aria-invalid", "true")
    page.locator("#rows-0-term_Date").click()
    page.keyboard.type(f"Jan 31, {year + 1}")
    page.keyboard.press("Control+s")
    expect(page.locator("#save-summary")).to_contain_text("1 created")
    (saved,) = stored(app)
    assert (saved.effective_date, saved.term_date) == (
        datetime(year - 1, 1, 2),
        datetime(year + 1, 1, 31),
    )


def test_a_row_ticked_for_deletion_is_deleted_whatever_its_date_cells_hold(
    app: Any, make_cred: Any, put_licenses: Any, logged_in: Any
) -> None:
    """Save deletes a ticked row without reading its cells (the server does not): a date
    mistyped in it before Delete was ticked does not hold the Save back."""
    make_cred(1)
    put_licenses(1, {"providerCredLicense_Key": 5, "license_Number": "GOING"})
    page = logged_in()
    page.goto("/ui/credentials/1/licenses")
    page.get_by_label("Term, license 5").fill("13/45/2025")
    page.get_by_label("Delete license 5").check()
    expect(page.get_by_label("Term, license 5")).to_have_attribute("aria-invalid", "true")
    page.locator("#save").click()
    expect(page.locator("#save-summary")).to_contain_text("1 deleted")
    assert stored(app) == []
