"""Server-assigned license keys: a new license needs no key typed, and two people adding at once
both succeed.

License keys are client-assigned in the API (SPEC section 1), so a key handed out here must not
collide with one a client picks at the same moment, on another worker or node. No counter in
memory or in a separate table can promise that: an API client may write key 512 right after a
counter handed it out. So allocation is optimistic and the write itself is the arbiter:

1. read one past the highest key the database has ever used (live licenses and history, whose
   deleted keys must not be reused) — one statement;
2. write the new items under those keys through the ordinary upsert, each with the expected
   version "no row" (``expected_versions[key] = None``): under the engine's write lock (SQLite's
   ``BEGIN IMMEDIATE``, PostgreSQL's per-key locks) a key someone else took in between answers a
   conflict instead of updating or stealing their row;
3. give the items that lost such a race fresh keys and write them again (a few rounds at most:
   every round, every racer but at most one per key wins).

Every write is the license service's one transaction; nothing here locks, counts or commits on
its own, so the transaction shape is the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence, Set
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.batch.outcome import CONFLICT, ItemOutcome
from app.history.models import LicenseChange
from app.licenses.models import ProviderCredLicense
from app.licenses.schemas import KEY_FIELD
from app.licenses.service import upsert_licenses
from app.wire.fields import INT32_MAX, is_int32

#: Rounds of "fresh keys for the items that lost a race" before giving up on them.
ALLOCATION_ROUNDS = 8
NO_FREE_KEY = "No free license key is left in this database; type a key for this license."
GAVE_UP = "Others kept taking the same new keys; save again to get a fresh one."


class KeysExhausted(RuntimeError):
    """Every int32 key above the highest one in use is taken."""


def highest_key(session: Session) -> int:
    """The highest license key this database has used, live or in history (0 when none).

    Ends the read transaction it opens: the write that follows must begin its own (on SQLite
    ``BEGIN IMMEDIATE`` refuses to start inside a read).
    """
    live = select(func.max(ProviderCredLicense.provider_cred_license_key)).scalar_subquery()
    past = select(func.max(LicenseChange.provider_cred_license_key)).scalar_subquery()
    try:
        row = session.execute(select(live, past)).one()
    finally:
        session.rollback()
    return max((key for key in row if key is not None), default=0)


def fresh_keys(session: Session, count: int, avoid: Set[int] = frozenset()) -> list[int]:
    """``count`` keys above every key in use, none of ``avoid`` (the keys typed into the same
    batch); raises ``KeysExhausted`` past int32."""
    keys: list[int] = []
    candidate = highest_key(session) + 1
    while len(keys) < count:
        if candidate > INT32_MAX:
            raise KeysExhausted
        if candidate not in avoid:
            keys.append(candidate)
        candidate += 1
    return keys


def needs_key(item: Any) -> bool:
    return isinstance(item, dict) and item.get(KEY_FIELD) is None


def upsert_assigning_keys(
    session: Session,
    provider_cred_key: int,
    items: Sequence[Any],
    *,
    actor: str | None,
    activity_id: str,
    dry_run: bool = False,
    expected_versions: Mapping[int, datetime | None] | None = None,
) -> list[ItemOutcome]:
    """``upsert_licenses``, where every item without a key gets a free one from the server.

    Items that carry a key are written as the API writes them (a hand-typed key is honoured).
    One outcome per item, in order; an assigned key is the outcome's ``key``.
    """
    items = [dict(item) if isinstance(item, dict) else item for item in items]
    expected: dict[int, datetime | None] = dict(expected_versions or {})
    outcomes: list[ItemOutcome | None] = [None] * len(items)
    pending = [i for i, item in enumerate(items) if not needs_key(item)]
    keyless = [i for i, item in enumerate(items) if needs_key(item)]
    typed = {k for item in items if isinstance(item, dict) and is_int32(k := item.get(KEY_FIELD))}
    for round_number in range(ALLOCATION_ROUNDS + 1):
        if keyless:
            try:
                keys = fresh_keys(session, len(keyless), avoid=typed)
            except KeysExhausted:
                for i in keyless:
                    outcomes[i] = _refused(i, NO_FREE_KEY)
                keyless = []
                keys = []
            for i, key in zip(keyless, keys, strict=True):
                items[i][KEY_FIELD] = key
                expected[key] = None
            pending.extend(keyless)
        if not pending:
            break
        pending.sort()
        results = upsert_licenses(
            session,
            provider_cred_key,
            [items[i] for i in pending],
            actor=actor,
            activity_id=activity_id,
            dry_run=dry_run,
            expected_versions=expected,
        )
        lost: list[int] = []
        assigned = set(keyless)
        for i, outcome in zip(pending, results, strict=True):
            if i in assigned and outcome.action == CONFLICT:
                # Someone took the key meanwhile: try again with a fresh one.
                expected.pop(items[i][KEY_FIELD], None)
                items[i][KEY_FIELD] = None
                if round_number < ALLOCATION_ROUNDS:
                    lost.append(i)
                else:
                    outcomes[i] = _refused(i, GAVE_UP)
            else:
                if i in assigned and not outcome.ok:
                    outcome.key = None  # refused: the key it was offered is not its
                outcome.index = i
                outcomes[i] = outcome
        keyless, pending = lost, []
    assert all(o is not None for o in outcomes)
    return [o for o in outcomes if o is not None]


def _refused(index: int, message: str) -> ItemOutcome:
    return ItemOutcome(index, None, 409, message, CONFLICT, errors={KEY_FIELD: [message]})
