"""Walking every license's history chain in one database (``flask verify-history``).

The rows stream in license and id order (``yield_per``), so the whole table is never in
memory; heads whose license has no history row left are found by a second, anti-joined query.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.history.chain import ChainBreak, StoredRow, headless_break, verify_chains
from app.history.models import LicenseChange, LicenseHistoryHead

STREAM_ROWS = 2000


def chain_breaks(session: Session, license_keys: list[int] | None = None) -> Iterator[ChainBreak]:
    """Every break in the database's history chains (or in those of ``license_keys``)."""
    head = LicenseHistoryHead
    statement = (
        select(
            LicenseChange.id,
            LicenseChange.provider_cred_license_key,
            LicenseChange.provider_cred_key,
            LicenseChange.activity_id,
            LicenseChange.at,
            LicenseChange.user,
            LicenseChange.action,
            LicenseChange.changes,
            LicenseChange.row_hash,
            head.row_hash.label("head"),
        )
        .outerjoin(head, head.provider_cred_license_key == LicenseChange.provider_cred_license_key)
        .order_by(LicenseChange.provider_cred_license_key, LicenseChange.id)
        .execution_options(yield_per=STREAM_ROWS)
    )
    orphans = (
        select(head.provider_cred_license_key)
        .where(
            ~select(LicenseChange.id)
            .where(LicenseChange.provider_cred_license_key == head.provider_cred_license_key)
            .exists()
        )
        .order_by(head.provider_cred_license_key)
    )
    if license_keys is not None:
        statement = statement.where(LicenseChange.provider_cred_license_key.in_(license_keys))
        orphans = orphans.where(head.provider_cred_license_key.in_(license_keys))
    rows = (StoredRow(*row) for row in session.execute(statement))
    yield from verify_chains(rows)
    for key in session.scalars(orphans):
        yield headless_break(key)


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
