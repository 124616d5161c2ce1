"""The compliance pages: monitoring runs (list, one, CSV, printable), the expiring page's
monitoring note, the integrity review, and the PSV window of the database."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from flask import request_finished
from gridpage import text_of
from sqlalchemy import text, update

from app.audit import utcnow
from app.credentials.models import ProviderCred
from app.monitoring import service as monitoring_service
from app.monitoring.models import MonitoringRun
from app.monitoring.report import write_run_csv
from app.monitoring.service import record_run
from app.tenancy import session_scope
from app.wire.fields import format_wire_datetime
from tests.history_support import UNREADABLE_TIMES, ZONED_TIMES, edit_time_by_hand


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    databases = dict(app_config["DATABASES"])
    databases["other"] = {"url": databases["other"], "psv_window_days": 30}
    return app_config | {"DATABASES": databases}


@pytest.fixture
def licensed(make_cred: Any, put_licenses: Callable[..., Any]) -> None:
    make_cred(1, provider_id="PRV1")
    now = utcnow()
    put_licenses(
        1,
        {
            "providerCredLicense_Key": 11,
            "license_Name": "Expired <b>one</b>",
            "term_Date": format_wire_datetime(now - timedelta(days=2)),
            "psV_Date": format_wire_datetime(now - timedelta(days=60)),
        },
        {
            "providerCredLicense_Key": 12,
            "term_Date": format_wire_datetime(now + timedelta(days=20)),
        },
    )


def run(app: Any, database: str = "main", days_ago: int = 0, window: int = 120) -> int:
    with app.app_context(), session_scope(database) as session:
        run_id = record_run(session, now=utcnow(), ran_by="cron@host", psv_window_days=window)
        if days_ago:
            session.execute(
                update(MonitoringRun)
                .where(MonitoringRun.id == run_id)
                .values(ran_at=utcnow() - timedelta(days=days_ago))
            )
            session.commit()
    return run_id


def text_inline(html: str) -> str:
    """``text_of`` without a space for a ``<time>`` element's tags: its text runs on."""
    return text_of(re.sub(r"</?time\b[^>]*>", "", html))


def page(client: Any, url: str, status: int = 200) -> str:
    response = client.get(url)
    assert response.status_code == status, response.data
    return response.get_data(as_text=True)


def test_the_runs_page_lists_runs_and_opens_one(
    app: Any, licensed: None, login: Any, client: Any
) -> None:
    first = run(app, days_ago=40)
    login(role="viewer")
    assert "newest first: 1 run, page 1 of 1" in page(client, "/ui/monitoring")
    second = run(app)
    listing = page(client, "/ui/monitoring")
    assert "newest first: 2 runs, page 1 of 1" in listing
    assert listing.index(f"Run {second}") < listing.index(f"Run {first}")
    assert "cron@host" in listing and "120 days" in listing
    one = page(client, f"/ui/monitoring/{second}")
    assert "Monitoring run" in one and "PRV1" in one
    assert "Expired &lt;b&gt;one&lt;/b&gt;" in one  # escaped
    assert f'href="/ui/monitoring/{second}/csv"' in one
    assert f'href="/ui/monitoring/{second}/print"' in one
    assert 'href="/ui/licenses/11/history"' in one
    page(client, "/ui/monitoring/999", 404)


