"""Set-wise upsert and delete of client-keyed rows, one outcome per item.

The engine writes in the caller's session and transaction, the same way on every database:
it makes the transaction a writer's (``tenancy.begin_write``: ``BEGIN IMMEDIATE`` on SQLite),
reads what the batch needs, plans each item (``app.batch.plan``, pure), writes the plan with a
constant number of statements (``app.batch.write``) and commits, or rolls back on any failure.
So a caller may read before it writes, and a batch is wholly written or not at all.

Concurrency: on SQLite the write lock is taken up front, so writers are serialised. On
PostgreSQL a writer first takes one transaction-scoped advisory lock on its parent record (a
ProviderCred, for licenses; the writers of an entity without a parent table, credentials and
license types, share one lock), so two requests writing the same parent are serialised and the
second sees the first's rows: the rows a batch updates are its parent's, and no other writer
touches them until it commits. A writer under another parent that stores one of the batch's
new keys between this writer's read and its write fails the batch's insert (the key's primary
key, ``KeyTaken``; new rows go in key order, so two such writers wait for each other in one
direction only, never in a cycle); the engine then rolls back, reads and plans again, this time
holding the entity's new-keys lock exclusively (every batch holds it shared), so no other batch
can store a key between its read and its write, and the key now answers as another parent's.
``RACE_ATTEMPTS`` bounds the attempts should a writer outside the engine keep taking keys.

Round trips on PostgreSQL: ``BEGIN``, the setting that keeps the batch's statements on their
generic plans, the lock and the read are one; the writes and ``COMMIT`` another
(``app.batch.write``).

When the set-wise write hits an unexpected data error, the batch is replayed one item per
savepoint, so the error stays on the items that cause it and never leaves a half-written row.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from app.audit import utcnow
from app.batch import plan as planning
from app.batch import write
from app.batch.outcome import DELETED, ConcurrentWrites, ItemOutcome, KeyTaken
from app.batch.plan import Plan
from app.batch.spec import EntitySpec
from app.db_errors import UNAVAILABLE_ERRORS, is_missing_schema_object, rollback_quietly
from app.tenancy import begin_write

log = logging.getLogger("credgrid.batch")

UPSERT_MODES = ("upsert", "create", "update")
#: Reads and plans per batch when other writers keep taking its new keys (``KeyTaken``).
RACE_ATTEMPTS = 3


def upsert_rows(
    session: Session,
    spec: EntitySpec,
    items: Sequence[Any],
    *,
    actor: str | None,
    activity_id: str,
    parent_key: int | None = None,
    mode: str = "upsert",
    atomic: bool = False,
    dry_run: bool = False,
    expected_versions: Mapping[int, datetime | None] | None = None,
    recorded_at: datetime | None = None,
) -> list[ItemOutcome]:
    """Create or update ``items``; one outcome per item, in order. Commits unless ``dry_run``.

    ``mode``: ``upsert`` (the batch), ``create`` (an existing key is 409) or ``update`` (a
    missing key is 404). ``expected_versions`` maps keys to the ``update_date`` the caller last
    saw (``None``: it saw no row); a row changed since is not written (409 with its values).
    ``recorded_at`` (naive UTC, not after now; default now) is the instant the write's audit
    stamps and history rows carry, sealed into the history's hash chain like any other: for
    seeding data with a past (the demo), never for a live write.
    Raises ``ParentNotFound`` when ``parent_key`` does not exist (nothing is written).
    """
    assert mode in UPSERT_MODES, mode
    if recorded_at is not None and recorded_at > utcnow():
        raise ValueError(f"recorded_at {recorded_at} is in the future")
    outcomes: list[ItemOutcome | None] = [None] * len(items)
    candidates = planning.validate_items(spec, items, parent_key, outcomes)
    keys = [data[spec.key_column] for _, data in candidates]
    unchecked = planning.unchecked_references(spec, items, outcomes)
    wanted_refs = planning.referenced_keys(spec, candidates, unchecked)
    isolate, races = False, 0
    while True:
        try:
            begin_write(session)
            with write.transaction(session) as tx:
                state = write.read_state(
                    tx, spec, keys, parent_key, wanted_refs, new_keys_exclusive=races > 0
                )
                planning.add_reference_errors(spec, unchecked, outcomes, state.found)
                plan = planning.plan_upserts(
                    spec,
                    candidates,
                    outcomes,
                    state.rows,
                    state.found,
                    parent_key=parent_key,
                    mode=mode,
                    expected_versions=expected_versions,
                )
                return _finish(
                    session,
                    tx,
                    spec,
                    plan,
                    state.heads,
                    actor,
                    activity_id,
                    atomic,
                    dry_run,
                    isolate,
                    recorded_at,
                )
        except KeyTaken as race:
            session.rollback()
            races += 1
            if races >= RACE_ATTEMPTS:
                raise ConcurrentWrites(str(race)) from race
            log.info(
                "activity=%s %s write raced (%s); planning again", activity_id, spec.label, race
            )
        except UNAVAILABLE_ERRORS:  # the database, not the data: no item-by-item retry
            rollback_quietly(session)
            raise
        except SQLAlchemyError as error:
            session.rollback()
            # A table or column the schema lacks fails every item alike: the database's fault
            # (app.errors answers 503), not the data's, so no item-by-item replay.
            if isolate or is_missing_schema_object(error):
                raise
            log.warning(
                "activity=%s set-wise %s write failed; retrying item by item",
                activity_id,
                spec.label,
                exc_info=True,
            )
            isolate = True
        except BaseException:  # ParentNotFound, or anything unexpected: nothing is written
            session.rollback()
            raise


def delete_rows(
    session: Session,
    spec: EntitySpec,
    keys: Sequence[int],
    *,
    actor: str | None,
    activity_id: str,
    parent_key: int | None = None,
    expected_versions: Mapping[int, datetime | None] | None = None,
) -> list[ItemOutcome]:
    """Delete ``keys`` (under ``parent_key`` when the entity has a parent); one outcome each,
    as ``plan.plan_deletes`` decides. Raises ``ParentNotFound`` like ``upsert_rows``."""
    try:
        begin_write(session)
        with write.transaction(session) as tx:
            state = write.read_state(tx, spec, list(keys), parent_key, {})
            in_use = write.keys_in_use(tx, spec, list(state.rows))
            outcomes, doomed = planning.plan_deletes(
                spec,
                keys,
                state.rows,
                in_use,
                parent_key=parent_key,
                expected_versions=expected_versions,
            )
            if doomed:
                write.delete_keys(tx, spec, doomed)
                if spec.history is not None:
                    deleted = [o for o in outcomes if o.action == DELETED]
                    old_rows = {o.index: doomed[o.key] for o in deleted if o.key is not None}
                    rows = planning.history_rows(
                        spec, deleted, Plan(outcomes=[], old_rows=old_rows)
                    )
                    shared = planning.history_shared(
                        user=planning.audit_user(actor), now=utcnow(), activity_id=activity_id
                    )
                    write.write_tables(tx, _history_writes(spec, rows, shared, state.heads))
            session.commit()
    except BaseException:
        session.rollback()
        raise
    return outcomes


def _finish(
    session: Session,
    tx: write.Transaction,
    spec: EntitySpec,
    plan: Plan,
    heads: Mapping[int, str],
    actor: str | None,
    activity_id: str,
    atomic: bool,
    dry_run: bool,
    isolate: bool,
    recorded_at: datetime | None = None,
) -> list[ItemOutcome]:
    outcomes = planning.completed(plan)
    if atomic and any(not o.ok for o in outcomes):
        session.rollback()
        return planning.not_applied(outcomes)
    if dry_run:
        session.rollback()
        return outcomes
    user, now = planning.audit_user(actor), recorded_at or utcnow()
    if isolate:
        _write_item_by_item(session, tx, spec, plan, heads, outcomes, user, now, activity_id)
        if atomic and any(not o.ok for o in outcomes):
            session.rollback()
            return planning.not_applied(outcomes)
    else:
        # COMMIT goes with the writes when nothing else of the session's is left to flush.
        commit = tx.owned and not (session.new or session.dirty or session.deleted)
        _write_plan(tx, spec, plan, heads, outcomes, user, now, activity_id, commit=commit)
    session.commit()
    return outcomes


def _write_plan(
    tx: write.Transaction,
    spec: EntitySpec,
    plan: Plan,
    heads: Mapping[int, str],
    outcomes: list[ItemOutcome],
    user: str | None,
    now: datetime,
    activity_id: str,
    *,
    commit: bool = False,
) -> None:
    """The created and updated rows, their history and the history's new heads: three
    statements on SQLite (one upsert for the rows), two on PostgreSQL (the rows', then the
    history's, in one round trip with ``COMMIT`` when ``commit``; the history is built while
    the server writes the rows).

    Which rows exist was decided under the parent's lock: the stored rows are updated (their
    data fields and update stamps, never the entry stamps), the others inserted, which fails
    when a writer under another parent stored one of those keys in between (``KeyTaken``).
    """
    stamps = {"entry_date": now, "entry_user": user, "update_date": now, "update_user": user}
    # New rows in key order: two writers under different parents that insert some of the same
    # new keys then meet them in the same order, so one waits for the other and fails on the
    # key's primary key (planned again) instead of both waiting for each other (a deadlock).
    inserts = sorted(plan.inserts.values(), key=lambda data: data[spec.key_column])
    rows = write.TableWrite(
        spec.table,
        [*inserts, *plan.updates.values()],
        how=write.SAVE,
        key_column=spec.key_column,
        update_columns=(*spec.data_fields, "update_date", "update_user"),
        same_column=spec.parent_column or spec.key_column,
        inserted=len(plan.inserts),
        shared=stamps,
        columns=tuple(spec.fields),
    )

    def build_history() -> list[write.TableWrite]:
        changes = planning.history_rows(
            spec, [outcomes[i] for i in (*plan.inserts, *plan.updates)], plan
        )
        shared = planning.history_shared(user=user, now=now, activity_id=activity_id)
        return _history_writes(spec, changes, shared, heads)

    # The history is built while the server writes the rows (``write_tables``' ``then``).
    then = build_history if spec.history is not None else None
    write.write_tables(tx, [rows], then=then, commit=commit)


def _history_writes(
    spec: EntitySpec,
    rows: list[dict[str, Any]],
    shared: Mapping[str, Any],
    heads: Mapping[int, str],
) -> list[write.TableWrite]:
    """The history rows (with the values they all share, ``shared``) and, when sealed (tamper
    evidence), the keys' new newest hashes, chained onto ``heads`` (read with the rows, under
    the parent's lock)."""
    history = spec.history
    assert history is not None
    writes = [write.TableWrite(history.table, rows, shared=shared)]
    if rows and history.seal is not None and history.heads is not None:
        key, hash_column = history.key_column, history.hash_column
        newest = history.seal(rows, heads, shared)
        new_heads = [{key: k, hash_column: h} for k, h in sorted(newest.items())]
        writes.append(
            write.TableWrite(
                history.heads,
                new_heads,
                how=write.UPSERT,
                key_column=key,
                update_columns=(hash_column,),
            )
        )
    return writes


def _write_item_by_item(
    session: Session,
    tx: write.Transaction,
    spec: EntitySpec,
    plan: Plan,
    heads: Mapping[int, str],
    outcomes: list[ItemOutcome],
    user: str | None,
    now: datetime,
    activity_id: str,
) -> None:
    """The fallback: each item in its own savepoint, so a failure stays on that item."""
    for index in (*plan.inserts, *plan.updates):
        try:
            with session.begin_nested():
                session.connection()  # the SAVEPOINT (SQLAlchemy emits it on first use)
                _write_plan(tx, spec, plan.only(index), heads, outcomes, user, now, activity_id)
        except UNAVAILABLE_ERRORS:
            raise
        except SQLAlchemyError:
            log.exception("activity=%s %s %s failed", activity_id, spec.label, outcomes[index].key)
            outcomes[index] = planning.internal_error(outcomes[index], activity_id)
