"""Set-wise upsert and delete of client-keyed rows, one outcome per item.

Cost per call, whatever the number of items: SQLite ``BEGIN IMMEDIATE`` or PostgreSQL advisory
locks (1), the existing rows with the parent and reference keys (1), one upsert for created
and updated rows, one insert for their history. No per-item query, except on the rare path
where the set-wise write hits an unexpected database error: then the batch is replayed one
item per savepoint, so the error is confined to the items that cause it and never leaves a
half-written row.

Concurrency: on SQLite the write lock is taken up front, so writers are serialised. On
PostgreSQL every writer first takes transaction-scoped advisory locks on the keys it touches,
in key order (no deadlock), so two requests creating the same new key are serialised and the
second sees the first's row and updates it.
"""

from __future__ import annotations

import functools
import gc
import json
import logging
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any

from marshmallow import Schema
from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Integer,
    Table,
    bindparam,
    delete,
    func,
    literal_column,
    select,
    text,
)
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from app.api.fields import format_wire_datetime, is_int32
from app.audit import AUDIT_USER_LENGTH, utcnow
from app.batch import bulk, transaction
from app.batch.outcome import (
    CONFLICT,
    CREATED,
    DELETED,
    FAILED,
    INVALID,
    NOT_APPLIED,
    NOT_FOUND,
    UNCHANGED,
    UPDATED,
    ItemOutcome,
    ParentNotFound,
)
from app.batch.transaction import WriteTransaction
from app.db_errors import UNAVAILABLE_ERRORS
from app.licenses.validation import FieldErrors, describe_errors, load_item

log = logging.getLogger("credgrid.batch")

Validator = Callable[[Any], tuple[dict[str, Any] | None, FieldErrors]]


@dataclass(frozen=True)
class Reference:
    """A column whose non-null values must exist as keys of another table."""

    column: str
    field: str
    table: Table
    key_column: str
    label: str


@dataclass(frozen=True)
class Dependent:
    """A table whose rows point at this entity; such rows block a delete."""

    table: Table
    column: str
    label: str


@dataclass(frozen=True)
class HistorySpec:
    table: Table
    key_column: str
    parent_column: str


@dataclass(frozen=True)
class EntitySpec:
    """Everything the engine needs to know about one client-keyed entity."""

    label: str
    table: Table
    key_column: str
    key_field: str
    schema: Schema
    lock_namespace: int
    parent_column: str | None = None
    parent_field: str | None = None
    parent_path_name: str | None = None
    parent_label: str | None = None
    parent_table: Table | None = None
    parent_key_column: str | None = None
    references: tuple[Reference, ...] = ()
    dependents: tuple[Dependent, ...] = ()
    history: HistorySpec | None = None
    validator: Validator | None = None
    #: attribute → JSON name of every client-written field, in wire order (the key included).
    fields: dict[str, str] = field(default_factory=dict)

    def validate(self, raw: Any) -> tuple[dict[str, Any] | None, FieldErrors]:
        if self.validator is not None:
            return self.validator(raw)
        return load_item(self.schema, raw)

    @cached_property
    def data_fields(self) -> dict[str, str]:
        """The compared and written fields: all client fields but the key (computed once)."""
        return {a: j for a, j in self.fields.items() if a != self.key_column}

    @cached_property
    def data_field_pairs(self) -> tuple[tuple[str, str], ...]:
        """``data_fields`` as (attribute, JSON name) pairs, for the per-item loops."""
        return tuple(self.data_fields.items())


@dataclass
class _Plan:
    """What one pass decided, before anything is written."""

    outcomes: list[ItemOutcome | None]
    inserts: dict[int, dict[str, Any]] = field(default_factory=dict)
    updates: dict[int, dict[str, Any]] = field(default_factory=dict)
    old_rows: dict[int, Mapping[str, Any]] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------
# Upsert


