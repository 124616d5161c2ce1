"""Reading a license's history through the API: its changes, newest first."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.history.models import LicenseChange
from app.wire.fields import WireDateTime


class LicenseChangeSchema(Schema):
    """One change of one license: who, when, which activity, and ``{field: [old, new]}``."""

    activityID = fields.String(attribute="activity_id")
    at = WireDateTime()
    user = fields.String(allow_none=True)
    action = fields.String(metadata={"enum": ["created", "updated", "deleted"]})
    changes = fields.Dict(keys=fields.String(), values=fields.List(fields.Raw(allow_none=True)))


LICENSE_CHANGE_SCHEMA = LicenseChangeSchema()


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
    return LICENSE_CHANGE_SCHEMA.dump(rows, many=True)
