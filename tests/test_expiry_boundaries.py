"""A license's days left always match its expiry bucket: the API's expirables (each license's
``expiryStatus``, the ``bucket=`` lists and the counts) and a monitoring run, at the 29/30/31,
60/61 and 90/91-day boundaries, for term dates at midnight and with a time of day."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, time, timedelta
from typing import Any

import pytest
from sqlalchemy import select

import app.api.licenses
from app.audit import utcnow
from app.licenses.expiry import ExpiryClock
from app.licenses.service import upsert_licenses
from app.monitoring.models import MonitoringRunLicense
from app.monitoring.service import record_run
from tests.api_support import data
from tests.expiry_support import NOWS, boundary_terms, expected_status
from tests.factories import bare_license_item

WITHIN = ("within30", "within60", "within90")


def term_text(term: datetime) -> str:
    """As a client writes it: a plain date at midnight, else VBAPI's ``… UTC`` form."""
    if term.time() == time():
        return term.strftime("%Y-%m-%d")
    return term.strftime("%Y-%m-%d %H:%M:%S UTC")


@pytest.fixture(params=NOWS, ids=lambda now: now.strftime("now-%H%M"))
def boundaries(
    request: Any, make_cred: Callable, session_for: Callable
) -> tuple[datetime, dict[int, tuple[datetime, int]]]:
    now: datetime = request.param
    terms = boundary_terms(now)
    make_cred(1)
    items = [
        bare_license_item(key, 1, term_Date=term_text(term)) for key, (term, _) in terms.items()
    ]
    with session_for() as session:
        outcomes = upsert_licenses(session, 1, items, actor="seed", activity_id="setup")
    assert {outcome.status for outcome in outcomes} == {201}
    return now, terms


def test_days_left_and_bucket_agree_for_every_term_date(
    boundaries: tuple[datetime, dict[int, tuple[datetime, int]]],
) -> None:
    now, terms = boundaries
    clock = ExpiryClock(now, 120)
    for term, days in terms.values():
        assert clock.days_left(term) == days
        assert clock.bucket(term) == expected_status(now, term, days), (now, term)


def test_the_api_buckets_match_the_days_left(
    boundaries: tuple[datetime, dict[int, tuple[datetime, int]]],
    client: Any,
    auth_headers: Callable[..., dict[str, str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now, terms = boundaries
    monkeypatch.setattr(app.api.licenses, "utcnow", lambda: now)
    headers = auth_headers()
    expected = {key: expected_status(now, term, days) for key, (term, days) in terms.items()}

    report = data(client.get("/licenses/expirables?pageSize=1000", headers=headers))
    statuses = {r["providerCredLicense_Key"]: r["expiryStatus"] for r in report["licenses"]}
    assert statuses == {key: status for key, status in expected.items() if status is not None}
    for name in ("expired", *WITHIN):
        listed = data(
            client.get(f"/licenses/expirables?bucket={name}&pageSize=1000", headers=headers)
        )
        keys = {r["providerCredLicense_Key"] for r in listed["licenses"]}
        assert keys == {key for key, status in expected.items() if status == name}, name
        assert report["counts"][name] == len(keys)
    for within in (30, 60, 90):  # expired, or at most that many days left
        listed = data(
            client.get(f"/licenses/expirables?within={within}&pageSize=1000", headers=headers)
        )
        keys = {r["providerCredLicense_Key"] for r in listed["licenses"]}
        assert keys == {
            key
            for key, (term, days) in terms.items()
            if expected[key] == "expired" or days <= within
        }, within


def test_a_monitoring_run_buckets_match_the_days_left(
    boundaries: tuple[datetime, dict[int, tuple[datetime, int]]], session_for: Callable
) -> None:
    now, terms = boundaries
    with session_for() as session:
        run_id = record_run(session, now=now, ran_by="test", psv_window_days=120)
        rows = session.execute(
            select(
                MonitoringRunLicense.provider_cred_license_key, MonitoringRunLicense.expiry_status
            ).where(MonitoringRunLicense.run_id == run_id)
        ).all()
    # Every license here is PSV overdue (none has a PSV date), so each one is in the run.
    assert dict(rows) == {
        key: expected_status(now, term, days) for key, (term, days) in terms.items()
    }


#: PSV dates this many calendar days before today, around a window of 120 days.
PSV_DAYS_AGO = (0, 119, 120, 121, 400)


@pytest.mark.parametrize("hour", (10, 0), ids=lambda hour: f"now-{hour:02}00")
def test_psv_overdue_counts_calendar_days_as_the_dates_shown(
    hour: int,
    make_cred: Callable,
    session_for: Callable,
    client: Any,
    auth_headers: Callable[..., dict[str, str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The expiring page says "PSV date missing or before <cutoff's date>" beside each PSV
    date: a PSV on that day is not overdue whatever its time, one the day before is. (Measured
    from this instant, a PSV on the cutoff day at an earlier time than now was overdue.)"""
    window = 120
    now = datetime.combine(utcnow().date(), time(hour))  # a PSV date may not be in the future
    make_cred(1)
    psv_dates, key = {}, 1
    for days_ago in PSV_DAYS_AGO:
        for at in (time(0, 0), time(9, 0), time(15, 0), time(23, 59, 59)):
            psv_dates[key] = datetime.combine(now.date() - timedelta(days=days_ago), at)
            key += 1
    items = [
        bare_license_item(key, 1, psV_Date=psv.strftime("%Y-%m-%d %H:%M:%S UTC"))
        for key, psv in psv_dates.items()
    ]
    with session_for() as session:
        outcomes = upsert_licenses(session, 1, items, actor="seed", activity_id="setup")
    assert [o.status for o in outcomes] == [201] * len(items), outcomes[0]
    clock = ExpiryClock(now, window)
    cutoff_day = clock.psv_cutoff.date()
    assert cutoff_day == now.date() - timedelta(days=window)
    expected = {k for k, psv in psv_dates.items() if (now.date() - psv.date()).days > window}
    assert expected == {k for k, psv in psv_dates.items() if psv.date() < cutoff_day}
    assert {k for k, psv in psv_dates.items() if clock.psv_overdue(psv)} == expected

    monkeypatch.setattr(app.api.licenses, "utcnow", lambda: now)
    listed = data(
        client.get("/licenses/expirables?bucket=psvOverdue&pageSize=1000", headers=auth_headers())
    )
    assert {r["providerCredLicense_Key"] for r in listed["licenses"]} == expected
    assert listed["counts"]["psvOverdue"] == len(expected)