def test_a_runs_page_and_its_printed_report_are_bounded(
    app: Any, licensed: None, login: Any, client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run holds every license found: its page lists a page of them, its printed report at
    most PRINT_LIMIT (the CSV has every one)."""
    from app.ui import compliance

    monkeypatch.setattr(compliance, "RUN_PAGE_SIZE", 1)
    monkeypatch.setattr(compliance, "PRINT_LIMIT", 1)
    run_id = run(app)
    login()
    first = page(client, f"/ui/monitoring/{run_id}")
    assert "/ui/licenses/11/history" in first and "/ui/licenses/12/history" not in first
    assert "The 2 licenses found" in text_of(first) and "Page 1 of 2" in text_of(first)
    second = page(client, f"/ui/monitoring/{run_id}?page=2")
    assert "/ui/licenses/12/history" in second and "/ui/licenses/11/history" not in second
    assert "/ui/licenses/12/history" in page(client, f"/ui/monitoring/{run_id}?page=7")  # the last
    printed = page(client, f"/ui/monitoring/{run_id}/print")
    assert "the CSV holds every one" in text_of(printed)
    listed = text_of(printed).split("holds every one)")[1].split("Printed")[0]
    assert " 11 " in listed and " 12 " not in listed


def test_a_run_downloads_as_csv(app: Any, licensed: None, login: Any, client: Any) -> None:
    run_id = run(app)
    login()
    response = client.get(f"/ui/monitoring/{run_id}/csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert f'filename="monitoring-run-main-{run_id}.csv"' in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [(r["providerCredLicense_Key"], r["expiryStatus"], r["psvOverdue"]) for r in rows] == [
        ("11", "expired", "false"),
        ("12", "within30", "true"),
    ]
    assert {r["monitoringRun"] for r in rows} == {str(run_id)}
    assert {r["psvWindowDays"] for r in rows} == {"120"}


def test_a_runs_csv_is_named_by_its_database_whose_runs_are_numbered_apart(
    app: Any, make_user: Callable[..., str]
) -> None:
    """Each database numbers its runs from 1 and the file's rows do not name the database: the
    CSVs of run 1 of two databases, downloaded for the same month's evidence, were both
    ``monitoring-run-1.csv``."""
    assert run(app, "main") == run(app, "other") == 1
    names = []
    for database in ("main", "other"):
        make_user("officer", "correct horse", role="viewer", database=database)
        client = app.test_client()  # a session of its own, logged in to that database
        form = {"username": "officer", "password": "correct horse", "database": database}
        assert client.post("/ui/login", data=form).status_code == 302
        response = client.get("/ui/monitoring/1/csv")
        assert response.status_code == 200
        names.append(response.headers["Content-Disposition"])
        response.close()
    assert names == [
        'attachment; filename="monitoring-run-main-1.csv"',
        'attachment; filename="monitoring-run-other-1.csv"',
    ]


def test_a_runs_csv_is_streamed_chunk_by_chunk_with_every_license_in_order(
    app: Any,
    make_cred: Any,
    put_licenses: Callable[..., Any],
    login: Any,
    client: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The download was built whole in memory (every license, then the whole text). It is now
    streamed, its licenses read a few at a time: the same bytes and headers as the whole run
    written at once, across chunk boundaries."""
    monkeypatch.setattr(monitoring_service, "RUN_CHUNK", 2)
    make_cred(1, provider_id="PRV1")
    now = utcnow()
    put_licenses(
        1,
        *(
            {
                "providerCredLicense_Key": 30 + days,
                "license_Name": f"License {days}",
                "term_Date": format_wire_datetime(now + timedelta(days=days)),
            }
            for days in (-3, 50, -1, 20, 80, 10, -7)
        ),
    )
    run_id = run(app)
    login()
    sent: list[Any] = []  # the app's own response (the test client's always reads as streamed)
    with request_finished.connected_to(lambda _app, response: sent.append(response), app):
        response = client.get(f"/ui/monitoring/{run_id}/csv")
    assert response.status_code == 200
    assert [r.is_streamed for r in sent] == [True]
    assert "Content-Length" not in response.headers
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="monitoring-run-main-{run_id}.csv"'
    )
    with app.app_context(), session_scope("main") as session:
        report = monitoring_service.get_run(session, run_id)
        assert report is not None and report.total == 7
        whole = io.StringIO()
        write_run_csv(whole, report.run, report.licenses)
    body = response.get_data(as_text=True)
    assert body == whole.getvalue()
    keys = [row["providerCredLicense_Key"] for row in csv.DictReader(io.StringIO(body))]
    assert keys == ["23", "27", "29", "40", "50", "80", "110"]
    assert client.get("/ui/monitoring/999999/csv").status_code == 404


def test_a_runs_csv_neutralises_spreadsheet_formulas(
    app: Any, make_cred: Any, put_licenses: Callable[..., Any], login: Any, client: Any
) -> None:
    """Cells a spreadsheet would run get a leading quote, as in the license export (a full-width
    formula character too: some spreadsheets read it as the ASCII one)."""
    make_cred(1, provider_id="\uff0bPRV1")
    expired = format_wire_datetime(utcnow() - timedelta(days=2))
    put_licenses(
        1,
        {
            "providerCredLicense_Key": 21,
            "license_Number": '=HYPERLINK("http://x","y")',
            "license_Name": "@SUM(1+1)",
            "term_Date": expired,
        },
    )
    with app.app_context(), session_scope("main") as session:
        run_id = record_run(session, now=utcnow(), ran_by="-2+3 cron", psv_window_days=120)
    login()
    text = client.get(f"/ui/monitoring/{run_id}/csv").get_data(as_text=True)
    (row,) = csv.DictReader(io.StringIO(text))
    assert row["ranBy"] == "'-2+3 cron"
    assert row["license_Number"] == '\'=HYPERLINK("http://x","y")'
    assert row["license_Name"] == "'@SUM(1+1)"
    assert row["provider_ID"] == "'\uff0bPRV1"


