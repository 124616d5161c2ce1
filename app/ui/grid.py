"""The license grid's rows: its columns, how a stored license reads as cells, blank rows.

A cell holds a string exactly as shown or typed. Each row also carries its version (the
``update_date`` it was loaded at, full precision) and its cells as loaded, so that a Save can
tell which cells the user changed, and merge them per cell after a conflict (see
``app.ui.grid_save``).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Mapping, Sequence
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
from app.ui.cell_values import UnreadableDate, format_date_cell, parse_date_cell, state_cell

REFRESHED = "refreshed"
ROW_LEVEL = "_item"
INTEGER = re.compile(r"(?P<sign>[+-]?)(?P<digits>[0-9]+)")


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
    """A stored date-time as a date cell (``MM/DD/YYYY``, with the time when it has one).

    A time is kept visible (and sent back) so that saving a row never truncates it.
    """
    return format_date_cell(value)


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


def loaded_text(values: Mapping[str, str]) -> str:
    """The cells as loaded, carried by the page so a Save can tell which cells a person changed
    (an untouched row is not re-sent; a conflict merges per cell)."""
    return json.dumps([values.get(name) or "" for name in COLUMN_NAMES], separators=(",", ":"))


def parse_loaded(text: str) -> dict[str, str] | None:
    """The cells a page says it loaded; ``None`` if the page sent no readable list."""
    try:
        cells = json.loads(text) if text else None
    except ValueError:
        return None
    if not isinstance(cells, list) or len(cells) != len(COLUMN_NAMES):
        return None
    if not all(isinstance(cell, str) for cell in cells):
        return None
    return dict(zip(COLUMN_NAMES, cells, strict=True))


def same_cell(column: Column, a: str, b: str) -> bool:
    """Whether two cell texts mean the same value (03/01/2027 is 2027-03-01; "tx" is TX)."""
    return canonical(column, a) == canonical(column, b)


def as_input_holds(text: str) -> str:
    """``text`` as a text input holds it: the browser drops line breaks from its value."""
    return text.replace("\r", "").replace("\n", "")


def canonical(column: Column, text: str) -> str:
    text = as_input_holds(text or "").strip()
    if column.kind == "date":
        try:
            parsed = parse_date_cell(text)
        except UnreadableDate:
            return text
        return "" if parsed is None else parsed.isoformat()
    if column.kind == "state":
        return state_cell(text)
    return text


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


def parse_loaded_at(text: str) -> datetime | None:
    """When the page says it was loaded; ``None`` when it says nothing readable."""
    try:
        return parse_version(text)
    except ValueError:
        return None


def as_int_key(text: str) -> int | None:
    return cell_integer((text or "").strip())


#: More significant digits than any int32 (or int64) has: past them only the size matters.
_SIGNIFICANT_DIGITS = 19


def cell_integer(text: str) -> int | None:
    """The integer a cell's text spells (signs and leading zeros allowed), ``None`` if it spells
    none. A number of more digits than Python converts (4,300) was a ``ValueError`` and the
    Save a 500: beyond int64 its first digits stand for it, out of range all the same."""
    match = INTEGER.fullmatch(text)
    if match is None:
        return None
    sign, digits = match["sign"], match["digits"].lstrip("0") or "0"
    return int(sign + digits[:_SIGNIFICANT_DIGITS])


# ---------------------------------------------------------------------------------------------
# Rows


@dataclass
class Conflict:
    """Cells both people changed: the stored value beside the user's (``None``: deleted)."""

    stored: dict[str, str] | None
    updated_by: str | None = None
    differs: frozenset[str] = frozenset()


@dataclass
class GridLine:
    """One row of the grid as shown: its cells, hidden state and the outcome of the last Save."""

    values: dict[str, str]
    version: str = ""
    loaded: str = ""
    conflicts: str = ""
    delete: bool = False
    editable: bool = True
    outcome: str | None = None
    message: str | None = None
    errors: dict[str, list[str]] = field(default_factory=dict)
    conflict: Conflict | None = None
    term_date: datetime | None = None
    psv_date: datetime | None = None
    form: Any = None
    #: The row of the Save's form it shows (``None``: a row the Save did not post).
    row_index: int | None = None

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
            "loaded": self.loaded,
            "conflicts": self.conflicts,
            "resolve": "",
            "delete": self.delete,
        }


def stored_line(license: ProviderCredLicense, **state: Any) -> GridLine:
    values = stored_values(license)
    state.setdefault("values", values)
    return GridLine(
        version=version_of(license),
        loaded=loaded_text(values),
        term_date=license.term_date,
        psv_date=license.psv_date,
        **state,
    )


def blank_values() -> dict[str, str]:
    return dict.fromkeys(COLUMN_NAMES, "")


def blank_lines(count: int) -> list[GridLine]:
    """``count`` blank rows; their key cells stay empty (the server assigns a free key)."""
    return [GridLine(values=blank_values()) for _ in range(count)]


def outcome_counts(lines: Sequence[GridLine], elsewhere: Sequence[str] = ()) -> dict[str, int]:
    """How many rows got each outcome, for the summary above the grid: the lines' and those of
    the Save's rows the page does not show (``elsewhere``, their outcomes)."""
    counts = Counter(elsewhere)
    counts.update(line.outcome for line in lines if line.outcome)
    return dict(counts)
