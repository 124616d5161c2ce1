"""Save of the grid: the rows a person touched go to the license service, outcomes come back.

Only touched rows are sent (a row left as loaded is not re-sent, so another user's later change
to it is not reported as a conflict), each with the version it was loaded at: the service writes
nothing over a row changed since. :func:`reconcile` turns the per-item outcomes back into rows:
saved rows show the stored values and their new version, failed rows keep exactly what was
typed, with the errors on their cells, and conflicts show the stored values beside the user's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from app.batch.outcome import CONFLICT, DELETED, ItemOutcome
from app.licenses.models import ProviderCredLicense
from app.licenses.schemas import KEY_FIELD
from app.licenses.service import delete_licenses, upsert_licenses
from app.ui.grid import (
    COLUMN_NAMES,
    COLUMNS,
    INTEGER,
    REFRESHED,
    ROW_LEVEL,
    Conflict,
    GridLine,
    as_int_key,
    fingerprint,
    parse_version,
    stored_line,
    stored_values,
    version_of,
)
from app.ui.grid_data import load_licenses

PARENT_FIELD = "providerCred_Key"


@dataclass
class SubmittedRow:
    """One grid row as the browser sent it: its cells and the hidden state it carried."""

    values: dict[str, str]
    version: str = ""
    original: str = ""
    suggested_key: str = ""
    stored_version: str = ""
    overwrite: bool = False
    delete: bool = False

    @classmethod
    def from_form_data(cls, data: Mapping[str, Any]) -> SubmittedRow:
        return cls(
            values={name: data.get(name) or "" for name in COLUMN_NAMES},
            version=data.get("version") or "",
            original=data.get("original") or "",
            suggested_key=data.get("suggested_key") or "",
            stored_version=data.get("stored_version") or "",
            overwrite=bool(data.get("overwrite")),
            delete=bool(data.get("delete")),
        )

    @property
    def is_new(self) -> bool:
        return not self.version

    @property
    def untouched(self) -> bool:
        """A blank row left blank (its suggested key aside), or a row exactly as loaded."""
        if self.is_new:
            key = self.values[KEY_FIELD].strip()
            rest = (self.values[name].strip() for name in COLUMN_NAMES if name != KEY_FIELD)
            return key in ("", self.suggested_key) and not any(rest)
        return fingerprint(self.values) == self.original

    def kept(self, **state: Any) -> GridLine:
        """This row as typed, for showing it again with an outcome."""
        return GridLine(
            values=dict(self.values),
            version=self.version,
            original=self.original,
            suggested_key=self.suggested_key,
            delete=self.delete,
            **state,
        )


def to_item(values: Mapping[str, str], provider_cred_key: int) -> dict[str, Any]:
    """A row's cells as a service item: form strings only converted where HTML forces it.

    An integer cell that reads as an integer becomes one; anything else is passed on as typed
    so the schema names the problem on that cell. An empty key is left out (the schema reports
    it missing); an empty type or date cell is null.
    """
    item: dict[str, Any] = {PARENT_FIELD: provider_cred_key}
    for column in COLUMNS:
        raw = values.get(column.name, "")
        if column.kind in ("key", "type"):
            text = raw.strip()
            if not text:
                if column.kind == "type":
                    item[column.name] = None
                continue
            item[column.name] = int(text) if INTEGER.fullmatch(text) else raw
        elif column.kind == "date":
            item[column.name] = raw if raw.strip() else None
        else:
            item[column.name] = raw
    return item


@dataclass
class SavePlan:
    """Which row goes where: upsert items, delete keys, rows not sent, rows refused up front."""

    items: list[dict[str, Any]] = field(default_factory=list)
    item_rows: list[int] = field(default_factory=list)
    item_versions: dict[int, datetime | None] = field(default_factory=dict)
    delete_keys: list[int] = field(default_factory=list)
    delete_rows: list[int] = field(default_factory=list)
    delete_versions: dict[int, datetime | None] = field(default_factory=dict)
    skipped: set[int] = field(default_factory=set)
    refused: dict[int, dict[str, list[str]]] = field(default_factory=dict)


UNREADABLE_VERSION = "The page sent an unreadable row version; reload the grid."


def plan_save(rows: Sequence[SubmittedRow], provider_cred_key: int) -> SavePlan:
    """Decide per row: not sent (untouched), deleted, created/updated, or refused up front.

    The expected version is the one the row was loaded at, or, when the user ticked
    "Overwrite" after a conflict, the version that conflict showed them.
    """
    plan = SavePlan()
    for index, row in enumerate(rows):
        if row.is_new and (row.delete or row.untouched):
            plan.skipped.add(index)
            continue
        if not row.is_new and not (row.delete or row.overwrite) and row.untouched:
            plan.skipped.add(index)
            continue
        try:
            loaded = parse_version(row.version)
            stored = parse_version(row.stored_version)
        except ValueError:
            plan.refused[index] = {ROW_LEVEL: [UNREADABLE_VERSION]}
            continue
        expected = stored if row.overwrite else loaded
        key = as_int_key(row.values[KEY_FIELD])
        if row.delete:
            if key is None:
                plan.refused[index] = {KEY_FIELD: ["Not a valid integer."]}
                continue
            plan.delete_keys.append(key)
            plan.delete_rows.append(index)
            plan.delete_versions[key] = expected
            continue
        plan.items.append(to_item(row.values, provider_cred_key))
        plan.item_rows.append(index)
        if key is not None:
            plan.item_versions[key] = expected
    return plan


# ---------------------------------------------------------------------------------------------
# After Save: outcomes → rows


def reconcile(
    rows: Sequence[SubmittedRow],
    plan: SavePlan,
    outcomes: Mapping[int, ItemOutcome],
    stored: Mapping[int, ProviderCredLicense],
) -> list[GridLine]:
    """The grid after Save, in the submitted order, plus rows others added meanwhile.

    ``outcomes`` maps row index → the service's outcome; ``stored`` is this ProviderCred's
    licenses as they are now (read after the writes).
    """
    lines: list[GridLine] = []
    shown: set[int] = set()
    for index, row in enumerate(rows):
        key = as_int_key(row.values[KEY_FIELD])
        if index in plan.refused:
            lines.append(row.kept(outcome="invalid", errors=plan.refused[index]))
        elif index in plan.skipped:
            line = _untouched_line(row, key, stored)
            if line is None:
                continue
            lines.append(line)
        else:
            lines.append(_outcome_line(row, key, outcomes[index], stored))
        if key is not None:
            shown.add(key)
    for key, license in stored.items():
        if key not in shown:
            by = license.entry_user or "someone else"
            lines.append(
                stored_line(license, outcome=REFRESHED, message=f"Added by {by} meanwhile.")
            )
    return lines


def _untouched_line(
    row: SubmittedRow, key: int | None, stored: Mapping[int, ProviderCredLicense]
) -> GridLine | None:
    if row.is_new:
        return None
    license = stored.get(key) if key is not None else None
    if license is None:
        return row.kept(
            editable=False,
            outcome=DELETED,
            message="Deleted by someone else since you loaded the page.",
        )
    if version_of(license) != row.version:
        by = license.update_user or "someone else"
        return stored_line(
            license,
            outcome=REFRESHED,
            message=f"Changed by {by} since you loaded the page; showing the stored values.",
        )
    return stored_line(license)


def _outcome_line(
    row: SubmittedRow,
    key: int | None,
    outcome: ItemOutcome,
    stored: Mapping[int, ProviderCredLicense],
) -> GridLine:
    current = stored.get(key) if key is not None else None
    if outcome.action == DELETED:
        return row.kept(editable=False, outcome=DELETED)
    if outcome.ok:
        if current is None:  # removed again between our write and the re-read
            return row.kept(editable=False, outcome=DELETED, message="Deleted meanwhile.")
        return stored_line(current, outcome=outcome.action)
    if outcome.action == CONFLICT and _is_version_conflict(row, outcome, current):
        if row.delete and current is None:
            return row.kept(
                editable=False, outcome=DELETED, message="Already deleted by someone else."
            )
        return row.kept(
            outcome=CONFLICT,
            message=_conflict_message(row, current),
            stored_version="" if current is None else version_of(current),
            conflict=_conflict(row, current),
        )
    errors = dict(outcome.errors) or {ROW_LEVEL: [outcome.body]}
    return row.kept(outcome=outcome.action, errors=errors)


def _conflict_message(row: SubmittedRow, current: ProviderCredLicense | None) -> str:
    """The grid's own words for a row someone else changed since the page was loaded."""
    if current is None:
        return "Deleted by someone else since you loaded it."
    if row.is_new:
        return "Created by someone else since you loaded it."
    return f"Changed by {current.update_user or 'someone'} since you loaded it; not saved."


