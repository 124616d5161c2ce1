"""The license grid: stored licenses → rows of cells, and submitted rows → what Save sends.

A row's cells hold strings exactly as typed. Save sends only rows the user touched (a row left
as loaded is not re-sent, so another user's later change to it is not reported as a conflict),
each with the version it was loaded at. After Save, :func:`reconcile` turns the service's
per-item outcomes back into rows: saved rows show the stored values and their new version,
failed rows keep what was typed, with the errors on their cells.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from app.api.fields import INT32_MAX
from app.batch.outcome import CONFLICT, DELETED, ItemOutcome
from app.licenses.models import ProviderCredLicense
from app.licenses.schemas import KEY_FIELD, LICENSE_SCHEMA

PARENT_FIELD = "providerCred_Key"
REFRESHED = "refreshed"
ROW_LEVEL = "_item"
INTEGER = re.compile(r"[+-]?[0-9]+")
DATE_VALUE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
DATETIME_VALUE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(:[0-9]{2})?")


def _max_length(json_name: str) -> int | None:
    for schema_field in LICENSE_SCHEMA.load_fields.values():
        if schema_field.data_key == json_name:
            return getattr(schema_field, "max_length", None)
    raise LookupError(json_name)


@dataclass(frozen=True)
class Column:
    """One grid column; ``name`` is the JSON field name and the row form's field name."""

    name: str
    label: str
    kind: str  # key | type | state | text | date
    max_length: int | None = None
    width: str = ""


COLUMNS: tuple[Column, ...] = (
    Column(KEY_FIELD, "Key", "key", width="key"),
    Column("credLicenseType_Key", "Type", "type", width="type"),
    Column("license_Name", "License name", "text", _max_length("license_Name"), "name"),
    Column("license_Number", "Number", "text", _max_length("license_Number"), "number"),
    Column("state", "State", "state", width="state"),
    Column("specialty_Code", "Specialty", "text", _max_length("specialty_Code"), "code"),
    Column("effective_Date", "Effective", "date", width="date"),
    Column("term_Date", "Term", "date", width="date"),
    Column("psV_Date", "PSV", "date", width="date"),
)
COLUMN_NAMES = tuple(c.name for c in COLUMNS)

OUTCOME_LABELS = {
    "created": "Created",
    "updated": "Updated",
    "unchanged": "Unchanged",
    "deleted": "Deleted",
    "invalid": "Error",
    "conflict": "Conflict",
    "not_found": "Not found",
    "failed": "Failed",
    REFRESHED: "Refreshed",
}
FAILED_OUTCOMES = frozenset({"invalid", "conflict", "not_found", "failed"})


# ---------------------------------------------------------------------------------------------
# Cells


def cell_datetime(value: datetime | None) -> str:
    """A stored date-time as a date cell: ``YYYY-MM-DD`` at midnight, else with the time.

    A time is kept visible (and sent back) so that saving a row never truncates it.
    """
    if value is None:
        return ""
    if (value.hour, value.minute, value.second) == (0, 0, 0):
        return f"{value:%Y-%m-%d}"
    return f"{value:%Y-%m-%dT%H:%M}" + (f":{value:%S}" if value.second else "")


def date_input_type(value: str) -> str:
    """The ``<input type>`` that can show ``value`` unchanged (text for what a date can't)."""
    value = value or ""
    if not value or DATE_VALUE.fullmatch(value):
        return "date"
    if DATETIME_VALUE.fullmatch(value):
        return "datetime-local"
    return "text"


def stored_values(license: ProviderCredLicense) -> dict[str, str]:
    def text(value: Any) -> str:
        return "" if value is None else str(value)

    return {
        KEY_FIELD: str(license.provider_cred_license_key),
        "credLicenseType_Key": text(license.cred_license_type_key),
        "license_Name": text(license.license_name),
        "license_Number": text(license.license_number),
        "state": text(license.state),
        "specialty_Code": text(license.specialty_code),
        "effective_Date": cell_datetime(license.effective_date),
        "term_Date": cell_datetime(license.term_date),
        "psV_Date": cell_datetime(license.psv_date),
    }


def fingerprint(values: Mapping[str, str]) -> str:
    """A short digest of a row's cells as the browser sends them back (CR/LF are dropped)."""
    joined = "\x1f".join(
        (values.get(name) or "").replace("\r", "").replace("\n", "") for name in COLUMN_NAMES
    )
    return hashlib.sha256(joined.encode("utf-8", "surrogatepass")).hexdigest()[:20]


