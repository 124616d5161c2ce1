"""License-type reads and writes; writes go through the batch engine like licenses do."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.batch.engine import delete_rows, upsert_rows
from app.batch.outcome import ItemOutcome
from app.batch.spec import Dependent, EntitySpec
from app.license_types.models import CredLicenseType
from app.license_types.schemas import KEY_FIELD, LICENSE_TYPE_SCHEMA, WRITABLE_FIELDS

LICENSE_TYPE_SPEC = EntitySpec(
    label="license type",
    table=CredLicenseType.__table__,  # type: ignore[arg-type]
    key_column="cred_license_type_key",
    key_field=KEY_FIELD,
    schema=LICENSE_TYPE_SCHEMA,
    lock_namespace=0x4354,  # "CT"
    dependents=(
        Dependent(
            table_name="provider_cred_license",
            column="cred_license_type_key",
            label="licenses",
        ),
    ),
    fields=WRITABLE_FIELDS,
)


def upsert_license_types(
    session: Session,
    items: Sequence[Any],
    *,
    actor: str | None,
    activity_id: str,
    mode: str = "upsert",
    atomic: bool = False,
    dry_run: bool = False,
) -> list[ItemOutcome]:
    """Create or update license types; one outcome per item, in request order (SPEC 4)."""
    return upsert_rows(
        session,
        LICENSE_TYPE_SPEC,
        items,
        actor=actor,
        activity_id=activity_id,
        mode=mode,
        atomic=atomic,
        dry_run=dry_run,
    )


def delete_license_types(
    session: Session, keys: Sequence[int], *, actor: str | None, activity_id: str
) -> list[ItemOutcome]:
    """Delete license types; a type that licenses still use is not deleted (409).

    A license written between the in-use check and the delete makes the database's foreign
    key refuse the delete; the second attempt then sees that license and answers 409.
    """
    for attempt in range(2):
        try:
            return delete_rows(
                session, LICENSE_TYPE_SPEC, keys, actor=actor, activity_id=activity_id
            )
        except IntegrityError:
            if attempt:
                raise
    raise AssertionError("unreachable")


def license_types() -> Select[tuple[CredLicenseType]]:
    return select(CredLicenseType)


def get_license_type(session: Session, key: int) -> CredLicenseType | None:
    return session.scalar(
        select(CredLicenseType).where(CredLicenseType.cred_license_type_key == key)
    )
