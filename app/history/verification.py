"""Checking the history chains of one database: every chain (``flask verify-history``), or
the breaks of a date range (the integrity review).

The rows stream in license and id order (``yield_per``), so the whole table is never in
memory; heads whose license has no history row left are found by a second, anti-joined query.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from itertools import groupby
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from app.batch.write import key_in, key_set
from app.history.chain import ChainBreak, StoredRow, headless_break, verify_chains
from app.history.models import LicenseChange, LicenseHistoryHead

STREAM_ROWS = 2000


def chain_breaks(session: Session) -> Iterator[ChainBreak]:
    """Every break in the database's history chains: one pass over the history and heads."""
    head = LicenseHistoryHead
    statement = _chain_rows(head.row_hash).outerjoin(head, _SAME_LICENSE)
    yield from verify_chains(StoredRow(*row) for row in session.execute(statement))
    orphans = (
        select(head.provider_cred_license_key)
        .where(~select(LicenseChange.id).where(_SAME_LICENSE).exists())
        .order_by(head.provider_cred_license_key)
    )
    for key in session.scalars(orphans):
        yield headless_break(key)


def chains_with_rows_between(
    session: Session, since: datetime, until: datetime | None
) -> Iterator[list[StoredRow]]:
    """The whole chains (each license's rows in id order, with its head) of the licenses with
    history rows in ``since <= at < until`` (``until`` ``None``: no end), one license at a
    time: the licenses through the history's time index (one statement), their rows through
    the license index and each head by its key (a second). A break with a time in the range
    is in one of these chains: at a row of the range, or at the end of a chain whose newest
    row is in it."""
    change, head = LicenseChange, LicenseHistoryHead
    in_range = [change.at >= since] + ([] if until is None else [change.at < until])
    keys = list(
        session.scalars(select(change.provider_cred_license_key).distinct().where(*in_range))
    )
    if not keys:
        return
    dialect = session.get_bind().dialect.name
    head_hash = select(head.row_hash).where(_SAME_LICENSE).scalar_subquery()
    statement = _chain_rows(head_hash).where(
        key_in(change.provider_cred_license_key, "keys", dialect)
    )
    rows = (StoredRow(*row) for row in session.execute(statement, {"keys": key_set(dialect, keys)}))
    for _, chain in groupby(rows, key=lambda row: row.license_key):
        yield list(chain)


def breaks_between(
    chain: list[StoredRow], since: datetime, until: datetime | None
) -> Iterator[ChainBreak]:
    """The breaks of one license's whole ``chain`` that have a time in the range: what
    ``chain_breaks`` finds there. (A license whose every row was deleted has no row, so no
    time: only ``chain_breaks``, ``flask verify-history``, finds it.)"""
    for chain_break in verify_chains(chain):
        if chain_break.at is not None and within(chain_break.at, since, until):
            yield chain_break


def within(at: datetime, since: datetime, until: datetime | None) -> bool:
    """``since <= at < until``; ``until`` ``None`` is no end."""
    return since <= at and (until is None or at < until)


_SAME_LICENSE = (
    LicenseHistoryHead.provider_cred_license_key == LicenseChange.provider_cred_license_key
)


def _chain_rows(head_hash: Any) -> Select[Any]:
    """The history rows with their license's head hash, in chain order (license, id)."""
    change = LicenseChange
    return (
        select(
            change.id,
            change.provider_cred_license_key,
            change.provider_cred_key,
            change.activity_id,
            change.at,
            change.user,
            change.action,
            change.changes,
            change.row_hash,
            head_hash.label("head"),
        )
        .order_by(change.provider_cred_license_key, change.id)
        .execution_options(yield_per=STREAM_ROWS)
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
