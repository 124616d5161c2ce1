"""License reads for the API: one license, a ProviderCred's licenses, existence checks."""

from __future__ import annotations

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from app.credentials.models import ProviderCred
from app.licenses.models import ProviderCredLicense


def provider_cred_exists(session: Session, provider_cred_key: int) -> bool:
    found = session.scalar(
        select(ProviderCred.provider_cred_key).where(
            ProviderCred.provider_cred_key == provider_cred_key
        )
    )
    return found is not None


def licenses_of(provider_cred_key: int) -> Select[tuple[ProviderCredLicense]]:
    return select(ProviderCredLicense).where(
        ProviderCredLicense.provider_cred_key == provider_cred_key
    )


def get_license(
    session: Session, provider_cred_key: int, license_key: int
) -> ProviderCredLicense | None:
    """The license, if it exists under this ProviderCred (another's is invisible)."""
    return session.scalar(
        licenses_of(provider_cred_key).where(
            ProviderCredLicense.provider_cred_license_key == license_key
        )
    )
