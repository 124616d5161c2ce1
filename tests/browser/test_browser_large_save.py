"""In Chromium: a grid Save larger than the server accepts loses nothing typed.

The browser posts the grid percent-encoded: a long name of emoji takes twelve bytes a
character. A Save over ``UI_MAX_CONTENT_LENGTH`` is refused whole (413); its page names the
limit and leads back to the grid, which offers every typed row back.
"""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser_support import NOTICE, stored_names

LIMIT = 6_000
#: 437 characters (456 UTF-16 units, under the cell's 512), 1,311 bytes percent-encoded.
LONG = '🩺 Médecin, "Chef" — 東京 ' * 19


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    return {**app_config, "UI_MAX_CONTENT_LENGTH": LIMIT}


def test_a_save_over_the_limit_is_offered_back_whole(
    app: Any,
    grid: Any,
) -> None:
    page = grid
    typed = {f"#rows-{index}-license_Name": f"{index} {LONG}" for index in range(5)}
    for selector, value in typed.items():
        page.locator(selector).fill(value)
    with page.expect_request("**/credentials/1/licenses") as posted:
        page.locator("#save").click()
    assert len(posted.value.post_data_buffer or b"") > LIMIT
    page.wait_for_load_state()
    expect(page.locator("main")).to_contain_text(
        "This Save is larger than the 5.86 KiB this server accepts, so nothing was saved."
    )
    assert stored_names(app) == {11: "Stored"}
    page.get_by_role("link", name="Open the grid again").click()
    page.wait_for_url("**/ui/credentials/1/licenses")
    expect(page.locator(NOTICE)).to_contain_text("Changes to 5 row(s)")
    expect(page.locator(NOTICE)).to_contain_text("the Save was too large")  # not "session over?"
    page.get_by_role("button", name="Put my changes back").click()
    for selector, value in typed.items():
        assert page.locator(selector).input_value() == value


#: Fill this tab's sessionStorage up to its quota but for a gap of ``room`` characters.
FILL_BUT = """room => {
  sessionStorage.setItem("filler-gap", "x".repeat(room));
  let size = 1 << 20, i = 0;
  while (size >= 64) {
    try { sessionStorage.setItem("filler-" + i, "x".repeat(size)); i++; } catch (e) { size >>= 1; }
  }
  sessionStorage.removeItem("filler-gap");
}"""
#: The characters this tab keeps, keys included.
KEPT = """() => {
  let size = 0;
  for (let i = 0; i < sessionStorage.length; i++) {
    const key = sessionStorage.key(i);
    if (!key.startsWith("filler-")) { size += key.length + sessionStorage.getItem(key).length; }
  }
  return size;
}"""


def test_a_save_the_tab_can_keep_once_but_not_twice_is_offered_back(
    app: Any,
    grid: Any,
) -> None:
    """The rows typed are kept a moment after each edit; a Save keeps them again, as its own
    draft. With room for one copy but not two (a large grid Save, near the browser's quota of
    some 10 MB), the draft was not kept, then the edits were dropped: the Save refused as too
    large had nothing to offer back."""
    page = grid
    typed = {f"#rows-{index}-license_Name": f"{index} {LONG}" for index in range(5)}
    for selector, value in typed.items():
        page.locator(selector).fill(value)
    page.wait_for_timeout(600)  # the edits are kept 300 ms after the last one
    kept = page.evaluate(KEPT)
    assert kept > 2000
    page.evaluate(FILL_BUT, kept // 2)
    page.locator("#save").click()
    page.wait_for_load_state()
    expect(page.locator("main")).to_contain_text("so nothing was saved")
    page.evaluate(
        "() => Object.keys(sessionStorage).filter(k => k.startsWith('filler-'))"
        ".forEach(k => sessionStorage.removeItem(k))"
    )
    page.get_by_role("link", name="Open the grid again").click()
    page.wait_for_url("**/ui/credentials/1/licenses")
    expect(page.locator(NOTICE)).to_contain_text("Changes to 5 row(s)")
    page.get_by_role("button", name="Put my changes back").click()
    for selector, value in typed.items():
        assert page.locator(selector).input_value() == value