def _cyclic_gc_paused(function: Callable[..., Any]) -> Callable[..., Any]:
    """Run ``function`` with Python's cyclic garbage collector paused (reference counting
    still frees everything at once).

    A batch allocates tens of thousands of short-lived tuples and dicts, which triggers full
    collections that walk every object of the loaded application: ~16 % of the database part of
    a 1000-item batch in the profile. Nothing a batch allocates needs the cycle collector in
    the meantime; it runs as usual afterwards. Left alone if the caller has disabled it.
    """

    @functools.wraps(function)
    def paused(*args: Any, **kwargs: Any) -> Any:
        if not gc.isenabled():
            return function(*args, **kwargs)
        gc.disable()
        try:
            return function(*args, **kwargs)
        finally:
            gc.enable()

    return paused


@_cyclic_gc_paused
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
) -> list[ItemOutcome]:
    """Create or update ``items``; one outcome per item, in order. Commits unless ``dry_run``.

    ``mode``: ``upsert`` (the batch), ``create`` (an existing key is 409) or ``update`` (a
    missing key is 404). ``expected_versions`` maps keys to the ``update_date`` the caller last
    saw (``None``: it saw no row); a row changed since is not written (409 with its values).
    Raises ``ParentNotFound`` when ``parent_key`` does not exist (nothing is written).
    """
    outcomes: list[ItemOutcome | None] = [None] * len(items)
    candidates = _validate(spec, items, parent_key, outcomes)
    keys = [data[spec.key_column] for _, data in candidates]
    for isolate in (False, True):
        writer = _begin(session, spec, keys)
        try:
            plan = _plan_upserts(
                writer,
                spec,
                keys,
                candidates,
                outcomes,
                parent_key,
                mode,
                expected_versions,
                dry_run,
            )
            return _finish(writer, spec, plan, actor, activity_id, atomic, dry_run, isolate)
        except UNAVAILABLE_ERRORS:  # the database, not the data: no item-by-item retry
            _rollback_quietly(writer)
            raise
        except SQLAlchemyError:
            writer.rollback()
            if isolate:
                raise
            log.warning(
                "activity=%s set-wise %s write failed; retrying item by item",
                activity_id,
                spec.label,
                exc_info=True,
            )
        except BaseException:  # ParentNotFound, or anything unexpected: nothing is written
            writer.rollback()
            raise
    raise AssertionError("unreachable")


def _rollback_quietly(writer: WriteTransaction) -> None:
    """Roll back after the database failed; a second failure must not hide the first."""
    try:
        writer.rollback()
    except SQLAlchemyError:
        log.debug("rollback after an unavailable database failed too", exc_info=True)


def _validate(
    spec: EntitySpec,
    items: Sequence[Any],
    parent_key: int | None,
    outcomes: list[ItemOutcome | None],
) -> list[tuple[int, dict[str, Any]]]:
    """Schema checks and in-batch duplicates; returns the items that may go to the database."""
    keys = [_raw_key(spec, raw) for raw in items]
    counts = Counter(k for k in keys if k is not None)
    candidates: list[tuple[int, dict[str, Any]]] = []
    for index, raw in enumerate(items):
        key = keys[index]
        data, errors = spec.validate(raw)
        if data is not None and spec.parent_column and data[spec.parent_column] != parent_key:
            errors = {
                spec.parent_field or spec.parent_column: [
                    f"Does not match the {spec.parent_path_name} in the path ({parent_key})."
                ]
            }
        if errors:
            outcomes[index] = _invalid(index, key, errors)
        elif counts[key] > 1:
            outcomes[index] = ItemOutcome(
                index,
                key,
                409,
                f"{spec.key_field} {key} occurs {counts[key]} times in this batch; every "
                "occurrence is rejected because the intended values are ambiguous.",
                CONFLICT,
            )
        else:
            assert data is not None
            candidates.append((index, data))
    return candidates


