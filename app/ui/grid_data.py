"""What the grid reads: the ProviderCred, its licenses, the type catalogue, a free key."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.credentials.models import ProviderCred
from app.history.models import LicenseChange
from app.license_types.models import CredLicenseType
from app.licenses.models import ProviderCredLicense
from app.wire.fields import INT32_MAX, USPS_STATE_CODES

STATE_CODES: tuple[str, ...] = tuple(sorted(USPS_STATE_CODES))


@dataclass(frozen=True)
class TypeChoice:
    key: int
    display: str
    description: str

    @property
    def label(self) -> str:
        return self.display or str(self.key)


def load_cred(session: Session, provider_cred_key: int) -> ProviderCred | None:
    return session.get(ProviderCred, provider_cred_key)


def load_licenses(session: Session, provider_cred_key: int) -> dict[int, ProviderCredLicense]:
    """This ProviderCred's licenses by key, in key order, as stored now."""
    rows = session.scalars(
        select(ProviderCredLicense)
        .where(ProviderCredLicense.provider_cred_key == provider_cred_key)
        .order_by(ProviderCredLicense.provider_cred_license_key)
        .execution_options(populate_existing=True)
    )
    return {row.provider_cred_license_key: row for row in rows}


def license_types(session: Session) -> list[TypeChoice]:
    """The type catalogue in the order of its labels (any case), whatever the collation."""
    rows = session.execute(
        select(
            CredLicenseType.cred_license_type_key,
            CredLicenseType.display,
            CredLicenseType.description,
        )
    )
    choices = [
        TypeChoice(key, display or "", description or "") for key, display, description in rows
    ]
    return sorted(choices, key=lambda choice: (choice.label.casefold(), choice.key))


def first_free_license_key(session: Session) -> int | None:
    """One past the highest license key this database has ever used (keys are client-assigned).

    Deleted licenses count: their history stays readable under their key, so a new license
    must not take it over.
    """
    live = select(func.max(ProviderCredLicense.provider_cred_license_key)).scalar_subquery()
    past = select(func.max(LicenseChange.provider_cred_license_key)).scalar_subquery()
    keys = [k for k in session.execute(select(live, past)).one() if k is not None]
    highest = max(keys, default=0)
    return highest + 1 if highest < INT32_MAX else None
