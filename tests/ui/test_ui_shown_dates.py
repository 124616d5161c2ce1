"""Every date a person reads in the staff UI follows one rule (``app/ui/shown_dates.py``): a date
as mm/dd/yyyy, a date-time as mm/dd/yyyy hh:mm UTC, each in a ``<time>`` whose ``datetime``
attribute stays ISO. Machine forms stay ISO: form values, links, commands, CSV files."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

import pytest
from gridpage import text_of
from sqlalchemy import update

from app.audit import utcnow
from app.credentials.models import ProviderCred
from app.monitoring.models import MonitoringRun
from app.monitoring.service import record_run
from app.tenancy import session_scope

RAN_AT = datetime(2025, 1, 2, 3, 4, 5)
ISO_DAY = re.compile(r"\d{4}-\d{1,2}-\d{1,2}")
SECONDS = re.compile(r"\d{1,2}:\d{2}:\d{2}")
SLASHED = re.compile(r"\d{1,2}/\d{1,2}/\d{2,4}")
TIME_OF_DAY = re.compile(r"(?P<before>\S*) (?P<time>\d{1,2}:\d{2})(?P<after> UTC)?")
TIME_ELEMENT = re.compile(r'<time datetime="(?P<iso>[^"]+)">(?P<shown>[^<]*)</time>')
MACHINE_TEXT = re.compile(r"<(code|script|style)\b.*?</\1>", re.S)


def test_a_date_is_month_day_and_four_digit_year() -> None:
    from app.ui.shown_dates import shown_date

    assert shown_date(date(2027, 3, 31)) == "03/31/2027"
    assert shown_date(datetime(2027, 3, 31, 14, 5, 9)) == "03/31/2027"
    assert shown_date(datetime(1, 1, 1)) == "01/01/0001"  # not strftime's "1"
    assert shown_date(None) == "—"


def test_a_date_time_is_shown_to_the_minute_in_utc() -> None:
    from app.ui.shown_dates import shown_datetime

    assert shown_datetime(datetime(2027, 3, 31, 14, 5, 9)) == "03/31/2027 14:05 UTC"
    assert shown_datetime(datetime(1, 1, 1, 2, 3, 4)) == "01/01/0001 02:03 UTC"
    assert shown_datetime(None) == "—"


def test_the_filters_keep_iso_in_the_time_elements_attribute() -> None:
    from app.ui.shown_dates import date_element, datetime_element

    assert str(date_element(datetime(2027, 3, 31, 14, 5))) == (
        '<time datetime="2027-03-31">03/31/2027</time>'
    )
    assert str(datetime_element(datetime(2027, 3, 31, 14, 5, 9, 120))) == (
        '<time datetime="2027-03-31T14:05:09.000120Z">03/31/2027 14:05 UTC</time>'
    )
    assert str(datetime_element(None)) == "—"
    assert str(date_element(None)) == "—"  # a credential without an effective date


@pytest.fixture
def dated(app: Any, make_cred: Any, put_licenses: Callable[..., Any]) -> int:
    """Credential 1 effective 07/04/2019; license 11 expired 03/31/2020, PSV 02/28/2019, changed
    by two people (an integrity finding); license 12 expired 03/31/2020 without a PSV date; a
    monitoring run at ``RAN_AT``. The run's id."""
    make_cred(1, provider_id="PRV1")
    license = {
        "providerCredLicense_Key": 11,
        "license_Name": "Known dates",
        "state": "TX",
        "term_Date": "2020-03-31",
        "psV_Date": "2019-02-28",
    }
    put_licenses(1, license)
    put_licenses(1, license | {"license_Number": "N-2"}, actor="carol")
    put_licenses(
        1, {"providerCredLicense_Key": 12, "license_Name": "No PSV", "term_Date": "2020-03-31"}
    )
    with app.app_context(), session_scope("main") as session:
        session.execute(update(ProviderCred).values(effective_date=datetime(2019, 7, 4)))
        session.commit()
    with app.app_context(), session_scope("main") as session:
        run_id = record_run(session, now=utcnow(), ran_by="cron@host", psv_window_days=120)
        session.execute(update(MonitoringRun).values(ran_at=RAN_AT))
        session.commit()
    return run_id


def read_text(html: str) -> str:
    """What a person reads: no tag, attribute or form value, no code or command."""
    return text_of(MACHINE_TEXT.sub(" ", html))


def assert_dates_follow_the_rule(url: str, html: str) -> None:
    words = read_text(html)
    assert not ISO_DAY.search(words), (url, ISO_DAY.findall(words))
    assert not SECONDS.search(words), (url, SECONDS.findall(words))
    for day in SLASHED.findall(words):
        assert re.fullmatch(r"\d{2}/\d{2}/\d{4}", day), (url, day)
    for found in TIME_OF_DAY.finditer(words):
        assert re.fullmatch(r"\d{2}/\d{2}/\d{4}", found["before"]), (url, found[0])
        assert found["after"] and len(found["time"]) == 5, (url, found[0])
    for element in TIME_ELEMENT.finditer(html):
        assert element["shown"] == shown_as(element["iso"]), (url, element[0])


def words_at(client: Any, url: str) -> str:
    return read_text(client.get(url).get_data(as_text=True))


