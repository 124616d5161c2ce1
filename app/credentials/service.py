"""ProviderCred reads and writes; writes go through the batch engine like licenses do.

The provider a ProviderCred belongs to (``provider_ID``) plays the part of the engine's
parent: it must match the path, and a ProviderCred of another provider is invisible (404).
Providers themselves are not stored here, so no parent row is looked up.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from app.batch.engine import upsert_rows
from app.batch.outcome import ItemOutcome
from app.batch.spec import EntitySpec
from app.credentials.models import ProviderCred
from app.credentials.schemas import (
    KEY_FIELD,
    PROVIDER_CRED_SCHEMA,
    PROVIDER_ID_FIELD,
    WRITABLE_FIELDS,
)

PROVIDER_CRED_SPEC = EntitySpec(
    label="provider credential",
    table=ProviderCred.__table__,  # type: ignore[arg-type]
    key_column="provider_cred_key",
    key_field=KEY_FIELD,
    schema=PROVIDER_CRED_SCHEMA,
    lock_namespace=0x5043,  # "PC"
    parent_column="provider_id",
    parent_field=PROVIDER_ID_FIELD,
    parent_path_name="providerID",
    parent_label="provider",
    fields=WRITABLE_FIELDS,
)


def write_provider_cred(
    session: Session,
    provider_id: str,
    item: Any,
    *,
    mode: str,
    actor: str | None,
    activity_id: str,
) -> ItemOutcome:
    """Create (``mode="create"``: an existing key is 409) or update (``"update"``: 404 when
    absent or another provider's) one ProviderCred of ``provider_id``. Commits on success."""
    (outcome,) = upsert_rows(
        session,
        PROVIDER_CRED_SPEC,
        [item],
        actor=actor,
        activity_id=activity_id,
        parent_key=provider_id,  # type: ignore[arg-type]  # the provider ID is the parent key
        mode=mode,
    )
    return outcome


def provider_creds_of(provider_id: str) -> Select[tuple[ProviderCred]]:
    return select(ProviderCred).where(ProviderCred.provider_id == provider_id)


def get_provider_cred(session: Session, provider_id: str, key: int) -> ProviderCred | None:
    return session.scalar(
        provider_creds_of(provider_id).where(ProviderCred.provider_cred_key == key)
    )
