"""The integrity review over one database's history for a date range.

It reads its range, not the whole history, which only grows: the history rows in the range,
each with what checking its hash needs from the rest of its chain (``rows_between``), read
once for both the hash check and the entry rules.
A license whose every history row was deleted has no time to fall in a range: ``flask
verify-history`` walks every chain and finds it.
"""

from __future__ import annotations

import heapq
import pickle
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from itertools import groupby
from operator import attrgetter
from typing import IO, Any

from sqlalchemy.orm import Session

from app.history.chain import ChainBreak, StoredRow, verify_rows
from app.history.stored_changes import field_pairs
from app.history.verification import part_end, rows_between, within
from app.integrity.rules import (
    EDITORS_WINDOW,
    HISTORY_ALTERED,
    RULES,
    Entry,
    Finding,
    review_license,
)


def day_after(day: datetime) -> datetime | None:
    """Where a range whose last day is ``day`` ends; ``None`` for the calendar's last day."""
    return None if day.date() == date.max else day + timedelta(days=1)


def integrity_findings(session: Session, since: datetime, until: datetime | None) -> list[Finding]:
    """Every finding with ``since ≤ at < until`` (``until`` ``None``: no end), by time, then
    license, in a list: for a bounded range (a part of the review, ``review_part``). A range of
    any size is ``findings_by_time``'s.
    """
    return sorted(_findings(session, since, until), key=finding_order)


def finding_order(f: Finding) -> tuple[datetime, int, str]:
    """The review's order: by time, then license, then rule."""
    return (f.at or datetime.min, f.license_key, f.rule.name)


def _findings(session: Session, since: datetime, until: datetime | None) -> Iterator[Finding]:
    """The findings of the range, license by license (unsorted).

    The history rows from an hour before the range (a change just inside it is compared with
    the one just before) to its end, read once: each license's rows, oldest first, go through
    the entry rules, and those of the range through the hash check.
    """
    earliest = max(since, datetime.min + EDITORS_WINDOW) - EDITORS_WINDOW
    rows = rows_between(session, since, until, lookback=earliest)
    for _, license_rows in groupby(rows, key=attrgetter("license_key")):
        stretch = list(license_rows)
        entries = sorted(map(_entry, stretch), key=attrgetter("at", "id"))
        yield from (f for f in review_license(entries) if within(f.at, since, until))  # type: ignore[arg-type]
        in_range = (row for row in stretch if within(row.at, since, until))
        yield from (_altered(chain_break) for chain_break in verify_rows(in_range))


#: Findings sorted in memory at once by ``findings_by_time``; more are sorted in runs of this
#: many, each kept in a temporary file, and merged as they are read (a bulk change, say a
#: deletion of 300,000 licenses, is as many findings: some 200 MB held whole).
SORT_RUN = 20_000


class FindingsByTime:
    """Every finding of a range, by time (``finding_order``), held in memory a run at a time:
    ``len`` is their count, known before the first is read. Iterate once; ``close`` (or
    ``with``) removes the temporary files."""

    def __init__(self, findings: Iterable[Finding]) -> None:
        self.count = 0
        self._files: list[IO[bytes]] = []
        run: list[Finding] = []
        try:
            for finding in findings:
                self.count += 1
                run.append(finding)
                if len(run) >= SORT_RUN:
                    self._spill(run)
                    run = []
        except BaseException:
            self.close()
            raise
        run.sort(key=finding_order)
        self._last_run = run

    def _spill(self, run: list[Finding]) -> None:
        run.sort(key=finding_order)
        spilled = tempfile.TemporaryFile()  # noqa: SIM115 (closed by close())
        self._files.append(spilled)
        for f in run:  # a tuple, the rule by number: see _SPILLED_RULE
            spilled_finding = (
                _SPILLED_RULE[f.rule],
                f.license_key,
                f.provider_cred_key,
                f.at,
                f.user,
                f.history_id,
                f.detail,
                f.parts,
            )
            pickle.dump(spilled_finding, spilled, protocol=pickle.HIGHEST_PROTOCOL)
        spilled.seek(0)

    def __len__(self) -> int:
        return self.count

    def __iter__(self) -> Iterator[Finding]:
        runs = [_read_run(spilled) for spilled in self._files]
        return heapq.merge(*runs, iter(self._last_run), key=finding_order)

    def close(self) -> None:
        for spilled in self._files:
            spilled.close()
        self._files = []

    def __enter__(self) -> FindingsByTime:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


#: A spilled finding's rule, by its number in ``RULES``: a run of 20,000 findings pickled as
#: themselves (a dataclass holding its rule, another) took 0.45 s to write and read back, as
#: tuples 0.08 s, in a quarter of the bytes (a 300,000-finding CSV spills 15 runs).
_SPILLED_RULE = {rule: number for number, rule in enumerate(RULES)}


def _read_run(spilled: IO[bytes]) -> Iterator[Finding]:
    """The findings ``FindingsByTime._spill`` wrote (its own file: nothing else is read)."""
    while True:
        try:
            rule, *fields = pickle.load(spilled)  # noqa: S301 (written by this process, just before)
        except EOFError:
            return
        yield Finding(RULES[rule], *fields)


#: History rows ``findings_by_time`` reads per statement (and transaction): a range's rows in
#: one statement were set apart and sorted before the first came back, so a long range at a
#: large plan (900,000 rows: over 2 s) met the statement timeout, however the rows streamed.
REPORT_PART_ROWS = 100_000


def findings_by_time(session: Session, since: datetime, until: datetime | None) -> FindingsByTime:
    """``integrity_findings`` for a range of any size (the CLI's report, the UI's CSV): the
    history is read in parts of about ``REPORT_PART_ROWS`` rows (``part_end``; the parts find
    together what the whole range finds), each in a transaction of its own, and the findings
    are held a run (``SORT_RUN``) at a time. No transaction is open once they are returned,
    so a slow reader of the report holds none."""
    return FindingsByTime(_findings_in_parts(session, since, until))


def _findings_in_parts(
    session: Session, since: datetime, until: datetime | None
) -> Iterator[Finding]:
    start: datetime | None = since
    try:
        while start is not None:
            boundary = part_end(session, start, until, REPORT_PART_ROWS)
            yield from _findings(session, start, until if boundary is None else boundary)
            session.rollback()
            start = boundary
    finally:
        session.rollback()


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


def holds_at_most(session: Session, start: datetime, until: datetime | None, size: int) -> bool:
    """Whether ``start ≤ at < until`` is one part of ``size`` history rows (``part_end``):
    at most that many, or one instant however many (a part never splits one)."""
    return part_end(session, start, until, size) is None


def part_starts(
    session: Session, start: datetime, until: datetime | None, size: int, most: int
) -> tuple[list[datetime], datetime | None]:
    """Where each of the first ``most`` parts of ``size`` history rows from ``start`` starts
    (``part_end``: one walk of the time index each, the rows themselves not read), and where
    the part after them starts (``None``: they reach ``until``)."""
    starts: list[datetime] = []
    following: datetime | None = start
    while following is not None and len(starts) < most:
        starts.append(following)
        following = part_end(session, following, until, size)
    return starts, following


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