def _plan_upserts(
    writer: WriteTransaction,
    spec: EntitySpec,
    keys: list[int],
    candidates: list[tuple[int, dict[str, Any]]],
    validated: list[ItemOutcome | None],
    parent_key: int | None,
    mode: str,
    expected_versions: Mapping[int, datetime | None] | None,
    dry_run: bool,
) -> _Plan:
    """Decide each candidate's outcome under the write lock; nothing is written yet.

    A create's ``changes`` list every field for a dry run (SPEC 4b), and otherwise only the
    fields it sets: what its history records, and all that is ever shown of it.
    """
    plan = _Plan(outcomes=list(validated))
    existing, known_refs = _read_state(writer.connection, spec, keys, parent_key, candidates)

    # Hoisted out of the per-item loop, which runs once per item of a 5,000-item batch.
    key_column, outcomes = spec.key_column, plan.outcomes
    inserts, updates, old_rows = plan.inserts, plan.updates, plan.old_rows
    known_by_column = [(r.column, known_refs.get(r.column, ())) for r in spec.references]
    for index, data in candidates:
        key = data[key_column]
        for column, known in known_by_column:
            if data[column] is not None and data[column] not in known:
                outcomes[index] = _invalid(index, key, _reference_errors(spec, data, known_refs))
                break
        else:
            row = existing.get(key)
            # A new key in an upsert has no ownership to check.
            outcome = (
                None
                if row is None and mode == "upsert"
                else _ownership_outcome(spec, index, key, row, parent_key, mode)
            )
            if outcome is None and expected_versions is not None and key in expected_versions:
                outcome = _version_outcome(spec, index, key, row, expected_versions[key])
            if outcome is not None:
                outcomes[index] = outcome
            elif row is None:
                inserts[index] = data
                outcomes[index] = ItemOutcome(
                    index, key, 201, "Created", CREATED, changes=_changes(spec, None, data, dry_run)
                )
            else:
                changes = _changes(spec, row, data)
                outcomes[index] = ItemOutcome(
                    index, key, 200, "Updated", UPDATED if changes else UNCHANGED, changes=changes
                )
                if changes:
                    updates[index] = data
                    old_rows[index] = row
    return plan


def _finish(
    writer: WriteTransaction,
    spec: EntitySpec,
    plan: _Plan,
    actor: str | None,
    activity_id: str,
    atomic: bool,
    dry_run: bool,
    isolate: bool,
) -> list[ItemOutcome]:
    outcomes: list[ItemOutcome] = [o for o in plan.outcomes if o is not None]
    assert len(outcomes) == len(plan.outcomes)
    if atomic and any(not o.ok for o in outcomes):
        writer.rollback()
        return _not_applied(outcomes)
    if dry_run:
        writer.rollback()
        return outcomes
    now = utcnow()
    user = _audit_user(actor)
    if isolate:
        _write_item_by_item(writer, spec, plan, outcomes, user, now, activity_id)
        if atomic and any(not o.ok for o in outcomes):
            writer.rollback()
            return _not_applied(outcomes)
    else:
        _write_set(writer.connection, spec, plan, outcomes, user, now, activity_id)
    writer.commit()
    return outcomes


def _write_set(
    connection: Connection,
    spec: EntitySpec,
    plan: _Plan,
    outcomes: list[ItemOutcome],
    user: str | None,
    now: datetime,
    activity_id: str,
) -> None:
    """One statement for the created and updated rows, one for the history (``app.batch.bulk``).

    Which rows exist was decided under the write lock (SQLite) or the keys' advisory locks
    (PostgreSQL), so the upsert's ``ON CONFLICT`` arm is taken by exactly ``plan.updates``;
    it sets the data fields and the update stamps, never the entry stamps.
    """
    fields = tuple(spec.fields)
    if plan.inserts or plan.updates:
        bulk.upsert_rows(
            connection,
            spec.table,
            spec.key_column,
            (*fields, "entry_date", "entry_user", "update_date", "update_user"),
            (*spec.data_fields, "update_date", "update_user"),
            [
                (*[data[name] for name in fields], now, user, now, user)
                for data in (*plan.inserts.values(), *plan.updates.values())
            ],
        )
    if spec.history is not None:
        written = [outcomes[i] for i in (*plan.inserts, *plan.updates)]
        _insert_history(
            connection, spec, _history_rows(spec, written, plan, user, now, activity_id)
        )


