"""Checking the history chains of one database: every chain (``flask verify-history``), or
the rows of a date range (the integrity review).

Each row is read with the stored hash of the row before it and whether a row follows it
(the walk: window functions over its license's chain; a range: index probes), so it checks
on its own (``verify_rows``). Both stream the rows (``yield_per``), so the whole table is
never in memory; heads whose license has no history row left are found by a second,
anti-joined query.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import Session, aliased

from app.history.chain import ChainBreak, StoredRow, headless_break, verify_rows
from app.history.models import LicenseChange, LicenseHistoryHead
from app.history.stored_changes import changes_text, parse_changes

STREAM_ROWS = 2000
#: For the rest of the review's transaction (PostgreSQL). Costed, once analysed, as 28,000
#: rows times three probes each (a month at a million licenses), the range's statement is
#: over every JIT threshold, and compiling it (inlined, optimised) took 310 ms of a 580 ms
#: statement; each probe is a few microseconds of work that compiling never pays back.
NO_JIT = "SET LOCAL jit = off"


def chain_breaks(session: Session) -> Iterator[ChainBreak]:
    """Every break in the database's history chains: one pass over the history and heads."""
    head = LicenseHistoryHead
    statement = (
        _chain_rows()
        .add_columns(select(head.row_hash).where(_SAME_LICENSE).scalar_subquery())
        .order_by(LicenseChange.provider_cred_license_key, LicenseChange.id)
        .execution_options(yield_per=STREAM_ROWS)
    )
    yield from verify_rows(map(_stored_row, session.execute(statement)))
    orphans = (
        select(head.provider_cred_license_key)
        .where(~select(LicenseChange.id).where(_SAME_LICENSE).exists())
        .order_by(head.provider_cred_license_key)
    )
    for key in session.scalars(orphans):
        yield headless_break(key)