def shown_as(iso: str) -> str:
    """The text a ``<time datetime=iso>`` shows, read back from its ISO attribute."""
    if "T" not in iso:
        day = date.fromisoformat(iso)
        return f"{day.month:02d}/{day.day:02d}/{day.year:04d}"
    at = datetime.fromisoformat(iso.removesuffix("Z"))
    return f"{at.month:02d}/{at.day:02d}/{at.year:04d} {at:%H:%M} UTC"


def walk(client: Any, expected: dict[str, tuple[str, ...]]) -> dict[str, str]:
    pages = {}
    for url, texts in expected.items():
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        pages[url] = html = response.get_data(as_text=True)
        assert_dates_follow_the_rule(url, html)
        words = read_text(html)
        for text in texts:
            assert text in words, (url, text)
    return pages


def test_every_page_shows_dates_as_mm_dd_yyyy_and_times_in_utc(
    dated: int, login: Any, client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.ui import compliance

    login()
    now = utcnow()
    today, shown_today = now.date().isoformat(), now.strftime("%m/%d/%Y")
    review = f"since={today}&until={today}"
    monkeypatch.setattr(compliance, "CSV_CHANGES_PER_PART", 1)
    ran = "01/02/2025 03:04 UTC"
    pages = walk(
        client,
        {
            "/ui/credentials": (),
            "/ui/credentials/1/licenses": ("Effective 07/04/2019",),
            "/ui/licenses/expiring?show=expired": ("03/31/2020", "02/28/2019", ran),
            "/ui/licenses/expiring?show=psvOverdue": ("PSV date missing or before ",),
            "/ui/licenses/expiring?show=within30": (f"(from {shown_today} ",),
            "/ui/licenses/11/history": (f"by carol {shown_today} ",),
            "/ui/monitoring": (ran,),
            f"/ui/monitoring/{dated}": (ran, "03/31/2020", "02/28/2019"),
            f"/ui/monitoring/{dated}/print": (ran, "03/31/2020", f"Printed {shown_today} "),
            f"/ui/integrity?{review}": (f"from {shown_today} to {shown_today}",),
            f"/ui/integrity/csv-parts?{review}": (
                f"The review from {shown_today} to {shown_today} holds",
            ),
        },
    )
    review_page = pages[f"/ui/integrity?{review}"]
    assert '<time datetime="' in review_page
    for day_input in ("since", "until"):  # what the browser's date picker reads: ISO
        assert f'type="date" id="{day_input}" name="{day_input}" value="{today}"' in review_page
    parts = pages[f"/ui/integrity/csv-parts?{review}"]
    assert f"integrity-report --since {today} --until {today}" in parts  # a command, as typed
    assert '<time datetime="2020-03-31">03/31/2020</time>' in pages[f"/ui/monitoring/{dated}"]


def test_the_import_preview_shows_dates_as_the_grid_does(
    dated: int, login: Any, client: Any
) -> None:
    login()
    header = "providerCredLicense_Key,providerCred_Key,license_Name,state,term_Date,psV_Date\n"
    body = header + "11,1,Known dates,TX,2021-05-06T00:00:00Z,2019-02-28\n"
    response = client.post(
        "/ui/credentials/1/licenses/import",
        data={"file": (io.BytesIO(body.encode()), "licenses.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 200, response.data
    html = response.get_data(as_text=True)
    assert_dates_follow_the_rule("import preview", html)
    assert "Term: 03/31/2020 → 05/06/2021" in read_text(html)


def test_a_missing_psv_date_a_cutoff_a_print_time_and_a_range_read_as_what_they_are(
    dated: int, login: Any, client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A license without a PSV date reads "none" (not the dash of a blank field) on the worklist
    and in a run; the PSV cutoff is a day and the time a report is printed a time; a review in
    CSV parts starts on its first day, not at its midnight, and ends at the end of its last."""
    from app.ui import compliance

    login()
    today = utcnow().date()
    shown_today = today.strftime("%m/%d/%Y")
    for url in ("/ui/licenses/expiring?show=expired", f"/ui/monitoring/{dated}"):
        assert re.search(r"No PSV .*? none\b", words_at(client, url)), url
    overdue = words_at(client, "/ui/licenses/expiring?show=psvOverdue")
    assert re.search(r"PSV date missing or before \d{2}/\d{2}/\d{4} ?\)", overdue), overdue
    printed = words_at(client, f"/ui/monitoring/{dated}/print")
    assert re.search(r"Printed \d{2}/\d{2}/\d{4} \d{2}:\d{2} UTC by ", printed), printed
    monkeypatch.setattr(compliance, "CSV_CHANGES_PER_PART", 1)
    review = f"since={today.isoformat()}&until={today.isoformat()}"
    parts = client.get(f"/ui/integrity/csv-parts?{review}").get_data(as_text=True)
    rows = re.findall(r'<tr class="csv-part">\s*<td>(.*?)</td>\s*<td>(.*?)</td>', parts, re.S)
    assert len(rows) > 1, parts
    assert rows[0][0] == f'<time datetime="{today.isoformat()}">{shown_today}</time>'
    assert rows[-1][1] == f'the end of <time datetime="{today.isoformat()}">{shown_today}</time>'
