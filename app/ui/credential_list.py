"""Finding provider credentials: search by provider ID, key or license number, paged, with
license counts and expiry flags (the licenses package's one expiry rule)."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, func, or_, select, true
from sqlalchemy.orm import Session

from app.credentials.models import ProviderCred
from app.licenses.expiry import ExpiryClock, counts_by_cred
from app.licenses.models import ProviderCredLicense
from app.ui.paging import Page, clamp
from app.wire.fields import INT32_MAX, INT32_MIN


@dataclass(frozen=True)
class CredSummary:
    cred: ProviderCred
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def licenses(self) -> int:
        return self.counts.get("licenses", 0)


def search_condition(query: str) -> ColumnElement[bool]:
    """Provider ID containing ``query`` (any case), a credential key equal to it, or a
    credential holding a license whose number is ``query`` (any case; indexed on
    ``lower(license_number)``)."""
    text = query.strip()
    if not text:
        return true()
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    by_provider = ProviderCred.provider_id.ilike(f"%{escaped}%", escape="\\")
    by_license_number = ProviderCred.provider_cred_key.in_(
        select(ProviderCredLicense.provider_cred_key).where(
            func.lower(ProviderCredLicense.license_number) == text.lower()
        )
    )
    if text.isascii() and text.isdigit() and INT32_MIN <= int(text) <= INT32_MAX:
        return or_(ProviderCred.provider_cred_key == int(text), by_provider, by_license_number)
    return or_(by_provider, by_license_number)


def search_creds(
    session: Session, query: str, page: int, size: int, clock: ExpiryClock
) -> Page[CredSummary]:
    """Three queries whatever the page size: the total, the page, the page's counts."""
    condition = search_condition(query)
    total = session.scalar(select(func.count()).select_from(ProviderCred).where(condition)) or 0
    number = clamp(page, total, size)
    creds = list(
        session.scalars(
            select(ProviderCred)
            .where(condition)
            .order_by(ProviderCred.provider_id, ProviderCred.provider_cred_key)
            .limit(size)
            .offset((number - 1) * size)
        )
    )
    counts = counts_by_cred(session, clock, [c.provider_cred_key for c in creds])
    items = [CredSummary(cred, counts.get(cred.provider_cred_key, {})) for cred in creds]
    return Page(items=items, number=number, size=size, total=total)
