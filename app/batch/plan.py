"""The per-item decisions of a batch, as pure functions: which items are valid, which create,
update or conflict, what each changes and what the history records. Nothing here touches the
database; ``app.batch.engine`` reads the stored state, calls these and writes the plan.

Outcome bodies are the API's words. A person-facing view words its own messages from the
outcome's action, status and ``current`` values (the staff grid does).
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from marshmallow import ValidationError

from app.audit import AUDIT_USER_LENGTH
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
)
from app.batch.spec import EntitySpec
from app.wire.fields import format_wire_datetime, is_int32
from app.wire.validation import FieldErrors, describe_errors

Row = Mapping[str, Any]


@dataclass
class Plan:
    """What one pass decided, before anything is written (keyed by item index)."""

    outcomes: list[ItemOutcome | None]
    inserts: dict[int, dict[str, Any]] = field(default_factory=dict)
    updates: dict[int, dict[str, Any]] = field(default_factory=dict)
    old_rows: dict[int, Row] = field(default_factory=dict)

    def only(self, index: int) -> Plan:
        """The part of the plan that writes item ``index`` (the item-by-item fallback)."""
        return Plan(
            outcomes=self.outcomes,
            inserts={index: self.inserts[index]} if index in self.inserts else {},
            updates={index: self.updates[index]} if index in self.updates else {},
            old_rows={index: self.old_rows[index]} if index in self.old_rows else {},
        )


def validate_items(
    spec: EntitySpec,
    items: Sequence[Any],
    parent_key: int | None,
    outcomes: list[ItemOutcome | None],
) -> list[tuple[int, dict[str, Any]]]:
    """Schema checks and in-batch duplicates; fills ``outcomes`` for the items that fail and
    returns ``(index, data)`` of those that may go to the database."""
    keys = [raw_key(spec, raw) for raw in items]
    counts = Counter(k for k in keys if k is not None)
    candidates: list[tuple[int, dict[str, Any]]] = []
    for index, raw in enumerate(items):
        key = keys[index]
        data, errors = item_errors(spec, raw, parent_key)
        if errors:
            outcomes[index] = invalid(index, key, errors)
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


def item_errors(
    spec: EntitySpec, raw: Any, parent_key: int | None
) -> tuple[dict[str, Any] | None, FieldErrors]:
    """One item's schema checks, then its parent against the path's: ``(data, errors)``.

    An item that failed its schema checks has its parent compared too, when that is a
    well-formed int32 of its own (``well_formed_parent``), so that the answer lists every
    error at once: the mismatch came alone, on the next try, once the fields were fixed.
    """
    data, errors = spec.validate(raw)
    if not spec.parent_column:
        return data, errors
    parent = data[spec.parent_column] if data is not None else well_formed_parent(spec, raw, errors)
    if parent is not None and parent != parent_key:
        errors = {
            **errors,
            spec.parent_field or spec.parent_column: [
                f"Does not match the {spec.parent_path_name} in the path ({parent_key})."
            ],
        }
    return data, errors


def well_formed_parent(spec: EntitySpec, raw: Any, errors: FieldErrors) -> Any:
    """The parent of an item that failed its checks, as the schema's own field reads it (an
    int32 key, a provider ID stripped), when it has no error of its own; None otherwise."""
    name = spec.parent_field or spec.parent_column
    parent_field = spec.schema.fields.get(spec.parent_column or "")
    if not isinstance(raw, dict) or name is None or name in errors or parent_field is None:
        return None
    try:
        return parent_field.deserialize(raw.get(name), name, raw)
    except ValidationError:
        return None


def referenced_keys(
    spec: EntitySpec,
    candidates: Sequence[tuple[int, dict[str, Any]]],
    unchecked: Mapping[int, Mapping[str, int]] | None = None,
) -> dict[str, set[int]]:
    """Per reference column, the non-null keys the candidates (and ``unchecked``) point at."""
    wanted: dict[str, set[int]] = {}
    for ref in spec.references:
        values = {data[ref.column] for _, data in candidates if data[ref.column] is not None}
        values.update(v[ref.column] for v in (unchecked or {}).values() if ref.column in v)
        if values:
            wanted[ref.column] = values
    return wanted


def unchecked_references(
    spec: EntitySpec, items: Sequence[Any], outcomes: Sequence[ItemOutcome | None]
) -> dict[int, dict[str, int]]:
    """The well-formed references of the items that failed their schema checks (item index:
    ``{column: key}``), so that they are looked up with the others and an item's answer lists
    every one of its errors at once, an unknown reference included."""
    found: dict[int, dict[str, int]] = {}
    for index, outcome in enumerate(outcomes):
        raw = items[index]
        if outcome is None or outcome.action != INVALID:
            continue
        values = well_formed_references(spec, raw, outcome.errors)
        if values:
            found[index] = values
    return found


def well_formed_references(spec: EntitySpec, raw: Any, errors: FieldErrors) -> dict[str, int]:
    """The references of a raw item that can be looked up although the item failed its checks:
    those that are 32-bit integers and have no error of their own (``{column: key}``)."""
    if not isinstance(raw, dict):
        return {}
    return {
        ref.column: value
        for ref in spec.references
        if ref.field not in errors
        for value in (raw.get(ref.field),)
        if is_int32(value)
    }


def add_reference_errors(
    spec: EntitySpec,
    unchecked: Mapping[int, Mapping[str, int]],
    outcomes: list[ItemOutcome | None],
    known: Mapping[str, set[int]],
) -> None:
    """Add to the invalid items' outcomes the references of ``unchecked`` that do not exist."""
    for index, values in unchecked.items():
        outcome = outcomes[index]
        assert outcome is not None
        missing = reference_errors(spec, values, known)
        new = {
            field: messages for field, messages in missing.items() if field not in outcome.errors
        }
        if new:
            outcomes[index] = invalid(index, outcome.key, {**outcome.errors, **new})


