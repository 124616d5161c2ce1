"""The license grid's rows: its columns, how a stored license reads as cells, blank rows.

A cell holds a string exactly as shown or typed. Each row also carries its version (the
``update_date`` it was loaded at, full precision) and a fingerprint of its cells as loaded, so
that a Save can tell which rows the user touched (see ``app.ui.grid_save``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from app.batch.outcome import (
    CONFLICT,
    CREATED,
    DELETED,
    FAILED,
    INVALID,
    NOT_FOUND,
    UNCHANGED,
    UPDATED,
)
from app.licenses.models import ProviderCredLicense
from app.licenses.schemas import KEY_FIELD, LICENSE_SCHEMA
from app.wire.fields import INT32_MAX

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

#: What a row shows after Save: the service's action, or "refreshed" (changed by someone else).
OUTCOME_LABELS = {
    CREATED: "Created",
    UPDATED: "Updated",
    UNCHANGED: "Unchanged",
    DELETED: "Deleted",
    INVALID: "Error",
    CONFLICT: "Conflict",
    NOT_FOUND: "Not found",
    FAILED: "Failed",
    REFRESHED: "Refreshed",
}
FAILED_OUTCOMES = frozenset({INVALID, CONFLICT, NOT_FOUND, FAILED})


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


def outcome_counts(lines: Sequence[GridLine], extra_deleted: int = 0) -> dict[str, int]:
    """How many rows got each outcome, for the summary above the grid."""
    counts: dict[str, int] = {DELETED: extra_deleted} if extra_deleted else {}
    for line in lines:
        if line.outcome:
            counts[line.outcome] = counts.get(line.outcome, 0) + 1
    return counts
