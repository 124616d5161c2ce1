"""The integrity review over one database's history for a date range.

It reads its range, not the whole history, which only grows: the history rows in the range,
each with what checking its hash needs from the rest of its chain (``rows_between``), read
once for both the hash check and the entry rules.
A license whose every history row was deleted has no time to fall in a range: ``flask
verify-history`` walks every chain and finds it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from itertools import groupby
from operator import attrgetter
from typing import Any

from sqlalchemy.orm import Session

from app.history.chain import ChainBreak, StoredRow, verify_rows
from app.history.stored_changes import field_pairs
from app.history.verification import part_end, rows_between, within
from app.integrity.rules import EDITORS_WINDOW, HISTORY_ALTERED, Entry, Finding, review_license


def day_after(day: datetime) -> datetime | None:
    """Where a range whose last day is ``day`` ends; ``None`` for the calendar's last day."""
    return None if day.date() == date.max else day + timedelta(days=1)


def integrity_findings(session: Session, since: datetime, until: datetime | None) -> list[Finding]:
    """Every finding with ``since ≤ at < until`` (``until`` ``None``: no end), by time, then
    license.

    The history rows from an hour before the range (a change just inside it is compared with
    the one just before) to its end, read once: each license's rows, oldest first, go through
    the entry rules, and those of the range through the hash check.
    """
    earliest = max(since, datetime.min + EDITORS_WINDOW) - EDITORS_WINDOW
    findings: list[Finding] = []
    rows = rows_between(session, earliest, until)
    for _, license_rows in groupby(rows, key=attrgetter("license_key")):
        stretch = list(license_rows)
        entries = sorted(map(_entry, stretch), key=attrgetter("at", "id"))
        findings += [f for f in review_license(entries) if within(f.at, since, until)]  # type: ignore[arg-type]
        in_range = (row for row in stretch if within(row.at, since, until))
        findings += [_altered(chain_break) for chain_break in verify_rows(in_range)]
    findings.sort(key=lambda f: (f.at or datetime.min, f.license_key, f.rule.name))
    return findings


@dataclass(frozen=True)
class ReviewPart:
    """One part of a review: the findings from ``start`` to ``next_start``, where the next
    part starts (``None``: this part is the last, to the range's end)."""

    start: datetime
    findings: list[Finding]
    next_start: datetime | None


def review_part(session: Session, start: datetime, until: datetime | None, size: int) -> ReviewPart:
    """The findings of the part of ``start ≤ at < until`` that begins at ``start`` and holds
    about ``size`` history rows (``part_end``), so that a page's work does not grow with the
    range: a month at a million licenses is some 28,000 rows.

    The parts of a range find together exactly what the whole range finds: every rule looks
    back (an hour at most, read from before the part) and each row's hash is checked on its own.
    """
    boundary = part_end(session, start, until, size)
    end = until if boundary is None else boundary
    return ReviewPart(start, integrity_findings(session, start, end), boundary)


def _altered(chain_break: ChainBreak) -> Finding:
    return Finding(
        HISTORY_ALTERED,
        chain_break.license_key,
        chain_break.provider_cred_key,
        chain_break.at,
        None,
        chain_break.row_id,
        chain_break.reason,
    )


def _entry(row: StoredRow) -> Entry:
    return Entry(
        row.id,
        row.license_key,
        row.provider_cred_key,
        row.activity_id,
        row.at,
        row.user,
        row.action,
        _date_changes(row.changes),
    )


_TEXT = frozenset({type(None), str})


def _date_changes(changes: Any) -> dict[str, list[Any]]:
    """The ``[old, new]`` pairs of text (or null) in ``changes``: what the rules read (dates).
    A row edited by hand into any other shape is the hash check's to report; the rules must
    not fail on it."""
    return {
        name: pair
        for name, pair in field_pairs(changes).items()
        if type(pair[0]) in _TEXT and type(pair[1]) in _TEXT
    }
