"""The license upsert service: the only code that creates, updates or deletes licenses.

The JSON API, the staff grid, the CSV import and the seed command all call these functions.
They take plain data, an explicit session and the acting user; they never read the request.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from app.batch.engine import delete_rows, upsert_rows
from app.batch.outcome import ItemOutcome
from app.batch.spec import EntitySpec, HistorySpec, Reference
from app.credentials.models import ProviderCred
from app.history.chain import seal as seal_history
from app.history.models import LicenseChange, LicenseHistoryHead
from app.license_types.models import CredLicenseType
from app.licenses.models import ProviderCredLicense
from app.licenses.schemas import KEY_FIELD, LICENSE_SCHEMA, WRITABLE_FIELDS

LICENSE_SPEC = EntitySpec(
    label="license",
    table=ProviderCredLicense.__table__,  # type: ignore[arg-type]
    key_column="provider_cred_license_key",
    key_field=KEY_FIELD,
    schema=LICENSE_SCHEMA,
    lock_namespace=0x4C49,  # "LI"
    parent_column="provider_cred_key",
    parent_field="providerCred_Key",
    parent_path_name="providerCredKey",
    parent_label="provider credential",
    parent_table=ProviderCred.__table__,  # type: ignore[arg-type]
    parent_key_column="provider_cred_key",
    references=(
        Reference(
            column="cred_license_type_key",
            field="credLicenseType_Key",
            table=CredLicenseType.__table__,  # type: ignore[arg-type]
            key_column="cred_license_type_key",
            label="license type",
        ),
    ),
    history=HistorySpec(
        table=LicenseChange.__table__,  # type: ignore[arg-type]
        key_column="provider_cred_license_key",
        parent_column="provider_cred_key",
        heads=LicenseHistoryHead.__table__,  # type: ignore[arg-type]
        seal=seal_history,
    ),
    fields=WRITABLE_FIELDS,
)


def upsert_licenses(
    session: Session,
    provider_cred_key: int,
    items: Sequence[Any],
    *,
    actor: str | None,
    activity_id: str,
    mode: str = "upsert",
    atomic: bool = False,
    dry_run: bool = False,
    expected_versions: Mapping[int, datetime | None] | None = None,
    recorded_at: datetime | None = None,
) -> list[ItemOutcome]:
    """Create or update licenses of one ProviderCred; one outcome per item, in request order.

    ``recorded_at`` (default: now) dates the write's audit stamps and history in the past,
    hash chain included: only the demo seed (``app.demo.seed``) passes it, so that its data
    has a past rather than looking written a moment before the first person's edit.
    Raises ``ParentNotFound`` if the ProviderCred does not exist (nothing is written).
    """
    return upsert_rows(
        session,
        LICENSE_SPEC,
        items,
        actor=actor,
        activity_id=activity_id,
        parent_key=provider_cred_key,
        mode=mode,
        atomic=atomic,
        dry_run=dry_run,
        expected_versions=expected_versions,
        recorded_at=recorded_at,
    )


def delete_licenses(
    session: Session,
    provider_cred_key: int,
    keys: Sequence[int],
    *,
    actor: str | None,
    activity_id: str,
    expected_versions: Mapping[int, datetime | None] | None = None,
) -> list[ItemOutcome]:
    """Delete licenses of one ProviderCred, writing a ``deleted`` history entry for each."""
    return delete_rows(
        session,
        LICENSE_SPEC,
        keys,
        actor=actor,
        activity_id=activity_id,
        parent_key=provider_cred_key,
        expected_versions=expected_versions,
    )
