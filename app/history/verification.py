"""Checking the history chains of one database: every chain (``flask verify-history``), or
the rows of a date range (the integrity review).

Each row is read with the stored hash of the row before it and whether a row follows it
(window functions over its license's chain), so it checks on its own (``verify_rows``).
The walk streams the rows (``yield_per``), so the whole table is never in memory; heads whose
license has no history row left are found by a second, anti-joined query.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import Session

from app.batch.write import key_in, key_set
from app.history.chain import ChainBreak, StoredRow, headless_break, verify_rows
from app.history.models import LicenseChange, LicenseHistoryHead

STREAM_ROWS = 2000
#: Licenses whose range rows one statement of ``rows_between`` reads.
LICENSES_PER_STATEMENT = 2000


def chain_breaks(session: Session) -> Iterator[ChainBreak]:
    """Every break in the database's history chains: one pass over the history and heads."""
    head = LicenseHistoryHead
    statement = (
        _chain_rows()
        .add_columns(select(head.row_hash).where(_SAME_LICENSE).scalar_subquery())
        .order_by(LicenseChange.provider_cred_license_key, LicenseChange.id)
        .execution_options(yield_per=STREAM_ROWS)
    )
    yield from verify_rows(StoredRow(*row) for row in session.execute(statement))
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

    The licenses with rows in the range (the history's time index), then those licenses'
    chains through the license index, a few thousand licenses a statement, each row's
    neighbours computed by the database (window functions over the whole chain): only the
    range's rows are sent, however long the chains, and they are streamed. (One statement for
    every license took about twice as long through a server-side cursor at a million
    licenses; a chunk's is planned as a walk of the license index.)
    """
    change, head = LicenseChange, LicenseHistoryHead
    keys = list(
        session.scalars(
            select(change.provider_cred_license_key)
            .distinct()
            .where(*_between(change.at, since, until))
        )
    )
    if not keys:
        return
    dialect = session.get_bind().dialect.name
    chains = (
        _chain_rows()
        .where(key_in(change.provider_cred_license_key, "keys", dialect))
        .subquery("chain")
    )
    row = chains.c
    head_hash = (
        select(head.row_hash)
        .where(head.provider_cred_license_key == row.provider_cred_license_key)
        .scalar_subquery()
    )
    statement = (
        select(chains, head_hash)
        .where(*_between(row.at, since, until))
        .order_by(row.provider_cred_license_key, row.id)
        .execution_options(yield_per=STREAM_ROWS)
    )
    keys.sort()
    for start in range(0, len(keys), LICENSES_PER_STATEMENT):
        chunk = keys[start : start + LICENSES_PER_STATEMENT]
        parameters = {"keys": key_set(dialect, chunk)}
        yield from (StoredRow(*values) for values in session.execute(statement, parameters))


def within(at: datetime, since: datetime, until: datetime | None) -> bool:
    """``since <= at < until``; ``until`` ``None`` is no end."""
    return since <= at and (until is None or at < until)


def _between(at: Any, since: datetime, until: datetime | None) -> list[ColumnElement[bool]]:
    return [at >= since] + ([] if until is None else [at < until])


_SAME_LICENSE = (
    LicenseHistoryHead.provider_cred_license_key == LicenseChange.provider_cred_license_key
)


def _chain_rows() -> Select[Any]:
    """The history rows as ``StoredRow`` takes them but for the head: each with, from its
    chain (the license's rows in id order), the hash of the row before it and the id of the
    row after it."""
    change = LicenseChange
    chain = {"partition_by": change.provider_cred_license_key, "order_by": change.id}
    return select(
        change.id,
        change.provider_cred_license_key,
        change.provider_cred_key,
        change.activity_id,
        change.at,
        change.user,
        change.action,
        change.changes,
        change.row_hash,
        func.lag(change.row_hash).over(**chain).label("previous_hash"),
        func.lead(change.id).over(**chain).label("next_id"),
    )


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