def _is_version_conflict(
    row: SubmittedRow, outcome: ItemOutcome, current: ProviderCredLicense | None
) -> bool:
    if outcome.current is not None:
        return True
    return not row.is_new and current is None


def _conflict(row: SubmittedRow, current: ProviderCredLicense | None) -> Conflict:
    if current is None:
        return Conflict(stored=None)
    values = stored_values(current)
    differs = frozenset(
        name for name in COLUMN_NAMES if values[name].strip() != row.values[name].strip()
    )
    return Conflict(
        stored=values,
        updated_by=current.update_user,
        updated_at=current.update_date,
        differs=differs,
    )


# ---------------------------------------------------------------------------------------------
# The service calls


def save_grid(
    session: Session,
    provider_cred_key: int,
    rows: Sequence[SubmittedRow],
    *,
    actor: str,
    activity_id: str,
) -> list[GridLine]:
    """Deletes first, then creates/updates, both through the service (which commits).

    Raises ``ParentNotFound`` if the ProviderCred no longer exists.
    """
    plan = plan_save(rows, provider_cred_key)
    outcomes: dict[int, ItemOutcome] = {}
    if plan.delete_keys:
        results = delete_licenses(
            session,
            provider_cred_key,
            plan.delete_keys,
            actor=actor,
            activity_id=activity_id,
            expected_versions=plan.delete_versions,
        )
        outcomes.update(zip(plan.delete_rows, results, strict=True))
    if plan.items:
        results = upsert_licenses(
            session,
            provider_cred_key,
            plan.items,
            actor=actor,
            activity_id=activity_id,
            expected_versions=plan.item_versions,
        )
        outcomes.update(zip(plan.item_rows, results, strict=True))
    stored = load_licenses(session, provider_cred_key)
    return reconcile(rows, plan, outcomes, stored)
