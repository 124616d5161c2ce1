"""The monitoring pages fit a 1024 px window (a small laptop, a half screen) without scrolling
sideways, with their widest content: a run made by a long ``--by`` name (64 characters, all a
run keeps), licenses with long names and numbers, the 61-90 day bucket and PSV overdue. Every
column header stays whole (its words may wrap, never a word) and every cell is in view."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from app.audit import utcnow
from app.monitoring.service import record_run
from app.tenancy import session_scope
from app.wire.fields import format_wire_datetime

#: The page's width against the window's, and any header, cell or link reaching past the
#: window's right edge or past its own column (a word of a header wider than its column).
MEASURE = """() => {
    const width = document.documentElement.clientWidth;
    const over = [...document.querySelectorAll('main th, main td, main td a, main strong')]
        .filter(el => el.getBoundingClientRect().right > width + 0.5
                      || el.scrollWidth > el.clientWidth + 1)
        .map(el => el.tagName + ': ' + el.textContent.trim().slice(0, 30));
    return {page: document.documentElement.scrollWidth, width, over: over.slice(0, 5)};
}"""

LONG_BY = "monitor-expirables:credentialing-operator@credgrid-worker-07.example"[:64]


@pytest.fixture
def wide_run(app: Any, make_cred: Any, put_licenses: Callable[..., None]) -> int:
    now = utcnow()
    make_cred(1, provider_id="PRV-0123456789-LONG")  # 20 characters, the most a provider ID has
    put_licenses(
        1,
        *(
            {
                "providerCredLicense_Key": 2_000_000_000 + n,
                "license_Name": "State controlled dangerous substance registration " * (1 + n % 2),
                "license_Number": f"BOARD-CERT-TX-{9390610000 + n}-RENEWAL",
                "state": "TX",
                "term_Date": format_wire_datetime(now + timedelta(days=75)),
                "psV_Date": format_wire_datetime(now - timedelta(days=400)),
            }
            for n in range(4)
        ),
    )
    with app.app_context(), session_scope("main") as session:
        return record_run(session, now=utcnow(), ran_by=LONG_BY, psv_window_days=120)


def assert_fits(page: Any) -> None:
    for width in (1024, 1366):
        page.set_viewport_size({"width": width, "height": 800})
        found = page.evaluate(MEASURE)
        assert found["page"] <= width and found["over"] == [], (width, found)
    page.set_viewport_size({"width": 1024, "height": 800})


def test_the_monitoring_runs_fit_a_1024_px_window(
    wide_run: int, logged_in: Any, screenshot: Any, axe_clean: Any
) -> None:
    page = logged_in(role="viewer")
    page.goto("/ui/monitoring")
    assert_fits(page)
    runs = page.get_by_role("table", name="Monitoring runs")
    for header in ("Run", "Ran at", "By", "PSV window", "Within 30 days", "PSV overdue"):
        assert runs.get_by_role("columnheader", name=header, exact=True).count() == 1
    assert LONG_BY in runs.inner_text().replace("\n", "")
    screenshot(page, "monitoring-runs-1024", full_page=True)
    axe_clean(page, "the monitoring runs at 1024 px")


def test_a_monitoring_run_fits_a_1024_px_window(
    wide_run: int, logged_in: Any, screenshot: Any, axe_clean: Any
) -> None:
    page = logged_in(role="viewer")
    page.goto(f"/ui/monitoring/{wide_run}")
    assert_fits(page)
    licenses = page.get_by_role("table", name="licenses found")
    assert licenses.get_by_role("row").count() == 5  # the header and four licenses
    assert licenses.get_by_text("overdue").count() == 4
    for header in ("Provider ID", "License", "License name", "Number", "Term", "Bucket", "PSV"):
        assert licenses.get_by_role("columnheader", name=header, exact=True).count() == 1
    screenshot(page, "monitoring-run-1024", full_page=True)
    axe_clean(page, "a monitoring run at 1024 px")


#: How many lines each provider ID and license number of a run's table takes.
LINES_OF_CODES = """() => [...document.querySelectorAll(
        'table.run-licenses tbody th:first-child, table.run-licenses tbody td:nth-child(4)')]
    .map(cell => {
        const range = document.createRange();
        range.selectNodeContents(cell);
        const tops = new Set([...range.getClientRects()].map(r => Math.round(r.top)));
        return [cell.textContent.trim(), tops.size];
    })"""


def test_a_monitoring_run_keeps_ids_and_numbers_whole_on_a_phone(
    wide_run: int, logged_in: Any, screenshot: Any
) -> None:
    """On a phone the table scrolls in its own box anyway (as the expiring list does): a
    provider ID or license number is not broken across lines, which only made rows tall."""
    page = logged_in(role="viewer")
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"/ui/monitoring/{wide_run}")
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    lines = page.evaluate(LINES_OF_CODES)
    assert len(lines) == 8 and all(count == 1 for _, count in lines), lines
    screenshot(page, "monitoring-run-390", full_page=True)
