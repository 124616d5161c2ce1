"""What the grid reads: the ProviderCred, a page of its licenses, the type catalogue."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.credentials.models import ProviderCred
from app.license_types.models import CredLicenseType
from app.licenses.models import ProviderCredLicense
from app.wire.fields import USPS_STATE_CODES

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


def load_page(
    session: Session, provider_cred_key: int, page: int, size: int
) -> tuple[list[ProviderCredLicense], int]:
    """One page of this ProviderCred's licenses in key order, and how many it has in all.

    A ProviderCred may hold thousands of licenses: the grid shows a page at a time, so no page
    grows with the table.
    """
    total = session.scalar(
        select(func.count()).where(ProviderCredLicense.provider_cred_key == provider_cred_key)
    )
    rows = session.scalars(
        select(ProviderCredLicense)
        .where(ProviderCredLicense.provider_cred_key == provider_cred_key)
        .order_by(ProviderCredLicense.provider_cred_license_key)
        .limit(size)
        .offset((page - 1) * size)
        .execution_options(populate_existing=True)
    )
    return list(rows), int(total or 0)


def page_of_license(session: Session, provider_cred_key: int, license_key: int, size: int) -> int:
    """The grid page (of ``size`` licenses, in key order) on which ``license_key`` is, or
    would be, shown: links to one license (the worklist's) land on its row."""
    before = session.scalar(
        select(func.count()).where(
            ProviderCredLicense.provider_cred_key == provider_cred_key,
            ProviderCredLicense.provider_cred_license_key < license_key,
        )
    )
    return int(before or 0) // size + 1


def load_licenses_by_key(session: Session, keys: Iterable[int]) -> dict[int, ProviderCredLicense]:
    """The licenses of ``keys`` as stored now, by key (in key order)."""
    wanted = sorted(set(keys))
    if not wanted:
        return {}
    rows = session.scalars(
        select(ProviderCredLicense)
        .where(ProviderCredLicense.provider_cred_license_key.in_(wanted))
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