def _write_item_by_item(
    writer: WriteTransaction,
    spec: EntitySpec,
    plan: _Plan,
    outcomes: list[ItemOutcome],
    user: str | None,
    now: datetime,
    activity_id: str,
) -> None:
    """The fallback: each item in its own savepoint, so a failure stays on that item."""
    for index in (*plan.inserts, *plan.updates):
        single = _Plan(
            outcomes=plan.outcomes,
            inserts={index: plan.inserts[index]} if index in plan.inserts else {},
            updates={index: plan.updates[index]} if index in plan.updates else {},
            old_rows={index: plan.old_rows[index]} if index in plan.old_rows else {},
        )
        try:
            with writer.savepoint():
                _write_set(writer.connection, spec, single, outcomes, user, now, activity_id)
        except UNAVAILABLE_ERRORS:
            raise
        except SQLAlchemyError:
            log.exception("activity=%s %s %s failed", activity_id, spec.label, outcomes[index].key)
            outcomes[index] = _internal_error(outcomes[index], activity_id)


# ---------------------------------------------------------------------------------------------
# Delete


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
    """Delete ``keys`` (under ``parent_key`` when the entity has a parent); one outcome each.

    204 deleted; 404 absent (or under another parent); 409 still referenced, or changed since
    ``expected_versions``. Raises ``ParentNotFound`` like ``upsert_rows``.
    """
    outcomes: list[ItemOutcome] = []
    writer = _begin(session, spec, list(keys))
    try:
        connection = writer.connection
        existing, _ = _read_state(connection, spec, list(keys), parent_key, [])
        in_use = _keys_in_use(connection, spec, list(existing))
        doomed: dict[int, Mapping[str, Any]] = {}
        for index, key in enumerate(keys):
            row = existing.get(key)
            outcome = _ownership_outcome(spec, index, key, row, parent_key, "update")
            if outcome is None and expected_versions is not None and key in expected_versions:
                outcome = _version_outcome(spec, index, key, row, expected_versions[key])
            if outcome is None and key in in_use:
                outcome = ItemOutcome(
                    index, key, 409, f"Still used by {in_use[key]}; not deleted.", CONFLICT
                )
            if outcome is None and key in doomed:
                outcome = ItemOutcome(index, key, 409, "Listed twice; deleted once.", CONFLICT)
            if outcome is None:
                assert row is not None
                doomed[key] = row
                outcome = ItemOutcome(
                    index, key, 204, "Deleted", DELETED, changes=_changes(spec, row, None)
                )
            outcomes.append(outcome)
        if doomed:
            key_column = spec.table.c[spec.key_column]
            connection.execute(delete(spec.table).where(_key_in(connection, key_column, doomed)))
            if spec.history is not None:
                deleted = [o for o in outcomes if o.action == DELETED]
                history = _history_rows(
                    spec,
                    deleted,
                    _Plan(
                        outcomes=[],
                        old_rows={
                            o.index: doomed[k]
                            for o, k in zip(deleted, keys_of(deleted), strict=True)
                        },
                    ),
                    _audit_user(actor),
                    utcnow(),
                    activity_id,
                )
                _insert_history(connection, spec, history)
        writer.commit()
    except BaseException:
        writer.rollback()
        raise
    return outcomes


# ---------------------------------------------------------------------------------------------
# The queries (each one statement, whatever the number of keys)


def _begin(session: Session, spec: EntitySpec, keys: list[int]) -> WriteTransaction:
    """The write transaction, with the locks a writer takes up front: SQLite's write lock
    (``BEGIN IMMEDIATE``), or on PostgreSQL advisory locks on ``keys``."""
    writer = transaction.begin(session)
    connection = writer.connection
    if connection.dialect.name != "postgresql" or not keys:
        return writer
    try:
        connection.execute(
            text(
                "SELECT pg_advisory_xact_lock(:namespace, k) FROM "
                "(SELECT DISTINCT unnest(CAST(:keys AS integer[])) AS k ORDER BY k OFFSET 0) AS s"
            ),
            {"namespace": spec.lock_namespace, "keys": sorted(set(keys))},
        )
    except BaseException:
        writer.rollback()
        raise
    return writer


def _key_in(connection: Connection, column: Any, keys: Any) -> ColumnElement[bool]:
    """``column IN keys`` with one bound parameter, whatever the number of keys."""
    values = sorted(set(keys))
    if connection.dialect.name == "postgresql":
        # A semi-join, not ``= ANY(array)``: see app.batch.bulk on plans for large key sets.
        array_keys = select(func.unnest(bindparam(None, values, type_=ARRAY(Integer))))
        return column.in_(array_keys.scalar_subquery())
    json_keys = select(literal_column("value")).select_from(
        func.json_each(bindparam(None, json.dumps(values)))
    )
    return column.in_(json_keys.scalar_subquery())