def plan_upserts(
    spec: EntitySpec,
    candidates: Sequence[tuple[int, dict[str, Any]]],
    validated: list[ItemOutcome | None],
    existing: Mapping[int, Row],
    known_refs: Mapping[str, set[int]],
    *,
    parent_key: int | None,
    mode: str,
    expected_versions: Mapping[int, datetime | None] | None,
) -> Plan:
    """Each candidate's outcome, given the stored rows of its key and the referenced keys that
    exist. A create's ``changes`` list every client field, the key included."""
    plan = Plan(outcomes=list(validated))
    key_column, parent_column, outcomes = spec.key_column, spec.parent_column, plan.outcomes
    unknown_refs = {
        index
        for ref in spec.references
        for known in (known_refs.get(ref.column, ()),)
        for index, data in candidates
        if data[ref.column] is not None and data[ref.column] not in known
    }
    for index, data in candidates:
        key = data[key_column]
        if index in unknown_refs:
            outcomes[index] = invalid(index, key, reference_errors(spec, data, known_refs))
            continue
        row = existing.get(key)
        # The common case of an upsert, a new key or one of this parent's, has nothing to check.
        outcome = (
            None
            if mode == "upsert"
            and (row is None or parent_column is None or row[parent_column] == parent_key)
            else ownership_outcome(spec, index, key, row, parent_key, mode)
        )
        if outcome is None and expected_versions is not None and key in expected_versions:
            outcome = version_outcome(spec, index, key, row, expected_versions[key])
        if outcome is not None:
            outcomes[index] = outcome
        elif row is None:
            plan.inserts[index] = data
            outcomes[index] = ItemOutcome(
                index, key, 201, "Created", CREATED, changes=changes(spec, None, data)
            )
        else:
            found = changes(spec, row, data)
            outcomes[index] = ItemOutcome(
                index, key, 200, "Updated", UPDATED if found else UNCHANGED, changes=found
            )
            if found:
                plan.updates[index] = data
                plan.old_rows[index] = row
    return plan


def plan_deletes(
    spec: EntitySpec,
    keys: Sequence[int],
    existing: Mapping[int, Row],
    in_use: Mapping[int, str],
    *,
    parent_key: int | None,
    expected_versions: Mapping[int, datetime | None] | None,
) -> tuple[list[ItemOutcome], dict[int, Row]]:
    """One outcome per key and the rows to delete (by key): 204 deleted; 404 absent (or under
    another parent); 409 still referenced, listed twice, or changed since its expected version."""
    outcomes: list[ItemOutcome] = []
    doomed: dict[int, Row] = {}
    for index, key in enumerate(keys):
        row = existing.get(key)
        outcome = ownership_outcome(spec, index, key, row, parent_key, "update")
        if outcome is None and expected_versions is not None and key in expected_versions:
            outcome = version_outcome(spec, index, key, row, expected_versions[key])
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
                index, key, 204, "Deleted", DELETED, changes=changes(spec, row, None)
            )
        outcomes.append(outcome)
    return outcomes, doomed


# ---------------------------------------------------------------------------------------------
# Outcomes


def raw_key(spec: EntitySpec, raw: Any) -> int | None:
    if isinstance(raw, dict):
        value = raw.get(spec.key_field)
        if is_int32(value):
            return value
    return None


def invalid(index: int, key: int | None, errors: FieldErrors) -> ItemOutcome:
    return ItemOutcome(index, key, 400, describe_errors(errors), INVALID, errors=errors)


def reference_errors(spec: EntitySpec, data: Row, known: Mapping[str, set[int]]) -> FieldErrors:
    errors: FieldErrors = {}
    for ref in spec.references:
        value = data.get(ref.column)
        if value is not None and value not in known.get(ref.column, ()):
            errors[ref.field] = [f"No {ref.label} {value} in this database."]
    return errors