def rows_between(session: Session, since: datetime, until: datetime | None) -> Iterator[StoredRow]:
    """The history rows with ``since <= at < until`` (``until`` ``None``: no end) in chain
    order (license, id), streamed, each with what checking it needs from the rest of its
    chain (``StoredRow``).

    One statement: the range's rows through the history's time index, set apart
    (``MATERIALIZED``) and sorted, then for each row three probes of an index by key
    (migration 0011): the hash of the row before it, the id of the row after it and its
    license's head. Its cost is the range's rows, however long their chains. On SQLite,
    which compares the stored text, the range is read to the end of ``until``'s day and its
    rows kept by their instant: a time respelled by hand (``2026-12-06T09:00:00``) sorts after
    its day's other rows, and a part of a review ends within a day. The set-apart
    range keeps the plan of the streamed (cursor) read: asked for its first rows fast, the
    planner otherwise walked a whole license index in order to skip the sort. (Before, the
    range's licenses were read first, then each chunk's whole chains through window functions:
    at a million licenses each chunk's statement was costed as the whole table and
    JIT-compiled, two thirds of the review's time.)
    """
    change, head = LicenseChange, LicenseHistoryHead
    connection = session.connection()
    sqlite = connection.dialect.name == "sqlite"
    in_range = (
        select(*_content_columns())
        .where(*_between(change.at, since, _day_end(until) if sqlite else until))
        .cte("in_range")
        .prefix_with("MATERIALIZED")
    )
    row = in_range.c
    before, after = aliased(LicenseChange), aliased(LicenseChange)
    previous_hash = (
        select(before.row_hash)
        .where(before.provider_cred_license_key == row.provider_cred_license_key)
        .where(before.id < row.id)
        .order_by(before.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    next_id = (
        select(func.min(after.id))
        .where(after.provider_cred_license_key == row.provider_cred_license_key)
        .where(after.id > row.id)
        .scalar_subquery()
    )
    head_hash = (
        select(head.row_hash)
        .where(head.provider_cred_license_key == row.provider_cred_license_key)
        .scalar_subquery()
    )
    statement = (
        select(*in_range.c, previous_hash, next_id, head_hash)
        .order_by(row.provider_cred_license_key, row.id)
        .execution_options(yield_per=STREAM_ROWS)
    )
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(NO_JIT)
    rows = map(_stored_row, connection.execute(statement))
    yield from (row for row in rows if within(row.at, since, until)) if sqlite else rows


def part_end(
    session: Session, start: datetime, until: datetime | None, size: int
) -> datetime | None:
    """Where a part of the range ``start ≤ at < until`` that holds at most ``size`` history
    rows ends (exclusive): the instant of the row after the first ``size``, or ``None`` when
    the rest of the range holds no more. A part never splits an instant: when more than
    ``size`` rows share its first instant (one large batch), the part is that instant alone.

    A few probes of the history's time index (one walk of ``size`` entries), however large the
    range; ``rows_between`` then reads only the part.

    The end is always after ``start``. On SQLite, which compares the stored text, a row whose
    time was respelled by hand (``…T…``) sorts after its day's other rows, so the row found
    may be earlier than ``start``: the rest of the range is then one part (a part that does
    not end after its start would be followed by itself).
    """
    at = LicenseChange.at
    rest = _between(at, start, until)
    boundary = session.scalar(select(at).where(*rest).order_by(at).offset(size).limit(1))
    if boundary is None:
        return None
    first = session.scalar(select(func.min(at)).where(*rest))
    if first is not None and boundary > first:
        end: datetime | None = boundary
    else:
        end = session.scalar(select(func.min(at)).where(at > boundary, *rest[1:]))
    return end if end is not None and end > start else None


def _day_end(until: datetime | None) -> datetime | None:
    """The first midnight at or after ``until``; ``None`` (no end) past the calendar's end."""
    if until is None or until.time() == time.min:
        return until
    day = until.date()
    return None if day == date.max else datetime.combine(day + timedelta(days=1), time.min)


def within(at: datetime, since: datetime, until: datetime | None) -> bool:
    """``since <= at < until``; ``until`` ``None`` is no end."""
    return since <= at and (until is None or at < until)


def _between(at: Any, since: datetime, until: datetime | None) -> list[ColumnElement[bool]]:
    return [at >= since] + ([] if until is None else [at < until])


_SAME_LICENSE = (
    LicenseHistoryHead.provider_cred_license_key == LicenseChange.provider_cred_license_key
)


def _content_columns() -> list[ColumnElement[Any]]:
    """A history row's stored columns, in ``StoredRow``'s order, its changes as stored text
    (``changes_text``; ``_stored_row`` parses them)."""
    change = LicenseChange
    return [
        change.id,
        change.provider_cred_license_key,
        change.provider_cred_key,
        change.activity_id,
        change.at,
        change.user,
        change.action,
        changes_text(),
        change.row_hash,
    ]


def _chain_rows() -> Select[Any]:
    """The history rows as ``StoredRow`` takes them but for the head: each with, from its
    chain (the license's rows in id order), the hash of the row before it and the id of the
    row after it."""
    change = LicenseChange
    chain = {"partition_by": change.provider_cred_license_key, "order_by": change.id}
    return select(
        *_content_columns(),
        func.lag(change.row_hash).over(**chain).label("previous_hash"),
        func.lead(change.id).over(**chain).label("next_id"),
    )


def _stored_row(values: Sequence[Any]) -> StoredRow:
    """A row of ``_content_columns`` and its chain's values as a ``StoredRow``. Changes that
    do not parse stay text (``parse_changes``), so the row fails its hash instead of failing
    the check."""
    row = list(values)  # a Row's slices are slow
    row[7] = parse_changes(row[7])
    return StoredRow(*row)


def broken_licenses(session: Session) -> dict[int, list[ChainBreak]]:
    """License key → its breaks, for every license whose chain does not hold."""
    found: dict[int, list[ChainBreak]] = {}
    for chain_break in chain_breaks(session):
        found.setdefault(chain_break.license_key, []).append(chain_break)
    return found


def describe(chain_break: ChainBreak) -> str:
    """One line for a person: the license, where, and why."""
    at = "" if chain_break.at is None else f" ({_day_time(chain_break.at)})"
    return f"license {chain_break.license_key}: {chain_break.reason}{at}"


def _day_time(value: datetime) -> str:
    return f"{value:%Y-%m-%d %H:%M:%S} UTC"
