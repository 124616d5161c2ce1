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

from sqlalchemy import ColumnElement, Select, and_, column, func, not_, or_, select, table
from sqlalchemy.orm import Session, aliased

from app.history.chain import (
    ChainBreak,
    StoredRow,
    headless_break,
    unrecorded_break,
    verify_rows,
)
from app.history.models import LicenseChange, LicenseHistoryHead
from app.history.stored_changes import changes_text, parse_changes
from app.history.stored_time import day_named, time_as_stored

STREAM_ROWS = 2000
#: For the rest of the review's transaction (PostgreSQL). Costed, once analysed, as a month's
#: rows times three probes each, the range's statement is over every JIT threshold, and
#: compiling it (inlined, optimised) took about half of the statement's time; each probe is a
#: few microseconds of work that compiling never pays back (docs/performance.md).
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
    for key, provider_cred_key in session.execute(_unrecorded_licenses()):
        yield unrecorded_break(key, provider_cred_key)


#: The live licenses, by table name: ``app.licenses`` depends on this package, not the reverse.
_LICENSES = table(
    "provider_cred_license", column("provider_cred_license_key"), column("provider_cred_key")
)


def _unrecorded_licenses() -> Select[Any]:
    """The live licenses with neither a history row nor a head (each one index probe)."""
    key = _LICENSES.c.provider_cred_license_key
    head = LicenseHistoryHead
    return (
        select(key, _LICENSES.c.provider_cred_key)
        .where(
            ~select(LicenseChange.id).where(LicenseChange.provider_cred_license_key == key).exists()
        )
        .where(
            ~select(head.provider_cred_license_key)
            .where(head.provider_cred_license_key == key)
            .exists()
        )
        .order_by(key)
    )