def test_a_runs_csv_keeps_a_license_name_with_a_cr_on_its_row(
    app: Any, make_cred: Any, put_licenses: Callable[..., Any], login: Any, client: Any
) -> None:
    """A CR alone in a cell was written bare (Python 3.11 quotes the line terminator's
    characters only), and a reader ended the row there: the license cut in two."""
    make_cred(1)
    expired = format_wire_datetime(utcnow() - timedelta(days=2))
    put_licenses(1, {"providerCredLicense_Key": 21, "license_Name": "A\rB", "term_Date": expired})
    with app.app_context(), session_scope("main") as session:
        run_id = record_run(session, now=utcnow(), ran_by="cron", psv_window_days=120)
    login()
    text = client.get(f"/ui/monitoring/{run_id}/csv").get_data(as_text=True)
    (row,) = csv.DictReader(io.StringIO(text, newline=""))
    assert row["license_Name"] == "A\rB"
    assert row["providerCredLicense_Key"] == "21"


def test_the_printable_report_stands_alone_with_print_css(
    app: Any, licensed: None, login: Any, client: Any
) -> None:
    run_id = run(app)
    login()
    html = page(client, f"/ui/monitoring/{run_id}/print")
    assert "Expiry monitoring report" in html
    assert "compliance/report.css" in html and "ui/ui.css" not in html
    assert "site-nav" not in html  # no navigation on paper
    response = client.get("/static/compliance/report.css")
    css = response.get_data(as_text=True)
    response.close()
    assert "@media print" in css and "@page" in css


def test_the_expiring_page_says_when_the_last_run_was(
    app: Any, licensed: None, login: Any, client: Any
) -> None:
    login()
    assert "No expiry monitoring run is on record" in page(client, "/ui/licenses/expiring")
    old = run(app, days_ago=32)
    text = text_of(page(client, "/ui/licenses/expiring"))
    assert f"No expiry monitoring run in the last 31 days: the last was run {old}" in text
    recent = run(app, days_ago=30)
    text = text_of(page(client, "/ui/licenses/expiring"))
    assert f"Last expiry monitoring run: run {recent}" in text
    assert "in the last 31 days" not in text


def test_monitoring_is_overdue_more_than_31_days_after_the_run_that_ran_last(
    app: Any, licensed: None
) -> None:
    """The newest run by its time, not the last recorded (a run recorded later can carry an
    older time); 31 days after it to the second is not overdue yet, a second more is."""
    newest = run(app)
    run(app, days_ago=40)  # recorded after it, with an older time
    with app.app_context(), session_scope("main") as session:
        ran_at = session.get(MonitoringRun, newest).ran_at
        month = timedelta(days=monitoring_service.MONITORING_OVERDUE_DAYS)
        on_time = monitoring_service.monitoring_status(session, ran_at + month)
        late = monitoring_service.monitoring_status(session, ran_at + month + timedelta(seconds=1))
    assert monitoring_service.MONITORING_OVERDUE_DAYS == 31  # as the page says
    assert (on_time.last.id, on_time.overdue) == (newest, False)
    assert (late.last.id, late.overdue) == (newest, True)


def test_the_expiring_page_uses_the_database_psv_window(
    make_cred: Any, put_licenses: Callable[..., Any], login: Any, client: Any
) -> None:
    make_cred(1, database="other")
    put_licenses(
        1,
        {
            "providerCredLicense_Key": 5,
            "term_Date": "2040-01-01",
            "psV_Date": format_wire_datetime(utcnow() - timedelta(days=60)),
        },
        database="other",
    )
    login(database="other")
    text = text_of(page(client, "/ui/licenses/expiring?show=psvOverdue"))
    assert "in the last 30 days" in text
    assert "PSV overdue 1" in text


