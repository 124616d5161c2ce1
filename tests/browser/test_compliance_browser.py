"""What staff see on the compliance pages, in Chromium: monitoring runs (list, one run, the
printable report printed to PDF), the expiring page's monitoring note and the integrity review;
axe-core finds no violation on any of them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from app.audit import utcnow
from app.monitoring.service import record_run
from app.tenancy import session_scope
from app.wire.fields import format_wire_datetime


@pytest.fixture
def axe_violations() -> Callable[[Any], str]:
    """``axe_violations(page)``: axe-core's report of the page's violations ('' if none).
    (The package is a test dependency: imported, not ``importorskip``-ed, so that its absence
    fails the run instead of skipping the checks without a word.)"""
    from axe_playwright_python.sync_playwright import Axe

    axe = Axe()

    def _check(page: Any) -> str:
        results = axe.run(page)
        return "" if results.violations_count == 0 else results.generate_report()

    return _check


@pytest.fixture
def monitored(app: Any, make_cred: Any, put_licenses: Callable[..., None]) -> int:
    make_cred(1, provider_id="PRV1")
    now = utcnow()
    put_licenses(
        1,
        {
            "providerCredLicense_Key": 11,
            "license_Name": "Medical license",
            "term_Date": format_wire_datetime(now - timedelta(days=2)),
            "psV_Date": format_wire_datetime(now - timedelta(days=10)),
        },
        {
            "providerCredLicense_Key": 12,
            "term_Date": format_wire_datetime(now + timedelta(days=20)),
        },
    )
    put_licenses(1, {"providerCredLicense_Key": 12, "psV_Date": "2025-01-01"}, actor="carol")
    put_licenses(1, {"providerCredLicense_Key": 12, "psV_Date": "2024-01-01"}, actor="carol")
    with app.app_context(), session_scope("main") as session:
        return record_run(session, now=utcnow(), ran_by="cron@host", psv_window_days=120)


def test_monitoring_pages_list_open_and_print_a_run(
    monitored: int, logged_in: Any, axe_violations: Callable[[Any], str], screenshot: Any
) -> None:
    page = logged_in(role="viewer")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Monitoring").click()
    page.wait_for_url("**/ui/monitoring")
    assert page.get_by_role("heading", name="Expiry monitoring runs").is_visible()
    assert axe_violations(page) == ""
    page.get_by_role("link", name=f"Run {monitored}").click()
    page.wait_for_url(f"**/ui/monitoring/{monitored}")
    licenses = page.get_by_role("table", name="licenses found")
    assert licenses.get_by_role("row").count() == 3  # header + two licenses
    assert "PRV1" in licenses.inner_text()
    assert axe_violations(page) == ""
    screenshot(page, "monitoring-run", full_page=True)

    with page.expect_download() as download:
        page.get_by_role("link", name="Download CSV").click()
    assert download.value.suggested_filename == f"monitoring-run-main-{monitored}.csv"

    page.get_by_role("link", name="Printable report").click()
    page.wait_for_url(f"**/ui/monitoring/{monitored}/print")
    assert page.get_by_role("heading", name="Expiry monitoring report").is_visible()
    assert axe_violations(page) == ""
    page.emulate_media(media="print")
    assert not page.get_by_text("Back to run").is_visible()  # screen-only on paper
    pdf = page.pdf(format="A4", landscape=True, print_background=False)
    assert pdf.startswith(b"%PDF") and len(pdf) > 1000


def test_expiring_page_shows_the_last_run_and_integrity_review_links_to_history(
    monitored: int, logged_in: Any, axe_violations: Callable[[Any], str], screenshot: Any
) -> None:
    page = logged_in()
    page.goto("/ui/licenses/expiring")
    note = page.locator(".monitoring-status")
    assert f"Last expiry monitoring run: run {monitored}" in note.inner_text()
    assert axe_violations(page) == ""

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Integrity review").click()
    page.wait_for_url("**/ui/integrity")
    findings = page.get_by_role("table", name="Integrity findings")
    assert "psv-moved-backwards" in findings.inner_text()
    assert axe_violations(page) == ""
    screenshot(page, "integrity-review", full_page=True)
    findings.get_by_role("link", name="12").first.click()
    page.wait_for_url("**/ui/licenses/12/history")
    assert page.get_by_role("heading", name="History").is_visible()


def test_expiring_page_warns_without_a_recent_run(
    logged_in: Any, axe_violations: Callable[[Any], str]
) -> None:
    page = logged_in()
    page.goto("/ui/licenses/expiring")
    assert (
        page.get_by_role("alert").inner_text().startswith("No expiry monitoring run is on record")
    )
    assert axe_violations(page) == ""


def test_a_review_in_parts_goes_from_part_to_part(
    monitored: int, logged_in: Any, axe_violations: Callable[[Any], str], monkeypatch: Any
) -> None:
    """Two changes a part: the parts' navigation, its links and the status, as a browser and
    axe-core see them, on the first part and the last."""
    from app.ui import compliance

    monkeypatch.setattr(compliance, "CHANGES_PER_PART", 2)
    page = logged_in()
    page.goto("/ui/integrity")
    parts = page.get_by_role("navigation", name="Parts of the review")
    assert "one part of the review" in page.get_by_role("status").inner_text()
    assert parts.get_by_role("link").all_inner_texts() == ["Next part →"]
    assert axe_violations(page) == ""
    for _ in range(5):  # three batches and two changes of license 12: three parts at most
        if parts.get_by_role("link", name="Next part →").count() == 0:
            break
        parts.get_by_role("link", name="Next part →").click()
        page.wait_for_load_state()
    assert parts.get_by_role("link").all_inner_texts() == ["← First part"]
    assert "to the end of" in page.get_by_role("status").inner_text()
    assert (
        "psv-moved-backwards" in page.get_by_role("table", name="Integrity findings").inner_text()
    )
    assert axe_violations(page) == ""
    parts.get_by_role("link", name="← First part").click()
    page.wait_for_url("**/ui/integrity?since=*&until=*")
    assert "from=" not in page.url


def test_the_integrity_csv_of_a_large_range_is_listed_in_parts(
    monitored: int, logged_in: Any, axe_violations: Callable[[Any], str], monkeypatch: Any
) -> None:
    """The review's Download CSV downloads a range a download can review; one holding more
    opens the list of its parts (here of 2 changes each), each part's link a download."""
    from app.ui import compliance

    page = logged_in()
    page.goto("/ui/integrity")
    today = utcnow().date().isoformat()
    since = (utcnow() - timedelta(days=30)).date().isoformat()
    with page.expect_download() as download:
        page.get_by_role("link", name="Download CSV").click()
    assert download.value.suggested_filename == f"integrity-review-main-{since}-to-{today}.csv"

    monkeypatch.setattr(compliance, "CSV_CHANGES_PER_PART", 2)
    page.get_by_role("link", name="Download CSV").click()
    page.wait_for_url("**/ui/integrity/csv-parts?since=*&until=*")
    assert page.get_by_role("heading", name="Integrity review CSV in parts").is_visible()
    assert "holds more than 2 changes" in page.get_by_role("status").inner_text()
    assert axe_violations(page) == ""
    links = page.get_by_role("table", name="CSV downloads of the review, in order").get_by_role(
        "link"
    )
    assert links.count() >= 2
    with page.expect_download() as download:
        links.first.click()
    assert download.value.suggested_filename.startswith(
        f"integrity-review-main-{since}-to-{today}-from-{since}T000000.000000"
    )
    page.get_by_role("link", name="← Back to the review").click()
    page.wait_for_url("**/ui/integrity?since=*&until=*")
