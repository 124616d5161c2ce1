"""In Chromium, what a keyboard or screen-reader user meets in the grid once script has run:
what a cell's description says as errors come and go, and where the focus goes."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

NAME = "License name, license 11"


def test_a_conflict_cell_keeps_its_stored_value_in_its_description_through_an_error(
    grid: Any, put_licenses: Any, axe_clean: Any
) -> None:
    """A cell in conflict is described by the stored value. An error shown by the page's script
    (here: too long) is added to that description and taken out again, never replacing it (it
    was, and the description then pointed at the error it had removed)."""
    page = grid
    put_licenses(1, {"providerCredLicense_Key": 11, "license_Name": "Bob's name"})
    page.get_by_label(NAME).fill("Alice's name")
    page.get_by_role("button", name="Save").click()
    cell = page.get_by_label(NAME)
    expect(cell).to_have_accessible_description("Stored License name: Bob's name")

    cell.fill("x" * 513)
    expect(cell).to_have_attribute("aria-invalid", "true")
    expect(cell).to_have_accessible_description(
        "Too long: shorten it to at most 512 characters. Stored License name: Bob's name"
    )
    cell.fill("Alice's name")
    expect(cell).not_to_have_attribute("aria-invalid", "true")
    expect(cell).to_have_accessible_description("Stored License name: Bob's name")
    assert cell.get_attribute("aria-describedby") == "rows-0-license_Name-stored"
    axe_clean(page, "the grid with a conflict after an error came and went")


@pytest.mark.parametrize("answer", ["Discard them", "Put my changes back"])
def test_answering_the_offer_of_kept_edits_leaves_the_focus_in_the_grid(
    grid: Any, answer: str
) -> None:
    """The offer's buttons go with the offer: the focus that was on one goes on into the grid
    (or to Save, when the edits are put back), not back to the start of the page."""
    page = grid
    page.on("dialog", lambda dialog: dialog.accept())  # "leave the page?": yes
    page.get_by_label(NAME).fill("Typed, not saved")
    page.reload()
    button = page.get_by_role("button", name=answer)
    button.focus()
    page.keyboard.press("Enter")
    expect(page.locator(".draft-notice")).to_have_count(0)
    if answer == "Discard them":
        expect(page.get_by_label("Key, license 11")).to_be_focused()
    else:
        expect(page.get_by_role("button", name="Save")).to_be_focused()


#: Every pointer target in the grid, each measured as a pointer meets it: a control held by a
#: visible label is that label (a click anywhere on it works the control), any other control
#: or label is its own box. Names the ones under 24 × 24 CSS px.
SMALL_TARGETS = """() => {
    const seen = [];
    for (const el of document.querySelectorAll(
            "table.grid :is(input, select, button, a, label:not(.visually-hidden))")) {
        if (el.type === "hidden" || !el.getClientRects().length) continue;
        const holder = el.closest("label:not(.visually-hidden)");
        const target = holder && holder !== el ? holder : el;
        if (target !== el) continue;  // measured as its label
        const box = target.getBoundingClientRect();
        if (box.width < 24 || box.height < 24) {
            const name = target.id || target.textContent.trim();
            seen.push(`${target.tagName.toLowerCase()} ${name}: ${box.width}×${box.height}`);
        }
    }
    return seen;
}"""


def test_every_pointer_target_in_the_grid_is_at_least_24_px_square(
    grid: Any, put_licenses: Any
) -> None:
    """WCAG 2.2 SC 2.5.8: the Delete boxes were 18 px, a conflict's radios 13 px beside a
    16 px high label, the History links 15 px high. A click anywhere on a target works it."""
    page = grid
    put_licenses(1, {"providerCredLicense_Key": 11, "license_Name": "Bob's name"})
    page.get_by_label(NAME).fill("Alice's name")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_label("My values")).to_be_visible()  # the conflict's choice is shown

    assert page.evaluate(SMALL_TARGETS) == []
    delete = page.get_by_label("Delete license 11")
    box = delete.bounding_box()
    assert box and box["width"] >= 24 and box["height"] >= 24
    delete.click(position={"x": 22, "y": 22})  # its far corner, off the old 18 px box
    expect(delete).to_be_checked()
    delete.click(position={"x": 1, "y": 1})
    expect(delete).not_to_be_checked()
    for choice in ("My values", "Their values (bob)"):
        label = page.locator("fieldset.resolve label", has_text=choice)
        box = label.bounding_box()
        assert box and box["width"] >= 24 and box["height"] >= 24
        label.click(position={"x": box["width"] - 2, "y": box["height"] - 2})
        expect(page.get_by_label(choice)).to_be_checked()


def test_the_read_only_grid_s_links_are_at_least_24_px_high(
    make_cred: Any, put_licenses: Any, logged_in: Any
) -> None:
    make_cred(1)
    put_licenses(1, {"providerCredLicense_Key": 11}, {"providerCredLicense_Key": 12})
    page = logged_in("victor", role="viewer")
    page.goto("/ui/credentials/1/licenses")
    expect(page.get_by_role("link", name="History of license 12")).to_be_visible()
    assert page.evaluate(SMALL_TARGETS) == []


def test_a_row_s_history_link_is_reached_with_the_arrow_keys(grid: Any, put_licenses: Any) -> None:
    """A row's History link is not a Tab stop (Tab walks the cells). It is the row's last stop
    for the arrow keys: right of the Delete box, up and down to the rows' History links, Enter
    opens it and Tab goes on to the next row's first cell."""
    page = grid
    put_licenses(1, {"providerCredLicense_Key": 12, "license_Name": "Second"})
    page.reload()
    key = page.get_by_label("Key, license 11")
    key.focus()
    for _ in range(20):  # along the row, as a keyboard user would go
        page.keyboard.press("ArrowRight")
    history_11 = page.get_by_role("link", name="History of license 11")
    expect(history_11).to_be_focused()
    page.keyboard.press("ArrowDown")
    history_12 = page.get_by_role("link", name="History of license 12")
    expect(history_12).to_be_focused()
    page.keyboard.press("ArrowLeft")
    expect(page.get_by_label("Delete license 12")).to_be_focused()
    page.keyboard.press("ArrowRight")
    expect(history_12).to_be_focused()
    page.keyboard.press("ArrowUp")
    expect(history_11).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_label("Key, license 12")).to_be_focused()
    history_11.focus()
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page).to_have_title("History of license 11 · credgrid")