def test_the_integrity_page_lists_findings_linked_to_history(
    app: Any, make_cred: Any, put_licenses: Callable[..., Any], login: Any, client: Any
) -> None:
    make_cred(1)
    put_licenses(1, {"providerCredLicense_Key": 5, "psV_Date": "2025-06-01"}, actor="bob")
    put_licenses(1, {"providerCredLicense_Key": 5, "psV_Date": "2025-01-01"}, actor="bob")
    login(role="viewer")
    html = page(client, "/ui/integrity")
    assert "1 finding from" in text_of(html)
    assert "psv-moved-backwards" in html
    assert 'href="/ui/licenses/5/history"' in html
    assert "A PSV date was replaced by an earlier one" in html
    assert "every history row was deleted has no date to fall between two days" in text_of(html)
    today = utcnow().strftime("%Y-%m-%d")
    response = client.get(f"/ui/integrity/csv?since={today}&until={today}")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    (row,) = csv.DictReader(io.StringIO(response.get_data(as_text=True)))
    assert row["rule"] == "psv-moved-backwards"
    assert row["history"] == "/ui/licenses/5/history"  # a path: no FLASK_PUBLIC_URL
    yesterday = (utcnow() - timedelta(days=1)).strftime("%Y-%m-%d")
    assert "0 findings" in text_of(
        page(client, f"/ui/integrity?since={yesterday}&until={yesterday}")
    )


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("since=2026-13-01", "Since: not a date."),
        ("since=2026-03-02&until=2026-03-01", "Until: must not be before Since."),
    ],
)
def test_the_integrity_page_rejects_a_bad_range(
    login: Any, client: Any, query: str, message: str
) -> None:
    login()
    assert message in page(client, f"/ui/integrity?{query}", 400)
    # The CSV links say the same, not werkzeug's "The browser (or proxy) sent a request that
    # this server could not understand.", and lead back to the review of that range.
    for route in ("csv", "csv-parts"):
        error_page = text_of(page(client, f"/ui/integrity/{route}?{query}", 400))
        assert message in error_page
        assert "could not understand" not in error_page
        assert "Back to the integrity review" in error_page
        back = f'href="/ui/integrity?{query.replace("&", "&amp;")}"'
        assert back in page(client, f"/ui/integrity/{route}?{query}", 400)


def test_the_integrity_page_lists_a_bounded_number_of_findings_and_the_csv_all(
    make_cred: Any, put_licenses: Callable[..., Any], login: Any, client: Any, monkeypatch: Any
) -> None:
    from app.ui import compliance

    monkeypatch.setattr(compliance, "FINDINGS_SHOWN", 2)
    make_cred(1)
    for key in (5, 6, 7):  # three PSV dates moved backwards: three findings
        put_licenses(1, {"providerCredLicense_Key": key, "psV_Date": "2025-06-01"})
        put_licenses(1, {"providerCredLicense_Key": key, "psV_Date": "2025-01-01"})
    login()
    html = page(client, "/ui/integrity")
    assert "3 findings from" in text_of(html)
    assert "The first 2 are listed here; the CSV has every one." in text_of(html)
    assert html.count('class="finding finding-') == 2
    today = utcnow().strftime("%Y-%m-%d")
    response = client.get(f"/ui/integrity/csv?since={today}&until={today}")
    assert len(list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))) == 3


def test_a_long_review_is_shown_in_parts_that_together_list_every_finding(
    make_cred: Any, put_licenses: Callable[..., Any], login: Any, client: Any, monkeypatch: Any
) -> None:
    """Four changes at four instants, two a part: the first part links to the next, which
    says where it started and links back to the first; the two list the four findings."""
    import re
    from html import unescape

    from app.ui import compliance

    make_cred(1)
    for key in (5, 6):  # a PSV date set, then moved backwards: a finding on each second change
        put_licenses(1, {"providerCredLicense_Key": key, "psV_Date": "2025-06-01"})
        put_licenses(1, {"providerCredLicense_Key": key, "psV_Date": "2025-01-01"}, actor="bob")
    login()
    today = utcnow().strftime("%Y-%m-%d")
    since = (utcnow() - timedelta(days=30)).strftime("%Y-%m-%d")  # the default: 31 days
    shown_today = utcnow().strftime("%m/%d/%Y")
    shown_since = (utcnow() - timedelta(days=30)).strftime("%m/%d/%Y")
    whole = text_of(page(client, "/ui/integrity"))
    assert "2 findings from" in whole and "part" not in whole

    monkeypatch.setattr(compliance, "CHANGES_PER_PART", 2)
    first = page(client, "/ui/integrity")
    assert re.search(
        rf"1 finding in the changes from {shown_since} up to {shown_today} \d\d:\d\d UTC: one "
        rf"part of the review from {shown_since} to {shown_today}, which checks 2 changes at a "
        rf"time\.",
        text_inline(first),
    )
    assert "Download CSV of the whole range" in text_of(first)
    assert 'href="/ui/licenses/5/history"' in first and "/ui/licenses/6/" not in first
    next_url = unescape(re.search(r'<a rel="next" href="([^"]+)"', first).group(1))
    assert f"since={since}&until={today}&from={today}T" in next_url

    second = page(client, next_url)
    assert re.search(
        rf"1 finding in the changes from {shown_today} \d\d:\d\d UTC to the end of "
        rf"{shown_today}:",
        text_inline(second),
    )
    assert 'href="/ui/licenses/6/history"' in second and "/ui/licenses/5/" not in second
    assert 'rel="next"' not in second
    assert f'href="/ui/integrity?since={since}&amp;until={today}">← First part' in second


