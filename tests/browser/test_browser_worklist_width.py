"""The expiring licenses table fits a desktop window (1024 px and wider) without scrolling
sideways: every column, the PSV "overdue" flag and the History links are in view. On a phone it
scrolls inside its own box and the page itself never widens."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from app.audit import utcnow
from app.wire.fields import format_wire_datetime

#: How the table sits in its scroll box: its width against the box's, and the rightmost edge of
#: any cell, flag or link against the box's right edge (all in CSS px).
MEASURE = """() => {
    const box = document.querySelector('.table-scroll');
    const table = box.querySelector('table.worklist');
    const right = box.getBoundingClientRect().right;
    const over = [...table.querySelectorAll('th, td, .flag, a')]
        .filter(el => el.getBoundingClientRect().right > right + 0.5)
        .map(el => (el.className || el.tagName) + ': ' + el.textContent.trim().slice(0, 30));
    return {
        box: box.clientWidth,
        table: table.scrollWidth,
        scrolls: box.scrollWidth > box.clientWidth,
        page: document.documentElement.scrollWidth,
        over: over.slice(0, 5),
    };
}"""


@pytest.fixture
def long_worklist(make_cred: Any, make_license_type: Any, put_licenses: Any) -> None:
    """Expired licenses with long names and numbers whose PSV is overdue: the widest rows the
    list shows (both date cells flagged, "400 days ago")."""
    now = utcnow()
    make_cred(1, provider_id="PRV-0123456789-LONG")  # 20 characters, the most a provider ID has
    make_license_type(1, display="PharmD")
    put_licenses(
        1,
        *(
            {
                "providerCredLicense_Key": 510000 + n,
                "credLicenseType_Key": 1,
                "license_Name": "Medical Doctor (state medical license) " * (1 + n % 2),
                "license_Number": f"BOARD-TX-{939061 + n}",
                "state": "TX",
                "term_Date": format_wire_datetime(now - timedelta(days=400 + n)),
                "psV_Date": format_wire_datetime(now - timedelta(days=200)),
            }
            for n in range(6)
        ),
    )


@pytest.mark.parametrize("show", ["expired", "psvOverdue"])
def test_the_expiring_table_fits_a_desktop_window_without_scrolling_sideways(
    long_worklist: None, logged_in: Any, screenshot: Any, axe_clean: Any, show: str
) -> None:
    page = logged_in()
    page.goto(f"/ui/licenses/expiring?show={show}")
    assert page.locator("table.worklist tbody tr").count() == 6
    assert page.locator("table.worklist .flag-psv").count() == 6
    for width in (1024, 1280, 1366, 1920):
        page.set_viewport_size({"width": width, "height": 900})
        found = page.evaluate(MEASURE)
        assert not found["scrolls"] and found["table"] <= found["box"], (width, found)
        assert found["over"] == [], (width, found)
        assert found["page"] <= width, (width, found)
        history = page.get_by_role("link", name="History of license 510005")
        box = history.bounding_box()
        assert box and box["x"] + box["width"] <= width, (width, box)
    page.set_viewport_size({"width": 1280, "height": 900})
    screenshot(page, f"worklist-{show}-1280")
    axe_clean(page, f"the {show} list at 1280 px")


def test_the_expiring_table_scrolls_in_its_own_box_on_a_phone(
    long_worklist: None, logged_in: Any, screenshot: Any, axe_clean: Any
) -> None:
    page = logged_in()
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/ui/licenses/expiring?show=expired")
    found = page.evaluate(
        """() => ({
            page: document.documentElement.scrollWidth,
            table: document.querySelector('table.worklist').scrollWidth,
        })"""
    )
    assert found["page"] <= 390, found
    assert found["table"] > 390, found  # the table scrolls, the page does not
    # Each cell is still readable: a name or number wraps rather than being squeezed to a letter.
    for column in (4, 5):  # License name, Number
        widths = page.locator(f"table.worklist td:nth-child({column})").evaluate_all(
            "cells => cells.map(c => c.getBoundingClientRect().width)"
        )
        assert widths and min(widths) >= 100, (column, widths)
    screenshot(page, "worklist-expired-390")
    axe_clean(page, "the expired list at 390 px")
