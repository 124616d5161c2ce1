"""In Chromium: Tab in the grid moves as in a spreadsheet, cell after cell and row after row
(Tab used to jump from any cell to the Save bar, and a clerk's next keystrokes landed on Save);
Ctrl+Enter (Cmd+Enter) is the quick way out to Save, without saving."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect

CELLS_IN_ORDER = """() => Array.from(
  document.querySelectorAll("table.grid tbody tr[data-row] [data-col]"), (cell) => cell.id)"""
FOCUSED_ID = "() => document.activeElement.id"
FOCUS_IN_GRID = "() => Boolean(document.activeElement.closest('table.grid'))"
COUNT_SUBMITS = """() => {
  window.submits = 0;
  document.addEventListener("submit", (event) => {
    window.submits += 1;
    event.preventDefault();
  }, true);
}"""


#: CDP's modifier bits.
ALT, CTRL, SHIFT = 1, 2, 8


def press_ctrl_enter_with_its_character(page: Any, modifiers: int = CTRL) -> None:
    """Ctrl+Enter as some systems send it, with the Enter character ("\\r"): its keypress
    submits the form (or clicks whatever button has the focus by then) unless the keydown
    stopped it. Playwright's own Control+Enter sends no character."""
    cdp = page.context.new_cdp_session(page)
    key = {"modifiers": modifiers, "key": "Enter", "code": "Enter", "windowsVirtualKeyCode": 13}
    cdp.send("Input.dispatchKeyEvent", {"type": "keyDown", "text": "\r", **key})
    cdp.send("Input.dispatchKeyEvent", {"type": "keyUp", **key})
    cdp.detach()


def test_tab_walks_every_cell_row_after_row_and_shift_tab_walks_back(
    grid: Any, put_licenses: Any
) -> None:
    """Row-major over the cells, History links skipped; Tab from the last cell leaves the grid
    for Save, Shift+Tab from the first leaves it backwards: the grid never holds the focus."""
    page = grid
    put_licenses(1, {"providerCredLicense_Key": 12, "license_Name": "Second"})
    page.reload()
    cells = page.evaluate(CELLS_IN_ORDER)
    assert cells[:2] == ["rows-0-providerCredLicense_Key", "rows-0-credLicenseType_Key"]
    page.locator(f"#{cells[0]}").focus()
    for expected in cells[1:]:
        page.keyboard.press("Tab")
        assert page.evaluate(FOCUSED_ID) == expected
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Save")).to_be_focused()
    for expected in reversed(cells):
        page.keyboard.press("Shift+Tab")
        assert page.evaluate(FOCUSED_ID) == expected
    page.keyboard.press("Shift+Tab")
    assert page.evaluate(FOCUS_IN_GRID) is False


def test_a_clerk_tabs_and_types_across_a_row_boundary(grid: Any) -> None:
    page = grid
    page.get_by_label("License name, new row 2").click()
    page.keyboard.type("Tabbed in")
    for text in ["N-TAB", "TX", "FM", "01/02/2024", "12/31/2030", "06/01/2024"]:
        page.keyboard.press("Tab")
        page.keyboard.type(text)
    page.keyboard.press("Tab")  # from the row's last cell to the next row's first
    expect(page.get_by_label("Key, new row 3")).to_be_focused()
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    page.keyboard.type("Next row")
    expect(page.get_by_label("License name, new row 3")).to_have_value("Next row")
    expect(page.get_by_label("Number, new row 2")).to_have_value("N-TAB")
    expect(page.get_by_label("State, new row 2")).to_have_value("TX")
    expect(page.get_by_label("PSV, new row 2")).to_have_value("06/01/2024")
    for _ in range(3):
        page.keyboard.press("Shift+Tab")
    expect(page.get_by_label("PSV, new row 2")).to_be_focused()
    expect(page.get_by_role("button", name="Save")).to_have_text("Save")