@pytest.mark.parametrize("spelling", [*UNREADABLE_TIMES, *ZONED_TIMES])
@pytest.mark.parametrize("part_size", [1, 5000])
def test_the_integrity_page_reports_a_time_edited_by_hand(
    make_cred: Any,
    put_licenses: Callable[..., Any],
    session_for: Any,
    login: Any,
    client: Any,
    monkeypatch: Any,
    spelling: str,
    part_size: int,
) -> None:
    """Bad data never makes a 500: a time respelled with a zone (read aware of it, compared
    with naive times) or into text that is no time (which SQLAlchemy's SQLite reader fails on)
    made the page a 500, whole or in parts, and its CSV. The page now answers: the row whose
    time is no time is reported as history altered, with its time as stored."""
    from html import unescape

    from app.ui import compliance

    make_cred(1)
    put_licenses(1, {"providerCredLicense_Key": 5, "psV_Date": "2025-06-01"})
    put_licenses(1, {"providerCredLicense_Key": 5, "psV_Date": "2025-01-01"}, actor="bob")
    zoned = spelling in ZONED_TIMES
    with session_for() as session:
        row_id = session.scalar(text("SELECT max(id) FROM license_change"))
        stored = edit_time_by_hand(
            session,
            row_id,
            ZONED_TIMES[spelling] if zoned else UNREADABLE_TIMES[spelling][0],
            timestamp_holds=zoned,
        )
    monkeypatch.setattr(compliance, "CHANGES_PER_PART", part_size)
    login()
    words, url, links = "", "/ui/integrity", 0
    for _ in range(5):
        html = page(client, url)
        words += unescape(text_of(html))
        links += html.count('href="/ui/licenses/5/history"')
        found = re.search(r'<a rel="next" href="([^"]+)"', html)
        if found is None:
            break
        url = unescape(found.group(1))
    reported = f"row {row_id} has a time that is not one, stored as {stored!r}"
    assert (reported in words) == (not zoned and UNREADABLE_TIMES[spelling][1])
    # psv-moved-backwards on bob's change, and its time's finding when the text names a day
    assert links == (1 if zoned else 2 if UNREADABLE_TIMES[spelling][1] else 0)
    today = utcnow().strftime("%Y-%m-%d")
    response = client.get(f"/ui/integrity/csv?since={today}&until={today}")
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("start", "message"),
    [
        ("yesterday", "From: not a time."),
        ("2000-01-01T00:00:00", "From: not a time between Since and Until (UTC)."),
        ("{tomorrow}T00:00:00", "From: not a time between Since and Until (UTC)."),
        ("{today}T01:00:00%2B00:00", "From: must not have a time zone (it is in UTC)."),
        ("{today}T01:00:00Z", "From: must not have a time zone (it is in UTC)."),
        ("0001-01-01T00:00:00%2B01:00", "From: must not have a time zone (it is in UTC)."),
    ],
)
def test_the_integrity_page_rejects_a_part_outside_its_range(
    login: Any, client: Any, start: str, message: str
) -> None:
    login()
    day = utcnow().date()
    start = start.format(today=day, tomorrow=day + timedelta(days=1))
    html = page(client, f"/ui/integrity?since={day}&until={day}&from={start}", 400)
    assert message in html


def test_the_integrity_page_takes_the_calendars_first_and_last_days(
    make_cred: Any, put_licenses: Callable[..., Any], login: Any, client: Any
) -> None:
    make_cred(1)
    put_licenses(1, {"providerCredLicense_Key": 5, "psV_Date": "2025-06-01"}, actor="bob")
    put_licenses(1, {"providerCredLicense_Key": 5, "psV_Date": "2025-01-01"}, actor="bob")
    login()
    assert "1 finding from" in text_of(
        page(client, "/ui/integrity?since=0001-01-01&until=9999-12-31")
    )
    response = client.get("/ui/integrity/csv?since=0001-01-01&until=9999-12-31")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="integrity-review-main-0001-01-01-to-9999-12-31.csv"'
    )
    assert len(list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))) == 1


