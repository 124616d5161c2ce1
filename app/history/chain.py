"""The license history's hash chain: what makes an edit by hand visible (pure, no database).

Each history row carries ``row_hash = sha256(previous row's hash of that license + "\\n" +
the row's canonical content)``; the first row of a license chains onto ``GENESIS``. The
license's newest hash is also kept outside the history table (``license_history_head``), so
deleting the newest rows breaks the chain too: the last row's hash no longer equals the head.

The canonical content is a JSON array of the stored values, dates as ISO 8601 to the
microsecond and the changes' keys sorted, so it is the same bytes from either database's
read-back. ``app/migrations/versions/0007_compliance_records.py`` keeps its own copy of
``canonical`` and ``link`` (a migration must not change when the application does); a test
checks the two agree.

Tamper-evident, not tamper-proof: someone who can write SQL can recompute every hash. What it
finds is an ``UPDATE``, ``INSERT`` or ``DELETE`` run by hand in ``psql`` or ``sqlite3``.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

import orjson

GENESIS = ""
#: The column of a history row (and of its license's head) that holds the row's hash.
HASH_COLUMN = "row_hash"
#: A history row as the batch engine builds it: ``{column: value}`` of ``license_change``.
HistoryRow = dict[str, Any]


def canonical(
    license_key: int,
    provider_cred_key: int,
    activity_id: str,
    at: datetime,
    user: str | None,
    action: str,
    changes: Mapping[str, Any] | None,
) -> bytes:
    """The bytes a row's hash covers: every stored value but the row id and the hash."""
    return orjson.dumps(
        [
            license_key,
            provider_cred_key,
            activity_id,
            _instant(at),
            user,
            action,
            changes or {},
        ],
        option=orjson.OPT_SORT_KEYS,
    )


def _instant(at: datetime) -> str:
    """``at`` as the content spells it. A batch's rows share one naive instant, formatted once
    (an aware one is not cached: equal instants in two zones are spelled differently)."""
    return _naive_instant(at) if at.tzinfo is None else _spelled(at)


def _spelled(at: datetime) -> str:
    return at.isoformat(sep="T", timespec="microseconds")


_naive_instant = functools.lru_cache(maxsize=256)(_spelled)


def link(previous: str, content: bytes) -> str:
    """The hash of a row with ``content`` following a row hashed ``previous``."""
    return hashlib.sha256(previous.encode() + b"\n" + content).hexdigest()


def seal(
    rows: Sequence[HistoryRow],
    heads: Mapping[int, str],
    shared: Mapping[str, Any] | None = None,
) -> dict[int, str]:
    """Set each row's hash (``rows`` in write order) and return each license's new head.

    ``heads`` are the stored newest hashes of the rows' licenses (absent: no history yet);
    ``shared``, the columns every row holds the same value in, given once and absent from the
    rows (the batch engine's history: one activity, instant and user).
    Called by the batch engine with the heads it read under the licenses' write locks.
    """
    newest: dict[int, str] = {}
    for row in rows:
        values = {**shared, **row} if shared else row
        key = values["provider_cred_license_key"]
        content = canonical(
            key,
            values["provider_cred_key"],
            values["activity_id"],
            values["at"],
            values["user"],
            values["action"],
            values["changes"],
        )
        row[HASH_COLUMN] = newest[key] = link(newest.get(key, heads.get(key, GENESIS)), content)
    return newest


class StoredRow(NamedTuple):
    """One stored history row, with what checking it needs from the rest of its chain: the
    stored hash of the row before it (None: it is the first, or that row has no hash), the id
    of the row after it (None: it ends the chain) and its license's head hash (None: no head).

    A named tuple, not a frozen dataclass: the integrity review makes one per history row of
    its range (28,000 for a month at a million licenses), and a frozen dataclass of twelve
    fields took about three times as long to make (each field set through
    ``object.__setattr__``).
    """

    id: int
    license_key: int
    provider_cred_key: int
    activity_id: str
    #: its instant (naive, UTC); when its stored time does not read as one (``stored_at``),
    #: the start of the day that still names, or ``None``
    at: datetime | None
    user: str | None
    action: str
    changes: Mapping[str, Any] | None
    row_hash: str | None
    previous_hash: str | None
    next_id: int | None
    head: str | None
    #: its time as stored, only when that does not read as a time (edited by hand)
    stored_at: str | None = None

    def content(self) -> bytes:
        return canonical(  # type: ignore[arg-type]  # a row with no time is not hashed
            self.license_key,
            self.provider_cred_key,
            self.activity_id,
            self.at,
            self.user,
            self.action,
            self.changes,
        )


@dataclass(frozen=True)
class ChainBreak:
    """Where one license's chain does not hold: the row (None: the chain's end) and why."""

    license_key: int
    provider_cred_key: int | None
    row_id: int | None
    at: datetime | None
    reason: str


def verify_rows(rows: Iterable[StoredRow]) -> Iterator[ChainBreak]:
    """Every break at ``rows``, each checked on its own against the stored hash of the row
    before it, so any subset of a chain can be checked (the integrity review reads a range).

    An edited row is reported once and the rows after it still check; a deleted or reordered
    row shows as a break at the row that follows it, and deleted newest rows as an end that is
    not the head. A break at the chain's end has the time of its last row. A row whose time
    does not read as one is a break of its own, placed where ``StoredRow.at`` places it.
    """
    for row in rows:
        if row.stored_at is not None:
            yield _break(
                row, f"has a time that is not one, stored as {row.stored_at!r}: edited by hand"
            )
        elif row.row_hash is None:
            yield _break(row, "has no hash: written outside the license service")
        elif row.row_hash != link(row.previous_hash or GENESIS, row.content()):
            yield _break(
                row,
                "does not match its hash: edited, inserted or reordered by hand, or a row "
                "before it was deleted",
            )
        if row.next_id is None:
            yield from _end_of_chain(row)


def headless_break(license_key: int) -> ChainBreak:
    """A head without any history row: every row of the license was deleted."""
    return ChainBreak(license_key, None, None, None, "every history row was deleted")


def unrecorded_break(license_key: int, provider_cred_key: int) -> ChainBreak:
    """A live license without any history row or head: every write of a license records its
    history, so both were deleted."""
    return ChainBreak(
        license_key,
        provider_cred_key,
        None,
        None,
        "is a live license without any history row or newest hash: both were deleted",
    )


def _end_of_chain(last: StoredRow) -> Iterator[ChainBreak]:
    if last.head is None:
        yield ChainBreak(
            last.license_key,
            last.provider_cred_key,
            None,
            last.at,
            "has no newest hash on record (its head was deleted)",
        )
    elif last.head != (last.row_hash or GENESIS):
        yield ChainBreak(
            last.license_key,
            last.provider_cred_key,
            None,
            last.at,
            f"ends at row {last.id}, not at its newest hash on record: newer rows were deleted",
        )


def _break(row: StoredRow, why: str) -> ChainBreak:
    return ChainBreak(row.license_key, row.provider_cred_key, row.id, row.at, f"row {row.id} {why}")
