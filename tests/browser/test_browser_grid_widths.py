"""The license grid at a desktop window's width (1280 px): a license number as boards issue
them, a state code, a date and the date cells' ``mm/dd/yyyy`` hint are shown whole in their
cells, not cut at the cell's edge, and no column's header runs into the next one's."""

from __future__ import annotations

from typing import Any

import pytest

#: For each named input, whether its value (or, when empty, its placeholder) is wider than the
#: box it is shown in, in CSS px: an input scrolls its text instead of wrapping it, so
#: ``scrollWidth > clientWidth`` is text cut at the edge.
CUT_INPUTS = """(names) => names.map(name => {
    const input = document.querySelector(`[name="${name}"]`);
    const shown = input.value || input.placeholder;
    const probe = document.createElement('span');
    const style = getComputedStyle(input);
    probe.style.font = style.font;
    probe.style.whiteSpace = 'pre';
    probe.style.position = 'absolute';
    probe.textContent = shown;
    document.body.appendChild(probe);
    const text = probe.getBoundingClientRect().width;
    probe.remove();
    const room = input.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
    return {name, shown, text: Math.ceil(text), room: Math.floor(room)};
})"""

#: Pairs of neighbouring header cells whose text overlaps (the left one's text ends past the
#: right one's start).
OVERLAPPING_HEADERS = """() => {
    const cells = [...document.querySelectorAll('table.grid thead th')];
    const spans = cells.map(th => {
        const range = document.createRange();
        range.selectNodeContents(th);
        const r = range.getBoundingClientRect();
        return {text: th.textContent.trim(), left: r.left, right: r.right};
    });
    const over = [];
    for (let i = 0; i + 1 < spans.length; i++) {
        if (spans[i].text && spans[i + 1].text && spans[i].right > spans[i + 1].left + 0.5) {
            over.push(spans[i].text + ' / ' + spans[i + 1].text);
        }
    }
    return over;
}"""


@pytest.fixture
def board_numbers(make_cred: Any, make_license_type: Any, put_licenses: Any) -> None:
    make_license_type(1, display="DO")
    make_cred(1, provider_id="PRV01013")
    put_licenses(
        1,
        {
            "providerCredLicense_Key": 510130,
            "credLicenseType_Key": 1,
            "license_Name": "Doctor of Osteopathy",
            "license_Number": "DO-PR-521425",
            "state": "PR",
            "effective_Date": "2025-02-14",
            "term_Date": "2027-02-14",
            "psV_Date": "2026-11-26",
        },
        {
            "providerCredLicense_Key": 510131,
            "license_Number": "BOARD-TX-0939061",  # 16 characters
            "state": "TX",
        },
    )


def test_the_grid_shows_numbers_states_and_dates_whole_at_1280_px(
    board_numbers: None, logged_in: Any, screenshot: Any
) -> None:
    page = logged_in()
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto("/ui/credentials/1/licenses")
    rows = {
        page.locator(f'input[data-kind="key"][value="{key}"]').get_attribute("name"): key
        for key in (510130, 510131)
    }
    prefixes = [name.rsplit("-", 1)[0] for name in rows if name]
    assert len(prefixes) == 2, rows
    fields = ["license_Number", "state", "effective_Date", "term_Date", "psV_Date"]
    names = [f"{prefix}-{field}" for prefix in prefixes for field in fields]
    measured = page.evaluate(CUT_INPUTS, names)
    shown = {m["name"]: m["shown"] for m in measured}
    assert "BOARD-TX-0939061" in shown.values() and "mm/dd/yyyy" in shown.values(), shown
    cut = [m for m in measured if m["text"] > m["room"]]
    assert cut == [], cut
    assert page.evaluate(OVERLAPPING_HEADERS) == []
    screenshot(page, "grid-widths-1280")


#: A row's messages and its "My values / Their values" box, each with its right edge past the
#: grid's scroll box (text a person must scroll sideways to read, the box's border cut).
CUT_ROW_DETAILS = """() => {
    const right = document.querySelector('.grid-scroll').getBoundingClientRect().right;
    return [...document.querySelectorAll('tr.row-detail .row-message, tr.row-detail fieldset')]
        .filter(el => el.getBoundingClientRect().right > right + 0.5)
        .map(el => el.textContent.trim().slice(0, 40));
}"""


def test_a_conflicts_messages_wrap_inside_the_grid_at_1024_px(
    board_numbers: None, logged_in: Any, put_licenses: Any, screenshot: Any
) -> None:
    """The grid scrolls sideways in its own box below 1280 px; a row's messages span the whole
    table, so they ran past the box's edge: they wrap within what the box shows."""
    page = logged_in()
    page.set_viewport_size({"width": 1024, "height": 900})
    page.goto("/ui/credentials/1/licenses")
    put_licenses(1, {"providerCredLicense_Key": 510130, "license_Name": "Theirs"})
    put_licenses(1, {"providerCredLicense_Key": 510131, "state": "NY"})
    page.get_by_label("License name, license 510130").fill("Mine")
    page.get_by_label("Delete license 510131").check()
    page.get_by_role("button", name="Save").click()
    page.locator("#save-summary").wait_for()
    assert page.locator("tr.row-detail .row-message").count() == 2
    screenshot(page, "grid-conflict-1024", full_page=True)
    assert page.evaluate(CUT_ROW_DETAILS) == []