def test_the_parts_of_a_review_from_the_calendars_first_day_link_to_that_day(
    make_cred: Any, put_licenses: Callable[..., Any], login: Any, client: Any, monkeypatch: Any
) -> None:
    """Since 0001-01-01: the links (next part, first part, CSV) and the form keep the year's
    four digits. strftime's ``%Y`` writes year 1 as ``1``, and ``since=1-01-01`` is not a
    date: the next part was a 400."""
    import re
    from html import unescape

    from app.ui import compliance

    make_cred(1)
    for key in (5, 6):
        put_licenses(1, {"providerCredLicense_Key": key, "psV_Date": "2025-06-01"})
        put_licenses(1, {"providerCredLicense_Key": key, "psV_Date": "2025-01-01"}, actor="bob")
    login()
    monkeypatch.setattr(compliance, "CHANGES_PER_PART", 2)
    first = page(client, "/ui/integrity?since=0001-01-01&until=9999-12-31")
    assert 'name="since" value="0001-01-01"' in first
    assert "one part of the review from 01/01/0001 to 12/31/9999" in text_of(first)
    assert "/ui/integrity/csv?since=0001-01-01&amp;until=9999-12-31" in first
    next_url = unescape(re.search(r'<a rel="next" href="([^"]+)"', first).group(1))
    assert next_url.startswith("/ui/integrity?since=0001-01-01&until=9999-12-31&from=")
    second = page(client, next_url)
    assert 'href="/ui/integrity?since=0001-01-01&amp;until=9999-12-31">← First part' in second


def test_the_compliance_pages_need_a_login(client: Any) -> None:
    for url in ("/ui/monitoring", "/ui/monitoring/1", "/ui/monitoring/1/print", "/ui/integrity"):
        assert client.get(url).status_code == 302


def test_times_are_shown_with_four_digit_years() -> None:
    """strftime's %Y writes the year 1 as "1"; the pages show 01/01/0001."""
    from datetime import datetime

    from app.ui.shown_dates import shown_datetime

    assert shown_datetime(datetime(1, 1, 1, 2, 3, 4)) == "01/01/0001 02:03 UTC"
    assert shown_datetime(datetime(2026, 12, 6, 23, 59, 59)) == "12/06/2026 23:59 UTC"


def test_the_integrity_csv_is_streamed_holding_a_run_of_findings(
    app: Any,
    make_cred: Any,
    put_licenses: Callable[..., Any],
    login: Any,
    client: Any,
    monkeypatch: Any,
) -> None:
    """The download of a range holding a bulk change (as many findings as licenses changed)
    was built whole in memory, the findings and then the CSV text; it is now sorted a run at
    a time and written to a spooled file, from which it is streamed."""
    from app.integrity import service
    from tests.history_support import most_findings_alive_per_row

    alive = most_findings_alive_per_row(monkeypatch)
    make_cred(1)
    for psv in ("2025-06-01", "2025-01-01"):  # 30 PSV dates moved backwards
        put_licenses(1, *({"providerCredLicense_Key": k, "psV_Date": psv} for k in range(1, 31)))
    monkeypatch.setattr(service, "SORT_RUN", 4, raising=False)
    login(role="viewer")
    today = utcnow().strftime("%Y-%m-%d")
    response = client.get(f"/ui/integrity/csv?since={today}&until={today}")
    assert response.status_code == 200 and response.is_streamed
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [row["providerCredLicense_Key"] for row in rows] == [str(k) for k in range(1, 31)]
    assert {row["rule"] for row in rows} == {"psv-moved-backwards"}
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="integrity-review-main-{today}-to-{today}.csv"'
    )
    assert len(alive) == 30 and max(alive) <= 12, alive


def test_captions_count_one_license_in_the_singular(
    app: Any, make_cred: Any, put_licenses: Callable[..., Any], login: Any, client: Any
) -> None:
    """A screen reader reads the captions: "1 licenses" and "as they stood" were read for one."""
    make_cred(1, provider_id="PRV1")
    expired = format_wire_datetime(utcnow() - timedelta(days=2))
    put_licenses(1, {"providerCredLicense_Key": 11, "term_Date": expired})
    run_id = run(app)
    login()
    expiring = text_of(page(client, "/ui/licenses/expiring?show=expired"))
    assert ": 1 license, page 1 of 1" in expiring
    report = text_of(page(client, f"/ui/monitoring/{run_id}"))
    assert "The 1 license found, as it stood at the run" in report


def csv_rows(response: Any) -> list[dict[str, str]]:
    assert response.status_code == 200 and response.mimetype == "text/csv", response.data
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


