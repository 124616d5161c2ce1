"""Finding provider credentials: search by provider ID or key, paged, with license counts."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, func, or_, select, true
from sqlalchemy.orm import Session

from app.credentials.models import ProviderCred
from app.ui.expiry import ExpiryClock, counts_by_cred
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
    """Provider ID containing ``query`` (any case), or a credential key equal to it."""
    text = query.strip()
    if not text:
        return true()
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    by_provider = ProviderCred.provider_id.ilike(f"%{escaped}%", escape="\\")
    if text.isascii() and text.isdigit() and INT32_MIN <= int(text) <= INT32_MAX:
        return or_(ProviderCred.provider_cred_key == int(text), by_provider)
    return by_provider


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
