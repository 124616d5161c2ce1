"""The integrity review over one database's history for a date range.

It reads its range, not the whole history, which only grows: the licenses with history rows
in the range (the history's time index), then those licenses' chains whole
(``chains_with_rows_between``), each read once for both the hash check and the entry rules.
A license whose every history row was deleted has no time to fall in a range: ``flask
verify-history`` walks every chain and finds it.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy.orm import Session

from app.history.chain import StoredRow
from app.history.verification import breaks_between, chains_with_rows_between, within
from app.integrity.rules import EDITORS_WINDOW, HISTORY_ALTERED, Entry, Finding, review_license


def day_after(day: datetime) -> datetime | None:
    """Where a range whose last day is ``day`` ends; ``None`` for the calendar's last day."""
    return None if day.date() == date.max else day + timedelta(days=1)


def integrity_findings(session: Session, since: datetime, until: datetime | None) -> list[Finding]:
    """Every finding with ``since ≤ at < until`` (``until`` ``None``: no end), by time, then
    license.

    The whole chains of the licenses with history rows from an hour before the range (a
    change just inside it is compared with the one just before) to its end, read once: each
    chain is checked whole, and its rows of that stretch, oldest first, go through the entry
    rules.
    """
    earliest = max(since, datetime.min + EDITORS_WINDOW) - EDITORS_WINDOW
    findings: list[Finding] = []
    for chain in chains_with_rows_between(session, earliest, until):
        stretch = (_entry(row) for row in chain if within(row.at, earliest, until))
        entries = sorted(stretch, key=lambda entry: (entry.at, entry.id))
        findings += [f for f in review_license(entries) if within(f.at, since, until)]  # type: ignore[arg-type]
        findings += [
            Finding(
                HISTORY_ALTERED,
                chain_break.license_key,
                chain_break.provider_cred_key,
                chain_break.at,
                None,
                chain_break.row_id,
                chain_break.reason,
            )
            for chain_break in breaks_between(chain, since, until)
        ]
    findings.sort(key=lambda f: (f.at or datetime.min, f.license_key, f.rule.name))
    return findings


def _entry(row: StoredRow) -> Entry:
    return Entry(
        row.id,
        row.license_key,
        row.provider_cred_key,
        row.activity_id,
        row.at,
        row.user,
        row.action,
        dict(row.changes or {}),
    )