def test_a_range_holding_more_than_a_download_reviews_is_downloaded_in_parts(
    make_cred: Any, put_licenses: Callable[..., Any], login: Any, client: Any, monkeypatch: Any
) -> None:
    """A bulk change's CSV (600,000 history rows, 300,000 findings) took longer than
    gunicorn's 30 s worker timeout: the worker was killed and the user got a broken file.
    A download reviews at most ``CSV_CHANGES_PER_PART`` history rows; a range holding more
    answers the list of its parts (here 2 rows each, listed 2 at a time), whose files
    together are the whole range's CSV."""
    from html import unescape

    from app.ui import compliance

    make_cred(1)
    for key in (5, 6, 7):  # six changes at six instants; a finding on each second one
        put_licenses(1, {"providerCredLicense_Key": key, "psV_Date": "2025-06-01"})
        put_licenses(1, {"providerCredLicense_Key": key, "psV_Date": "2025-01-01"}, actor="bob")
    login(role="viewer")
    today = utcnow().strftime("%Y-%m-%d")
    query = f"since={today}&until={today}"
    whole = csv_rows(client.get(f"/ui/integrity/csv?{query}"))
    assert [row["providerCredLicense_Key"] for row in whole] == ["5", "6", "7"]

    monkeypatch.setattr(compliance, "CSV_CHANGES_PER_PART", 2)
    monkeypatch.setattr(compliance, "CSV_PARTS_LISTED", 2)
    response = client.get(f"/ui/integrity/csv?{query}")
    assert response.status_code == 303
    assert response.headers["Location"] == f"/ui/integrity/csv-parts?{query}"
    listing = page(client, response.headers["Location"])
    words = unescape(text_of(listing))
    shown_today = utcnow().strftime("%m/%d/%Y")
    assert f"The review from {shown_today} to {shown_today} holds more than 2 changes" in words
    command = f"flask --app app integrity-report --since {today} --until {today} --format csv"
    assert command in words
    links = [unescape(url) for url in re.findall(r'<td><a href="([^"]+)">CSV', listing)]
    more = re.search(r'<a rel="next" href="([^"]+)">More parts', listing)
    assert len(links) == 2 and more is not None
    rest = page(client, unescape(more.group(1)))
    links += [unescape(url) for url in re.findall(r'<td><a href="([^"]+)">CSV', rest)]
    assert len(links) == 3 and 'rel="next"' not in rest
    in_parts: list[dict[str, str]] = []
    for url in links:
        part = client.get(url)
        name = part.headers["Content-Disposition"]
        assert name.startswith(
            f'attachment; filename="integrity-review-main-{today}-to-{today}-from-'
        )
        in_parts += csv_rows(part)
    assert in_parts == whole


def two_changes_in_csv_parts_of_one(
    make_cred: Any, put_licenses: Callable[..., Any], login: Any, monkeypatch: Any
) -> str:
    """Two licenses written today, signed in, a CSV download holding one history row: today."""
    from app.ui import compliance

    make_cred(1)
    for key in (5, 6):
        put_licenses(1, {"providerCredLicense_Key": key, "psV_Date": "2025-06-01"})
    login()
    monkeypatch.setattr(compliance, "CSV_CHANGES_PER_PART", 1)
    return utcnow().strftime("%Y-%m-%d")


def test_a_csv_part_that_holds_more_than_a_download_reviews_lists_the_parts(
    make_cred: Any, put_licenses: Callable[..., Any], login: Any, client: Any, monkeypatch: Any
) -> None:
    """A part asked for by hand, or one that grew since it was listed (changes written since
    to its last part), is never cut short: the answer is the list of parts, afresh."""
    today = two_changes_in_csv_parts_of_one(make_cred, put_licenses, login, monkeypatch)
    response = client.get(f"/ui/integrity/csv?since={today}&until={today}&from={today}T00:00:00")
    assert response.status_code == 303
    assert response.headers["Location"] == f"/ui/integrity/csv-parts?since={today}&until={today}"


def test_a_later_csv_part_that_grew_lists_the_parts_from_itself(
    make_cred: Any, put_licenses: Callable[..., Any], login: Any, client: Any, monkeypatch: Any
) -> None:
    """A part far down the list (the 25th of a bulk change's) that grew since it was listed
    answered the list from the range's first part: the user paged back through "More parts"
    to find where they were. The list now starts at that part (the ones before are as
    listed: each link's ``to`` is fixed)."""
    from html import unescape

    today = two_changes_in_csv_parts_of_one(make_cred, put_licenses, login, monkeypatch)
    start = f"{today}T00:00:00.000001"
    query = f"since={today}&until={today}"
    response = client.get(f"/ui/integrity/csv?{query}&from={start}")
    assert response.status_code == 303
    assert response.headers["Location"] == f"/ui/integrity/csv-parts?{query}&from={start}"
    listing = unescape(page(client, response.headers["Location"]))
    first_link = re.search(r'<td><a href="([^"]+)">CSV', listing)
    assert first_link is not None and f"&from={start}&to=" in first_link.group(1)


