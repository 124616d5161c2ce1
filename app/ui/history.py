"""A license's history for people: one entry per change, its fields old → new."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.history.pages import stored_history
from app.history.stored_changes import StoredChanges, read_changes
from app.history.stored_time import day_named
from app.license_types.models import CredLicenseType
from app.ui.grid import COLUMNS, cell_datetime
from app.wire.fields import is_int32, parse_wire_datetime

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
    #: ``None`` when the stored time is not one (edited by hand): the page shows ``stored_at``
    at: datetime | None
    user: str | None
    action: str
    provider_cred_key: int
    changes: list[FieldChange] = field(default_factory=list)
    #: not the service's ``{field: [old, new]}`` (edited by hand): the page shows it as stored
    unexpected_shape: bool = False
    stored_text: str | None = None
    #: the stored time, only when it does not read as one; and the day it still names, if any
    stored_at: str | None = None
    stored_day: datetime | None = None


#: Changes per page: a license's history only grows.
HISTORY_PAGE_SIZE = 50


def license_history(
    session: Session, license_key: int, page: int = 1, size: int = HISTORY_PAGE_SIZE
) -> list[HistoryEntry]:
    """Page ``page`` (from 1) of the changes, newest first (in the order they were written:
    ``app.history.pages``). Readable after the license is deleted (history has no foreign
    key)."""
    rows = stored_history(session, license_key, page=page, size=size)
    stored = [read_changes(row.changes) for row in rows]
    type_names = _type_names(session, stored)
    entries: list[HistoryEntry] = []
    for row, changes in zip(rows, stored, strict=True):
        entry = HistoryEntry(row.activity_id, None, row.user, row.action, row.provider_cred_key)
        if isinstance(row.at, str):  # not a time (``time_as_stored``): shown as stored
            entry.stored_at, entry.stored_day = row.at, day_named(row.at)
        else:
            entry.at = row.at
        entry.changes = sorted(
            (
                FieldChange(
                    name, _readable(name, old, type_names), _readable(name, new, type_names)
                )
                for name, (old, new) in changes.fields.items()
            ),
            key=lambda change: FIELD_ORDER.get(change.field, len(FIELD_ORDER)),
        )
        if not changes.expected_shape:
            entry.unexpected_shape, entry.stored_text = True, changes.text
        entries.append(entry)
    return entries


def _type_names(session: Session, stored: Sequence[StoredChanges]) -> dict[int, str]:
    """The names of the license types the changes name. Only a 32-bit key can name one: a
    key edited by hand beyond that is shown as its number, not sent to the database (which
    refuses it)."""
    keys = {
        value
        for changes in stored
        for value in changes.fields.get(TYPE_FIELD, ())
        if is_int32(value)
    }
    if not keys:
        return {}
    found = session.execute(
        select(CredLicenseType.cred_license_type_key, CredLicenseType.display).where(
            CredLicenseType.cred_license_type_key.in_(keys)
        )
    )
    return {key: display for key, display in found if display}


def _readable(name: str, value: Any, type_names: dict[int, str]) -> str | None:
    if value is None:
        return None
    if name == TYPE_FIELD and value in type_names:
        return f"{type_names[value]} ({value})"
    if name in DATE_FIELDS and isinstance(value, str):
        parsed = parse_wire_datetime(value)
        if parsed is not None:
            return cell_datetime(parsed).replace("T", " ")
    return str(value)
