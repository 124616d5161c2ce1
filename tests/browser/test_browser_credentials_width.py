"""The provider credentials list fits a 1024 px window: a credential flagged in every bucket
wraps its flags in their cell, and the page never scrolls sideways (the header bar stopped at
the window's edge while the flags ran past it)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from app.audit import utcnow
from app.wire.fields import format_wire_datetime

#: The page's width, and any flag or cell whose right edge is past the window's.
MEASURE = """() => ({
    page: document.documentElement.scrollWidth,
    over: [...document.querySelectorAll('table.data th, table.data td, table.data .flag')]
        .filter(el => el.getBoundingClientRect().right > window.innerWidth + 0.5)
        .map(el => (el.className || el.tagName) + ': ' + el.textContent.trim().slice(0, 30)),
})"""


def test_the_credentials_list_fits_a_1024_px_window(
    make_cred: Any, make_license_type: Any, put_licenses: Any, logged_in: Any, screenshot: Any
) -> None:
    now = utcnow()
    make_cred(1, provider_id="PRV-0123456789-LONG")  # 20 characters, the most a provider ID has
    make_license_type(1)
    days = (-400, 10, 45, 75)  # expired, within 30, 31-60 and 61-90 days
    put_licenses(
        1,
        *(
            {
                "providerCredLicense_Key": 510000 + n,
                "credLicenseType_Key": 1,
                "license_Number": f"MD-TX-{n}",
                "state": "TX",
                "term_Date": format_wire_datetime(now + timedelta(days=days[n % 4])),
                "psV_Date": format_wire_datetime(now - timedelta(days=200)),
            }
            for n in range(12)
        ),
    )
    page = logged_in()
    page.set_viewport_size({"width": 1024, "height": 800})
    page.goto("/ui/credentials")
    assert page.locator("table.data .flag").count() == 5
    found = page.evaluate(MEASURE)
    screenshot(page, "credentials-1024")
    assert found["page"] <= 1024, found
    assert found["over"] == [], found


def test_the_search_boxs_hint_shows_whole(logged_in: Any) -> None:
    """The hint "e.g. PRV01001, 1001 or a license number" ended "…license numbe": typed in
    the box, the same text scrolls (a search box keeps room for its clear button)."""
    page = logged_in()
    page.set_viewport_size({"width": 1024, "height": 800})
    page.goto("/ui/credentials")
    box = page.get_by_role("searchbox")
    box.fill(box.get_attribute("placeholder") or "")
    page.keyboard.press("Home")
    widths = box.evaluate("input => [input.scrollWidth, input.clientWidth]")
    assert widths[0] <= widths[1], widths