@pytest.mark.parametrize(
    ("to", "status"),
    [
        ("yesterday", 400),
        ("{today}T00:00:00", 400),  # not after From (the range's first instant)
        ("{tomorrow}T00:00:01", 400),  # after Until's end
        ("{today}T01:00:00Z", 400),
        ("{tomorrow}T00:00:00", 200),  # Until's end: the whole range
    ],
)
def test_a_csv_part_must_end_within_its_range(
    login: Any, client: Any, to: str, status: int
) -> None:
    login()
    day = utcnow().date()
    to = to.format(today=day, tomorrow=day + timedelta(days=1))
    response = client.get(f"/ui/integrity/csv?since={day}&until={day}&to={to}")
    assert response.status_code == status
    assert client.get(f"/ui/integrity/csv-parts?since={day}&until=x").status_code == 400


def test_the_integrity_csv_builds_the_history_link_once(
    app: Any, make_cred: Any, put_licenses: Callable[..., Any], login: Any, client: Any
) -> None:
    """Flask's url_for for each finding was 3 % of a 300,000-finding CSV: the link is
    built once and each license's key put in it, the same link as url_for's."""
    built: list[int] = []

    @app.url_defaults
    def count(endpoint: str, values: dict[str, Any]) -> None:
        if endpoint == "ui.history":
            built.append(values["license_key"])

    make_cred(1)
    keys = [1, 22, 333, 2147483647, 0]
    for psv in ("2025-06-01", "2025-01-01"):
        put_licenses(1, *({"providerCredLicense_Key": k, "psV_Date": psv} for k in keys))
    login()
    today = utcnow().strftime("%Y-%m-%d")
    rows = csv_rows(client.get(f"/ui/integrity/csv?since={today}&until={today}"))
    links = {row["providerCredLicense_Key"]: row["history"] for row in rows}
    assert links == {str(k): f"/ui/licenses/{k}/history" for k in keys}
    assert len(built) == 1


def test_dates_before_the_year_1000_are_shown_with_four_digit_years(
    app: Any, make_cred: Any, put_licenses: Callable[..., Any], login: Any, client: Any
) -> None:
    """A legacy placeholder such as 0001-01-01 is a valid stored date: the expiring page, a
    monitoring run and the grid's heading show it as 01/01/0001 (05/01/0999), as the grid's
    cells do (strftime's ``%Y`` wrote "1-01-01", which is no date)."""
    make_cred(1, provider_id="PRV1")
    with app.app_context(), session_scope("main") as session:
        session.execute(update(ProviderCred).values(effective_date=datetime(999, 5, 1)))
        session.commit()
    put_licenses(
        1,
        {
            "providerCredLicense_Key": 11,
            "term_Date": "0001-01-01T00:00:00Z",
            "psV_Date": "0999-05-01T00:00:00Z",
        },
    )
    login()
    run_id = run(app)
    shown = {
        "expiring": page(client, "/ui/licenses/expiring?show=expired"),
        "run": page(client, f"/ui/monitoring/{run_id}"),
    }
    for name, html in shown.items():
        assert '<time datetime="0001-01-01">01/01/0001</time>' in html, name
        assert '<time datetime="0999-05-01">05/01/0999</time>' in html, name
        assert not re.search(r"[>\s]1-01-01", html), name
    grid = page(client, "/ui/credentials/1/licenses")
    assert '<dd><time datetime="0999-05-01">05/01/0999</time></dd>' in grid


def test_the_monitoring_pages_name_every_bucket_a_run_counts(
    app: Any, make_cred: Any, put_licenses: Callable[..., Any], login: Any, client: Any
) -> None:
    """A run counts (and keeps) the licenses without a term date too: the runs page's
    explanation and a run's page without licenses said expired, expiring and PSV overdue only,
    beside a "No term date" column."""
    empty = run(app)
    login(role="viewer")
    assert "expiring within 30, 60 and 90 days, without a term date" in text_of(
        page(client, "/ui/monitoring")
    )
    assert (
        "No license was expired, expiring within 90 days, without a term date or overdue for PSV."
        in text_of(page(client, f"/ui/monitoring/{empty}"))
    )
    make_cred(1)
    put_licenses(1, {"providerCredLicense_Key": 5, "psV_Date": format_wire_datetime(utcnow())})
    listed = text_inline(page(client, f"/ui/monitoring/{run(app)}"))
    assert "No term date" in listed and "The 1 license found, as it stood at the run" in listed
