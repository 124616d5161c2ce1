"""Reading a license's history: its per-field rows grouped back into changes, newest first."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from marshmallow import Schema, fields
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.api.fields import Int32, WireDateTime
from app.history.models import LicenseChange
from app.licenses.schemas import LICENSE_SCHEMA


class LicenseChangeSchema(Schema):
    """One change of one license: who, when, which activity, and ``{field: [old, new]}``."""

    activityID = fields.String(attribute="activity_id")
    at = WireDateTime()
    user = fields.String(allow_none=True)
    action = fields.String(metadata={"enum": ["created", "updated", "deleted"]})
    changes = fields.Dict(keys=fields.String(), values=fields.List(fields.Raw(allow_none=True)))


LICENSE_CHANGE_SCHEMA = LicenseChangeSchema()

# History stores values as text; integer fields are given back as the numbers they were.
_DECODERS: dict[str, Callable[[str], Any]] = {
    field.data_key or name: int
    for name, field in LICENSE_SCHEMA.load_fields.items()
    if isinstance(field, Int32)
}


def license_history(
    session: Session, provider_cred_key: int, license_key: int
) -> list[dict[str, Any]]:
    """Every change of one license under one ProviderCred, newest first (also once deleted)."""
    rows = session.scalars(
        select(LicenseChange)
        .where(
            LicenseChange.provider_cred_license_key == license_key,
            LicenseChange.provider_cred_key == provider_cred_key,
        )
        .order_by(LicenseChange.at.desc(), LicenseChange.id.desc())
    )
    changes: dict[tuple[str, str], dict[str, Any]] = {}
    fields_of: dict[tuple[str, str], list[LicenseChange]] = {}
    for row in rows:
        group = (row.activity_id, row.action)
        if group not in changes:
            changes[group] = {
                "activity_id": row.activity_id,
                "at": row.at,
                "user": row.user,
                "action": row.action,
            }
            fields_of[group] = []
        fields_of[group].append(row)
    for group, entry in changes.items():
        entry["changes"] = {
            row.field: [_decode(row.field, row.old_value), _decode(row.field, row.new_value)]
            for row in sorted(fields_of[group], key=lambda r: r.id)
            if row.field is not None
        }
    return LICENSE_CHANGE_SCHEMA.dump(list(changes.values()), many=True)


def _decode(field_name: str, value: str | None) -> Any:
    if value is None:
        return None
    decoder = _DECODERS.get(field_name)
    return decoder(value) if decoder else value