def rows_between(
    session: Session, since: datetime, until: datetime | None, *, lookback: datetime | None = None
) -> Iterator[StoredRow]:
    """The history rows with ``since <= at < until`` (``until`` ``None``: no end) in chain
    order (license, id), streamed, each with what checking it needs from the rest of its
    chain (``StoredRow``). With ``lookback``, also the rows from ``lookback`` to ``since`` of
    the licenses that have a row in the range (what the rules look back at), not every
    license's: after a bulk change each part of the review read the whole hour before it
    (300,000 rows written in six minutes: the last part of that day's review 8.8 s, against
    0.2 s for the first).

    One statement: the range's rows through the history's time index, set apart
    (``MATERIALIZED``) and sorted, then for each row three probes of an index by key
    (migration 0011): the hash of the row before it, the id of the row after it and its
    license's head. Its cost is the range's rows, however long their chains. On SQLite,
    which compares the stored text, the rows spelled otherwise than the service spells a time
    (``2026-12-06T09:00:00`` sorts after its day's other rows) are read from a day before the
    range to a day after the end of its last day (``_sqlite_range``) and kept by their
    instant: a time with a zone (``…T01:00:00+05:00``: the day before, in UTC) or one that
    does not read (placed at the start of its day) may fall in the range. The set-apart
    range keeps the plan of the streamed (cursor) read: asked for its first rows fast, the
    planner otherwise walked a whole license index in order to skip the sort. (Before, the
    range's licenses were read first, then each chunk's whole chains through window functions:
    at a million licenses each chunk's statement was costed as the whole table and
    JIT-compiled, two thirds of the review's time.)
    """
    change, head = LicenseChange, LicenseHistoryHead
    connection = session.connection()
    sqlite = connection.dialect.name == "sqlite"

    def rows_of(low: datetime, high: datetime | None) -> list[ColumnElement[bool]]:
        return _sqlite_range(low, high) if sqlite else _between(change.at, low, high)

    condition = and_(*rows_of(since, until))
    if lookback is not None and lookback < since:
        # Not correlated: the range's own rows (the same table, named alike in SQL's nearer scope)
        in_range_keys = select(change.provider_cred_license_key).where(condition).correlate(None)
        key = change.provider_cred_license_key
        earlier = and_(*rows_of(lookback, since), key.in_(in_range_keys))
        condition = or_(condition, earlier)
    in_range = (
        select(*_content_columns()).where(condition).cte("in_range").prefix_with("MATERIALIZED")
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
    low = since if lookback is None else min(lookback, since)
    yield from (row for row in rows if _placed_within(row, low, until)) if sqlite else rows


def part_end(
    session: Session, start: datetime, until: datetime | None, size: int
) -> datetime | None:
    """Where a part of the range ``start ≤ at < until`` that holds at most ``size`` history
    rows ends (exclusive): the instant of the row after the first ``size``, or ``None`` when
    the rest of the range holds no more. A part never splits an instant: when more than
    ``size`` rows share its first instant (one large batch), the part is that instant alone.

    A few probes of the history's time index (one walk of ``size`` entries), however large the
    range; ``rows_between`` then reads only the part. On SQLite, which compares the stored
    text, only the times spelled as the service spells one are counted (``_sqlite_range``
    finds the others): their text sorts as their instants do, so the end is after ``start``.
    """
    at = LicenseChange.at
    rest = _between(at, start, until)
    if session.get_bind().dialect.name == "sqlite":
        rest.append(at.op("GLOB", is_comparison=True)(SERVICE_SPELLING))
    boundary = session.scalar(select(at).where(*rest).order_by(at).offset(size).limit(1))
    if boundary is None:
        return None
    if boundary > session.scalar(select(func.min(at)).where(*rest)):
        return boundary
    return session.scalar(select(func.min(at)).where(at > boundary, *rest[1:]))


_DIGIT = "[0-9]"
#: The service's spelling of a time in SQLite's text column (SQLAlchemy's, to the microsecond).
SERVICE_SPELLING = (
    f"{_DIGIT * 4}-{_DIGIT * 2}-{_DIGIT * 2} {_DIGIT * 2}:{_DIGIT * 2}:{_DIGIT * 2}.{_DIGIT * 6}"
)
MARGIN = timedelta(days=1)


def _sqlite_range(since: datetime, until: datetime | None) -> list[ColumnElement[bool]]:
    """What SQLite reads, comparing stored text, for the rows of ``since <= at < until``: the
    range's times spelled as the service spells one (their text sorts as their instants do),
    and from a day before it to a day after the end of its last day the times spelled
    otherwise. A zone is less than a day from UTC,
    so a time with one is spelled on a day next to its instant's; a time that does not read
    is spelled on the day it is placed at. The margin's days are a walk of the time index
    (its entries tested by GLOB), of whose rows only those spelled otherwise are read."""
    at, end = LicenseChange.at, _day_end(until)
    low = since - MARGIN if since - datetime.min >= MARGIN else datetime.min
    high = None if end is None or datetime.max - end < MARGIN else end + MARGIN
    return [
        *_between(at, low, high),
        or_(
            and_(*_between(at, since, until)),
            not_(at.op("GLOB", is_comparison=True)(SERVICE_SPELLING)),
        ),
    ]


def _placed_within(row: StoredRow, since: datetime, until: datetime | None) -> bool:
    """A row of ``_sqlite_range`` is of ``since <= at < until`` by its instant; a row whose
    time names no day, of no range."""
    return row.at is not None and within(row.at, since, until)


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
        time_as_stored(change.at).label("at"),
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
    the check; a time that does not read (``time_as_stored``) is kept as stored, and the row
    placed at the start of the day it names (``StoredRow.at``), a break of its own."""
    row = list(values)  # a Row's slices are slow
    row[7] = parse_changes(row[7])
    at = row[4]
    if type(at) is str:
        row[4] = day_named(at)
        return StoredRow(*row, at)
    return StoredRow(*row)


def describe(chain_break: ChainBreak) -> str:
    """One line for a person: the license, where, and why."""
    at = "" if chain_break.at is None else f" ({_day_time(chain_break.at)})"
    return f"license {chain_break.license_key}: {chain_break.reason}{at}"


def _day_time(value: datetime) -> str:
    # isoformat: strftime's %Y writes the year 1 as "1", which is not a date.
    return f"{value.isoformat(sep=' ', timespec='seconds')} UTC"
