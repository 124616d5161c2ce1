"""A license's history for people: one entry per change, its fields old → new."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.api.fields import parse_wire_datetime
from app.history.models import LicenseChange
from app.license_types.models import CredLicenseType
from app.ui.grid import COLUMNS, cell_datetime

TYPE_FIELD = "credLicenseType_Key"
FIELD_LABELS = {c.name: c.label for c in COLUMNS} | {"providerCred_Key": "Provider credential"}
FIELD_ORDER = {name: position for position, name in enumerate(FIELD_LABELS)}
DATE_FIELDS = frozenset(c.name for c in COLUMNS if c.kind == "date")


@dataclass(frozen=True)
class FieldChange:
    field: str
    old: str | None
    new: str | None

    @property
    def label(self) -> str:
        return FIELD_LABELS.get(self.field, self.field)


@dataclass
class HistoryEntry:
    activity_id: str
    at: datetime
    user: str | None
    action: str
    provider_cred_key: int
    changes: list[FieldChange] = field(default_factory=list)


def license_history(session: Session, license_key: int) -> list[HistoryEntry]:
    """Newest first. Readable after the license is deleted (history has no foreign key)."""
    rows = session.scalars(
        select(LicenseChange)
        .where(LicenseChange.provider_cred_license_key == license_key)
        .order_by(LicenseChange.at.desc(), LicenseChange.id.desc())
    ).all()
    type_names = _type_names(session, rows)
    entries: list[HistoryEntry] = []
    for row in rows:
        entry = entries[-1] if entries else None
        if entry is None or (entry.activity_id, entry.at, entry.action) != (
            row.activity_id,
            row.at,
            row.action,
        ):
            entry = HistoryEntry(
                row.activity_id, row.at, row.user, row.action, row.provider_cred_key
            )
            entries.append(entry)
        if row.field is not None:
            entry.changes.append(
                FieldChange(
                    row.field,
                    _readable(row.field, row.old_value, type_names),
                    _readable(row.field, row.new_value, type_names),
                )
            )
    for entry in entries:
        entry.changes.sort(key=lambda change: FIELD_ORDER.get(change.field, len(FIELD_ORDER)))
    return entries


def _type_names(session: Session, rows: list[LicenseChange]) -> dict[str, str]:
    keys = {
        int(value)
        for row in rows
        if row.field == TYPE_FIELD
        for value in (row.old_value, row.new_value)
        if value is not None and value.lstrip("-").isdigit()
    }
    if not keys:
        return {}
    found = session.execute(
        select(CredLicenseType.cred_license_type_key, CredLicenseType.display).where(
            CredLicenseType.cred_license_type_key.in_(keys)
        )
    )
    return {str(key): display for key, display in found if display}


def _readable(name: str, value: str | None, type_names: dict[str, str]) -> str | None:
    if value is None:
        return None
    if name == TYPE_FIELD and value in type_names:
        return f"{type_names[value]} ({value})"
    if name in DATE_FIELDS:
        parsed = parse_wire_datetime(value)
        if parsed is not None:
            return cell_datetime(parsed).replace("T", " ")
    return value