def version_of(license: ProviderCredLicense) -> str:
    return license.update_date.isoformat()


def parse_version(text: str) -> datetime | None:
    """A version sent back by the page; raises ``ValueError`` when it is not one."""
    if not text:
        return None
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is not None:
        raise ValueError(text)
    return parsed


def as_int_key(text: str) -> int | None:
    text = (text or "").strip()
    return int(text) if INTEGER.fullmatch(text) else None


# ---------------------------------------------------------------------------------------------
# Rows


@dataclass
class Conflict:
    """What is stored now for a row that changed since it was loaded (``None``: deleted)."""

    stored: dict[str, str] | None
    updated_by: str | None = None
    updated_at: datetime | None = None
    differs: frozenset[str] = frozenset()


@dataclass
class GridLine:
    """One row of the grid as shown: its cells, hidden state and the outcome of the last Save."""

    values: dict[str, str]
    version: str = ""
    original: str = ""
    suggested_key: str = ""
    stored_version: str = ""
    delete: bool = False
    editable: bool = True
    outcome: str | None = None
    message: str | None = None
    errors: dict[str, list[str]] = field(default_factory=dict)
    conflict: Conflict | None = None
    form: Any = None

    @property
    def is_new(self) -> bool:
        return not self.version

    @property
    def license_key(self) -> int | None:
        return as_int_key(self.values.get(KEY_FIELD, ""))

    @property
    def failed(self) -> bool:
        return self.outcome in FAILED_OUTCOMES

    @property
    def row_errors(self) -> list[str]:
        """Messages that belong to no cell of the grid."""
        return [m for name, msgs in self.errors.items() if name not in COLUMN_NAMES for m in msgs]

    @property
    def problems(self) -> list[str]:
        """What went wrong with this row, cell by cell, for the summary above the grid."""
        labels = {column.name: column.label for column in COLUMNS}
        found = [
            f"{labels[name]}: {' '.join(messages)}" if name in labels else " ".join(messages)
            for name, messages in self.errors.items()
        ]
        if self.message and self.failed:
            found.append(self.message)
        return found

    def form_data(self) -> dict[str, Any]:
        return {
            **self.values,
            "version": self.version,
            "original": self.original,
            "suggested_key": self.suggested_key,
            "stored_version": self.stored_version,
            "overwrite": False,
            "delete": self.delete,
        }


def stored_line(license: ProviderCredLicense, **state: Any) -> GridLine:
    values = stored_values(license)
    return GridLine(
        values=values, version=version_of(license), original=fingerprint(values), **state
    )


def blank_values() -> dict[str, str]:
    return dict.fromkeys(COLUMN_NAMES, "")


def blank_lines(count: int, first_free_key: int | None, taken: Iterable[int]) -> list[GridLine]:
    """``count`` blank rows, each offered the next free license key (not one already shown)."""
    taken_keys = set(taken)
    lines: list[GridLine] = []
    candidate = first_free_key
    for _ in range(count):
        while candidate is not None and candidate in taken_keys:
            candidate = candidate + 1 if candidate < INT32_MAX else None
        suggestion = "" if candidate is None else str(candidate)
        values = blank_values()
        values[KEY_FIELD] = suggestion
        lines.append(GridLine(values=values, suggested_key=suggestion))
        if candidate is not None:
            taken_keys.add(candidate)
    return lines


def next_suggestion(lines: Sequence[GridLine]) -> int | None:
    """The key the page's "Add row" offers next: one past every key shown."""
    keys = [k for line in lines if (k := line.license_key) is not None]
    suggested = [as_int_key(line.suggested_key) for line in lines]
    highest = max([*keys, *(k for k in suggested if k is not None)], default=None)
    if highest is None or highest >= INT32_MAX:
        return None
    return highest + 1


# ---------------------------------------------------------------------------------------------
# Save: submitted rows → service calls


@dataclass
class SubmittedRow:
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
            message=outcome.body,
            stored_version="" if current is None else version_of(current),
            conflict=_conflict(row, current),
        )
    errors = dict(outcome.errors) or {ROW_LEVEL: [outcome.body]}
    return row.kept(outcome=outcome.action, errors=errors)


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
