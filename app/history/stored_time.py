"""A history row's time (``at``) as stored, whatever was made of it by hand: the one reader of
it, for every view of the history and for its checks.

PostgreSQL stores a ``timestamp``: it holds an instant and nothing else, read as it is. SQLite
stores the service's spelling of one (``2026-12-06 09:00:00.000000``, UTC) as text, which a
row edited in ``sqlite3`` can respell: with a zone (``…T09:00:00Z``, ``…+05:00``), which
SQLAlchemy would read as a time aware of its zone and every comparison with the service's
naive UTC times then fails; or as text that is no time at all (``2026-12-06 9:00:00``,
``garbage``, empty), on which SQLAlchemy's reader fails the whole read. Read through here, no
such row fails its reader: a time with a zone is its instant in UTC, and a time that does not
read stays text, which the history API and page show as stored and the integrity review and
``verify-history`` report as altered.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import ColumnElement, DateTime, Dialect, LargeBinary, TypeDecorator, cast
from sqlalchemy.types import TypeEngine

from app.history.stored_changes import decode_stored

#: Read from ``license_change.at`` (``time_as_stored``): an instant (naive, UTC), or the
#: stored text of a time that does not read as one.
StoredTime = datetime | str


class _TimeAsStored(TypeDecorator[StoredTime]):
    """PostgreSQL: the ``timestamp`` (cast to itself, which its planner drops), read as ever.
    SQLite: the stored text, read as its bytes (a byte that is not UTF-8 would fail the read,
    as in ``app.history.stored_changes``) and parsed by ``_read_sqlite_time`` in the same
    call, so that a row costs the review one Python call, as SQLAlchemy's own reader did."""

    impl = DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(LargeBinary())
        return dialect.type_descriptor(DateTime())

    def result_processor(self, dialect: Dialect, coltype: object) -> Any:
        if dialect.name == "sqlite":
            return _read_sqlite_time
        return super().result_processor(dialect, coltype)


def time_as_stored(column: Any) -> ColumnElement[StoredTime]:
    """``column`` (``license_change.at``, or an aggregate of it) read as ``StoredTime``,
    whatever was made of it by hand."""
    return cast(column, _TimeAsStored())


def _read_sqlite_time(stored: bytes | None) -> StoredTime | None:
    """The instant SQLite's stored text names, as the service writes one (naive, UTC): a time
    with a zone is converted to UTC. Text that does not read as a time (edited by hand) stays
    text, a byte that is not UTF-8 in it spelled ``\\xff``."""
    if stored is None:
        return None
    text = decode_stored(stored)  # with a byte that is not UTF-8 (``\\xff``), no time parses
    try:
        at = datetime.fromisoformat(text)
        if not _spells_its_day(text):  # 20261206T…, 2026-W49-7
            return text
        return at if at.tzinfo is None else at.astimezone(UTC).replace(tzinfo=None)
    except (ValueError, OverflowError):  # OverflowError: a zone past the calendar's ends
        return text


def day_named(text: str) -> datetime | None:
    """The start of the day a time that does not read still names in its first ten
    characters (``2026-12-06 9:00:00``), where the history places it; ``None`` when it names
    none (``garbage``, empty): it then has no time to fall in a date range."""
    try:
        day = date.fromisoformat(text[:10])
    except ValueError:
        return None
    # 20261206T…, 2026-W49-7: Python reads a day in them, but their text sorts off its days
    return datetime.combine(day, datetime.min.time()) if _spells_its_day(text) else None


def _spells_its_day(text: str) -> bool:
    """Whether ``text``, which Python reads as a day or a time, begins with its day as the
    service spells one (``2026-12-06``), not as ``20261206`` or ``2026-W49-7``: their text
    sorts off their day's, where the review's SQLite range
    (``app.history.verification._sqlite_range``) would never find them."""
    return text[4:5] == "-" == text[7:8]
