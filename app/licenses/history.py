"""A license's history as the API answers it: its changes, newest first, in wire order."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.history.models import LicenseChange
from app.history.service import LICENSE_CHANGE_SCHEMA
from app.licenses.schemas import WRITABLE_FIELDS


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
    entries = LICENSE_CHANGE_SCHEMA.dump(rows, many=True)
    for entry in entries:  # jsonb keeps keys in its own order: answer in wire order
        entry["changes"] = dict(sorted(entry["changes"].items(), key=_wire_position))
    return entries


#: Each client field's place in the wire order (the key first); other names after them.
_WIRE_ORDER = {name: place for place, name in enumerate(WRITABLE_FIELDS.values())}


def _wire_position(item: tuple[str, Any]) -> int:
    return _WIRE_ORDER.get(item[0], len(_WIRE_ORDER))