def test_a_changed_row_says_so_in_words_not_by_colour_alone(
    grid: Any, put_licenses: Any, axe_clean: Any
) -> None:
    """WCAG 1.4.1: a row changed and not saved yet was told only by the colour of the bar at
    its left. It says "Unsaved" in its Result cell, read with its first cell as a Save's
    result is; a row not changed says nothing."""
    page = grid
    put_licenses(1, {"providerCredLicense_Key": 12, "license_Name": "Second"})
    page.reload()
    page.get_by_label(NAME).fill("Changed")
    page.get_by_label(NAME).press("End")
    page.keyboard.type(" again")  # a second edit: still one word
    changed = page.locator("tr[data-license-key='11'] td.col-result")
    expect(changed).to_contain_text("Unsaved")
    expect(changed.get_by_text("Unsaved")).to_have_count(1)
    expect(page.get_by_label("Key, license 11")).to_have_accessible_description("Unsaved")
    expect(page.locator("tr[data-license-key='12'] td.col-result")).not_to_contain_text("Unsaved")
    expect(page.get_by_label("Key, license 12")).to_have_accessible_description("")
    page.get_by_label("License name, new row 3").fill("A new one")
    expect(page.get_by_label("Key, new row 3")).to_have_accessible_description("Unsaved")
    axe_clean(page, "the grid with changed rows")