def ownership_outcome(
    spec: EntitySpec,
    index: int,
    key: int,
    row: Row | None,
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
        where = (  # a record without a parent is looked for in the header's database
            f" under {spec.parent_path_name} {parent_key}"
            if spec.parent_column
            else " in this database"
        )
        return ItemOutcome(index, key, 404, f"No {spec.label} {key}{where}.", NOT_FOUND)
    return None


def version_outcome(
    spec: EntitySpec,
    index: int,
    key: int,
    row: Row | None,
    expected: datetime | None,
) -> ItemOutcome | None:
    """409 when the stored row is not the version the caller expected; ``current`` carries
    the stored values (``None``: there is no row any more)."""
    stored = None if row is None else row["update_date"]
    if stored == expected:
        return None
    if row is None:
        return ItemOutcome(index, key, 409, f"{spec.label} {key} no longer exists.", CONFLICT)
    current = {name: wire(row[attr]) for attr, name in spec.fields.items()}
    current["update_Date"] = wire(row["update_date"])
    current["update_User"] = row["update_user"]
    body = f"{spec.label} {key} was changed since the expected version; not written."
    return ItemOutcome(index, key, 409, body, CONFLICT, current=current)


def not_applied(outcomes: list[ItemOutcome]) -> list[ItemOutcome]:
    """An atomic batch with a failure: every item that would have succeeded is 424."""
    return [
        o
        if not o.ok
        else ItemOutcome(o.index, o.key, 424, "Not applied", NOT_APPLIED, changes=o.changes)
        for o in outcomes
    ]


def internal_error(outcome: ItemOutcome, activity_id: str) -> ItemOutcome:
    return ItemOutcome(
        outcome.index, outcome.key, 500, f"Internal error (activity {activity_id})", FAILED
    )


def completed(plan: Plan) -> list[ItemOutcome]:
    outcomes = [o for o in plan.outcomes if o is not None]
    assert len(outcomes) == len(plan.outcomes), "every item has an outcome"
    return outcomes


# ---------------------------------------------------------------------------------------------
# Changes and history


def changes(spec: EntitySpec, old: Row | None, new: Row | None) -> dict[str, list[Any]]:
    """``{json_field: [old, new]}``: every client field for a create (the key included), the
    fields an update changes, the non-null fields a delete clears.

    Runs once per written item, so each case is one comprehension over precomputed pairs
    (``for v in (x,)`` is a plain assignment inside a comprehension).
    """
    wd, dt = _wire_datetime, datetime
    if old is None and new is not None:
        return {
            name: [None, wd(v) if type(v) is dt else v]
            for attr, name in spec.field_pairs
            for v in (new[attr],)
        }
    if new is None and old is not None:
        return {
            name: [wd(v) if type(v) is dt else v, None]
            for attr, name in spec.data_field_pairs
            for v in (old[attr],)
            if v is not None
        }
    if old is None or new is None:
        return {}
    return {
        name: [wd(a) if type(a) is dt else a, wd(b) if type(b) is dt else b]
        for attr, name in spec.data_field_pairs
        for a in (old[attr],)
        for b in (new[attr],)
        if a != b
    }


def wire(value: Any) -> Any:
    return _wire_datetime(value) if type(value) is datetime else value


#: A batch repeats its dates (licenses share term and verification dates, every audit stamp is
#: the same instant): each is formatted once, not once per item and field.
_wire_datetime = functools.lru_cache(maxsize=4096)(format_wire_datetime)


def audit_user(actor: str | None) -> str | None:
    return actor[:AUDIT_USER_LENGTH] if actor else None


def history_shared(*, user: str | None, now: datetime, activity_id: str) -> dict[str, Any]:
    """The history columns that every row of one batch's history holds the same value in."""
    return {"activity_id": activity_id, "at": now, "user": user}


def history_rows(
    spec: EntitySpec, outcomes: Sequence[ItemOutcome], plan: Plan
) -> list[dict[str, Any]]:
    """One history row per written item: its ``changes`` (what ``changes`` found), without
    the columns of ``history_shared``."""
    history = spec.history
    assert history is not None
    key_column, parent_column = history.key_column, history.parent_column
    rows: list[dict[str, Any]] = []
    for outcome in outcomes:
        old = plan.old_rows.get(outcome.index)
        data = plan.inserts.get(outcome.index) or plan.updates.get(outcome.index) or old
        assert data is not None
        rows.append(
            {
                key_column: outcome.key,
                parent_column: data[spec.parent_column] if spec.parent_column else 0,
                "action": outcome.action,
                "changes": outcome.changes or {},
            }
        )
    return rows