def test_ctrl_enter_from_a_middle_cell_goes_to_save_without_saving(grid: Any) -> None:
    page = grid
    page.evaluate(COUNT_SUBMITS)
    save = page.get_by_role("button", name="Save")
    expect(save).to_have_attribute("aria-keyshortcuts", "Control+Enter Meta+Enter")
    expect(page.locator("table.grid")).to_have_accessible_description(
        re.compile(r"Tab moves to the next cell; Ctrl\+Enter goes to Save\.")
    )
    number = page.get_by_label("Number, license 11")
    number.fill("NOT-SAVED")
    number.press("Control+Enter")
    expect(save).to_be_focused()
    page.get_by_label("Effective, new row 3").press("Meta+Enter")
    expect(save).to_be_focused()
    page.get_by_label("License name, license 11").focus()
    press_ctrl_enter_with_its_character(page)
    expect(save).to_be_focused()
    assert page.evaluate("window.submits") == 0
    expect(save).to_have_text("Save")
    expect(number).to_have_value("NOT-SAVED")


def test_a_conflicting_row_s_choice_comes_in_tab_order_and_first_at_ctrl_enter(
    grid: Any, put_licenses: Any
) -> None:
    """Its "My values / Their values" line is right after the row's last cell, then the next
    row; Ctrl+Enter from a cell of the row goes there first, as the old Tab did."""
    page = grid
    put_licenses(1, {"providerCredLicense_Key": 11, "license_Name": "Bob's name"})
    page.get_by_label("License name, license 11").fill("Alice's name")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#save-summary")).to_contain_text("1 row not saved")
    mine = page.get_by_label("My values")
    page.get_by_label("Delete license 11").focus()
    page.keyboard.press("Tab")
    expect(mine).to_be_focused()
    page.keyboard.press("Tab")
    next_row_first = page.locator("tr[data-row]").nth(1).locator("[data-col]").first
    expect(next_row_first).to_be_focused()
    page.keyboard.press("Shift+Tab")
    expect(mine).to_be_focused()
    page.keyboard.press("Shift+Tab")
    expect(page.get_by_label("Delete license 11")).to_be_focused()

    page.get_by_label("License name, license 11").press("Control+Enter")
    expect(mine).to_be_focused()
    next_row_first.press("Control+Enter")
    expect(page.get_by_role("button", name="Save")).to_be_focused()


def test_enter_with_alt_in_a_cell_neither_saves_nor_moves(grid: Any) -> None:
    """Alt+Enter (Option+Return), also with Ctrl or Shift, is no shortcut of the grid; its
    Enter character must not submit the form as a plain Enter in a cell never does."""
    page = grid
    page.evaluate(COUNT_SUBMITS)
    name = page.get_by_label("License name, license 11")
    for modifiers in (ALT, ALT | CTRL, ALT | SHIFT):
        name.focus()
        press_ctrl_enter_with_its_character(page, modifiers)
        expect(name).to_be_focused()
    assert page.evaluate("window.submits") == 0


def test_ctrl_enter_is_the_grid_s_only_from_a_cell(grid: Any) -> None:
    """On a row's History link (reached with the arrow keys) Ctrl+Enter is the browser's, to
    open the link in a new tab: it does not move the focus to Save."""
    page = grid
    link = page.locator("tr[data-row] a.history-link").first
    link.focus()
    link.press("Control+Enter")
    expect(link).to_be_focused()


def test_ctrl_enter_goes_to_the_choice_a_clerk_made(grid: Any, put_licenses: Any) -> None:
    """With "Their values" chosen, Ctrl+Enter from the row lands on it, not on "My values"
    (where the arrow keys would change the choice)."""
    page = grid
    put_licenses(1, {"providerCredLicense_Key": 11, "license_Name": "Bob's name"})
    page.get_by_label("License name, license 11").fill("Alice's name")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#save-summary")).to_contain_text("1 row not saved")
    theirs = page.get_by_label(re.compile(r"^Their values"))
    theirs.check()
    page.get_by_label("Number, license 11").press("Control+Enter")
    expect(theirs).to_be_focused()
