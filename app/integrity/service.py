"""The integrity review over one database's history for a date range.

The history rows of the range stream in license order (plus the hour before the range, so a
change just inside it is compared with the one just before), read through the history's time
index; the hash chain is checked at the rows of the range, each against the stored hash of the
row before it (``chain_breaks_between``). So the review reads its range, not the whole
history, which only grows. A license whose every history row was deleted has no time to fall
in a range: ``flask verify-history`` walks every chain and finds it.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from itertools import groupby

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.history.models import LicenseChange
from app.history.verification import chain_breaks_between
from app.integrity.rules import EDITORS_WINDOW, HISTORY_ALTERED, Entry, Finding, review_license

STREAM_ROWS = 2000


def day_after(day: datetime) -> datetime | None:
    """Where a range whose last day is ``day`` ends; ``None`` for the calendar's last day."""
    return None if day.date() == date.max else day + timedelta(days=1)


def integrity_findings(session: Session, since: datetime, until: datetime | None) -> list[Finding]:
    """Every finding with ``since ≤ at < until`` (``until`` ``None``: no end), by time, then
    license."""

    def in_range(at: datetime) -> bool:
        return since <= at and (until is None or at < until)

    findings = [f for f in _entry_findings(session, since, until) if in_range(f.at)]  # type: ignore[arg-type]
    for chain_break in chain_breaks_between(session, since, until):
        if chain_break.at is not None and in_range(chain_break.at):
            findings.append(
                Finding(
                    HISTORY_ALTERED,
                    chain_break.license_key,
                    chain_break.provider_cred_key,
                    chain_break.at,
                    None,
                    chain_break.row_id,
                    chain_break.reason,
                )
            )
    findings.sort(key=lambda f: (f.at or datetime.min, f.license_key, f.rule.name))
    return findings


def _entry_findings(session: Session, since: datetime, until: datetime | None) -> Iterator[Finding]:
    change = LicenseChange
    # The hour before the range, unless the range starts within an hour of the calendar's start.
    earliest = max(since, datetime.min + EDITORS_WINDOW) - EDITORS_WINDOW
    in_range = [change.at >= earliest] + ([] if until is None else [change.at < until])
    rows = session.execute(
        select(
            change.id,
            change.provider_cred_license_key,
            change.provider_cred_key,
            change.activity_id,
            change.at,
            change.user,
            change.action,
            change.changes,
        )
        .where(*in_range)
        .order_by(change.provider_cred_license_key, change.at, change.id)
        .execution_options(yield_per=STREAM_ROWS)
    )
    entries = (Entry(*row[:7], row[7] or {}) for row in rows)
    for _, group in groupby(entries, key=lambda entry: entry.license_key):
        yield from review_license(list(group))
