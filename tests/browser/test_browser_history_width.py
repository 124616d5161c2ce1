"""A license's history page keeps to the window whatever a license holds: a name of 512
characters with no space (the longest the service takes) wraps, so the number and state after
it, and the page's header, stay in view."""

from __future__ import annotations

from typing import Any


def test_a_long_unbroken_license_name_wraps_on_its_history_page(
    make_cred: Any, put_licenses: Any, logged_in: Any, screenshot: Any
) -> None:
    make_cred(1)
    put_licenses(
        1,
        {
            "providerCredLicense_Key": 7,
            "license_Name": "X" * 512,
            "license_Number": "N" * 50,
            "state": "NY",
        },
    )
    page = logged_in()
    page.set_viewport_size({"width": 1024, "height": 800})
    page.goto("/ui/licenses/7/history")
    width = page.evaluate("document.documentElement.scrollWidth")
    screenshot(page, "history-long-name-1024")
    assert width <= 1024, width
    state = page.locator("main p.subtle").first
    box = state.bounding_box()
    assert box and box["x"] + box["width"] <= 1024, box