def _read_state(
    connection: Connection,
    spec: EntitySpec,
    keys: list[int],
    parent_key: int | None,
    candidates: list[tuple[int, dict[str, Any]]],
) -> tuple[dict[int, Mapping[str, Any]], dict[str, set[int]]]:
    """One query: the stored rows of ``keys``, whether the parent exists, and which referenced
    keys exist (by reference column). Raises ParentNotFound."""
    kinds: list[str] = []
    lookups: list[tuple[Table, str, Sequence[int]]] = []
    if spec.parent_table is not None and parent_key is not None:
        kinds.append("parent")
        lookups.append((spec.parent_table, spec.parent_key_column or "", [parent_key]))
    for ref in spec.references:
        wanted = {data[ref.column] for _, data in candidates if data[ref.column] is not None}
        if wanted:
            kinds.append(ref.column)
            lookups.append((ref.table, ref.key_column, list(wanted)))
    rows, present = bulk.rows_and_present_keys(
        connection, spec.table, spec.key_column, keys, lookups
    )
    found = {kind: keys for kind, keys in zip(kinds, present, strict=True) if keys}
    if spec.parent_table is not None and parent_key is not None and "parent" not in found:
        raise ParentNotFound(parent_key)
    return {row[spec.key_column]: row for row in rows}, found


def _keys_in_use(connection: Connection, spec: EntitySpec, keys: list[int]) -> dict[int, str]:
    in_use: dict[int, str] = {}
    if not keys:
        return in_use
    for dependent in spec.dependents:
        column = dependent.table.c[dependent.column]
        statement = select(column).distinct().where(_key_in(connection, column, keys))
        for (key,) in connection.execute(statement):
            in_use.setdefault(key, dependent.label)
    return in_use


# ---------------------------------------------------------------------------------------------
# Pure helpers


def _raw_key(spec: EntitySpec, raw: Any) -> int | None:
    if isinstance(raw, dict):
        value = raw.get(spec.key_field)
        if is_int32(value):
            return value
    return None


def keys_of(outcomes: Sequence[ItemOutcome]) -> list[int]:
    return [o.key for o in outcomes if o.key is not None]


def _invalid(index: int, key: int | None, errors: FieldErrors) -> ItemOutcome:
    return ItemOutcome(index, key, 400, describe_errors(errors), INVALID, errors=errors)


def _reference_errors(
    spec: EntitySpec, data: Mapping[str, Any], known: dict[str, set[int]]
) -> FieldErrors:
    errors: FieldErrors = {}
    for ref in spec.references:
        value = data[ref.column]
        if value is not None and value not in known.get(ref.column, ()):
            errors[ref.field] = [f"No {ref.label} {value} in this database."]
    return errors


def _ownership_outcome(
    spec: EntitySpec,
    index: int,
    key: int,
    row: Mapping[str, Any] | None,
    parent_key: int | None,
    mode: str,
) -> ItemOutcome | None:
    foreign = (
        row is not None and spec.parent_column is not None and row[spec.parent_column] != parent_key
    )
    if mode == "create" and row is not None:
        return ItemOutcome(index, key, 409, f"{spec.key_field} {key} already exists.", CONFLICT)
    if foreign and mode == "upsert":
        return ItemOutcome(
            index,
            key,
            409,
            f"{spec.key_field} {key} belongs to another {spec.parent_label}.",
            CONFLICT,
        )
    if (row is None or foreign) and mode == "update":
        where = f" under {spec.parent_path_name} {parent_key}" if spec.parent_column else ""
        return ItemOutcome(index, key, 404, f"No {spec.label} {key}{where}.", NOT_FOUND)
    return None


