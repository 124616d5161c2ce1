"""The expiring worklist in Chromium: filter it as staff would, follow an entry to its row in
the grid (scrolled to, highlighted, focused), and axe-core finds nothing on either page."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from app.audit import utcnow
from app.wire.fields import format_wire_datetime


def assert_accessible(page: Any) -> None:
    results = Axe().run(page)
    assert results.violations_count == 0, results.generate_report()


def test_worklist_entry_opens_its_row_in_the_grid(
    make_cred: Any, put_licenses: Any, logged_in: Any, screenshot: Any
) -> None:
    now = utcnow()
    make_cred(1, provider_id="PRV-LONG")
    # 60 licenses: the one followed is far below the fold of the grid
    put_licenses(
        1,
        *(
            {
                "providerCredLicense_Key": key,
                "license_Name": f"License {key}",
                "license_Number": f"N-{key}",
                "state": "TX" if key == 57 else "CA",
                "term_Date": format_wire_datetime(now + timedelta(days=400 + key)),
                "psV_Date": format_wire_datetime(now - timedelta(days=5)),
            }
            for key in range(1, 61)
        ),
    )
    put_licenses(
        1,
        {
            "providerCredLicense_Key": 57,
            "license_Name": "License 57",
            "license_Number": "N-57",
            "state": "TX",
            "term_Date": format_wire_datetime(now + timedelta(days=12)),
            "psV_Date": format_wire_datetime(now - timedelta(days=5)),
        },
    )
    page = logged_in()
    page.get_by_role("link", name="Expiring licenses").click()
    page.get_by_role("link", name=re.compile("^Within 30 days")).click()
    page.get_by_label("State").select_option("TX")
    page.get_by_label("Sort by").select_option("-term")
    page.get_by_role("button", name="Apply").click()
    expect(page).to_have_url(re.compile(r"show=within30.*state=TX.*sort=-term"))
    rows = page.locator("table.worklist tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("License 57")
    expect(rows.first.locator(".days-left")).to_have_text(re.compile(r"^1[12] days$"))
    expect(page.get_by_role("link", name=re.compile("^Download CSV"))).to_have_attribute(
        "href", re.compile(r"expiring\.csv\?.*state=TX")
    )
    assert_accessible(page)
    screenshot(page, "worklist")

    page.get_by_role("link", name="57 in the grid of PRV-LONG").click()
    expect(page).to_have_url(re.compile(r"/ui/credentials/1/licenses\?license=57#license-57$"))
    row = page.locator('tr[data-license-key="57"]')
    expect(row).to_have_class(re.compile(r"\bis-target\b"))
    expect(page.locator("tr.is-target")).to_have_count(1)
    assert row.evaluate("row => row.contains(document.activeElement)")
    expect(row).to_be_in_viewport()
    expect(page.locator('tr[data-license-key="1"]')).not_to_be_in_viewport()
    assert_accessible(page)
    screenshot(page, "worklist-target-row")