def _version_outcome(
    spec: EntitySpec,
    index: int,
    key: int,
    row: Mapping[str, Any] | None,
    expected: datetime | None,
) -> ItemOutcome | None:
    stored = None if row is None else row["update_date"]
    if stored == expected:
        return None
    if row is None:
        body = "Deleted by someone else since you loaded it."
    elif expected is None:
        body = "Created by someone else since you loaded it."
    else:
        body = f"Changed by {row['update_user'] or 'someone'} since you loaded it; not saved."
    current = None if row is None else {j: _wire(row[a]) for a, j in spec.fields.items()}
    if current is not None:
        current["update_Date"] = _wire(row["update_date"]) if row is not None else None
        current["update_User"] = row["update_user"] if row is not None else None
    return ItemOutcome(index, key, 409, body, CONFLICT, current=current)


def _changes(
    spec: EntitySpec,
    old: Mapping[str, Any] | None,
    new: Mapping[str, Any] | None,
    every_field: bool = False,
) -> dict[str, list[Any]]:
    """``{json_field: [old, new]}`` for each field a create sets, an update changes or a
    delete clears; with ``every_field`` a create lists its null fields too (a dry run's answer).

    Runs once per written item, so each case is one comprehension over precomputed pairs, with
    ``_wire`` written inline (``for v in (x,)`` is a plain assignment in a comprehension).
    """
    pairs = spec.data_field_pairs
    wd, dt = _wire_datetime, datetime
    if old is None and new is not None:
        return {
            name: [None, wd(v) if type(v) is dt else v]
            for attr, name in pairs
            for v in (new[attr],)
            if every_field or v is not None
        }
    if new is None and old is not None:
        return {
            name: [wd(v) if type(v) is dt else v, None]
            for attr, name in pairs
            for v in (old[attr],)
            if v is not None
        }
    if old is None or new is None:
        return {}
    return {
        name: [wd(a) if type(a) is dt else a, wd(b) if type(b) is dt else b]
        for attr, name in pairs
        for a in (old[attr],)
        for b in (new[attr],)
        if a != b
    }


def _wire(value: Any) -> Any:
    return _wire_datetime(value) if type(value) is datetime else value


#: A batch repeats its dates (licenses share term and verification dates, every audit stamp is
#: the same instant): each is formatted once, not once per item and field.
_wire_datetime = functools.lru_cache(maxsize=4096)(format_wire_datetime)


def _audit_user(actor: str | None) -> str | None:
    return actor[:AUDIT_USER_LENGTH] if actor else None


HISTORY_VALUE_COLUMNS = ("activity_id", "at", "user", "action", "changes")


def _history_columns(spec: EntitySpec) -> tuple[str, ...]:
    assert spec.history is not None
    return (spec.history.key_column, spec.history.parent_column, *HISTORY_VALUE_COLUMNS)


def _history_rows(
    spec: EntitySpec,
    outcomes: list[ItemOutcome],
    plan: _Plan,
    user: str | None,
    now: datetime,
    activity_id: str,
) -> list[tuple[Any, ...]]:
    """One row per written item, in ``_history_columns``: its ``{field: [old, new]}`` (what
    ``_changes`` found: the fields a create sets, an update changes or a delete clears)."""
    assert spec.history is not None
    rows: list[tuple[Any, ...]] = []
    for outcome in outcomes:
        old = plan.old_rows.get(outcome.index)
        data = plan.inserts.get(outcome.index) or plan.updates.get(outcome.index) or old
        assert data is not None
        parent = data[spec.parent_column] if spec.parent_column else 0
        rows.append(
            (outcome.key, parent, activity_id, now, user, outcome.action, outcome.changes or {})
        )
    return rows


def _insert_history(connection: Connection, spec: EntitySpec, rows: list[tuple[Any, ...]]) -> None:
    assert spec.history is not None
    bulk.insert_rows(connection, spec.history.table, _history_columns(spec), rows)


def _not_applied(outcomes: list[ItemOutcome]) -> list[ItemOutcome]:
    return [
        o
        if not o.ok
        else ItemOutcome(o.index, o.key, 424, "Not applied", NOT_APPLIED, changes=o.changes)
        for o in outcomes
    ]


def _internal_error(outcome: ItemOutcome, activity_id: str) -> ItemOutcome:
    return ItemOutcome(
        outcome.index, outcome.key, 500, f"Internal error (activity {activity_id})", FAILED
    )
