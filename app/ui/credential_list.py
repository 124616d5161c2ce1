"""Finding provider credentials: search by provider ID, key or license number, paged, with
license counts and expiry flags (the licenses package's one expiry rule)."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import ARRAY, ColumnElement, Integer, any_, false, func, or_, select, true
from sqlalchemy.orm import Session

from app.credentials.models import ProviderCred
from app.licenses.expiry import ExpiryClock, counts_by_cred
from app.licenses.models import ProviderCredLicense
from app.ui.paging import Page, clamp
from app.wire.fields import query_int32

#: Why a search text with a NUL character is not searched: PostgreSQL text cannot hold one
#: (psycopg refuses such a query outright), so no stored value has one either.
NUL_IN_SEARCH = (
    "The search text contains a NUL character, which no provider ID, key or license number "
    "holds. Remove it and search again."
)


#: The longest value a search can match: a provider ID (contained in) or a license number (equal).
LONGEST_SEARCHED_VALUE = max(
    ProviderCred.__table__.c.provider_id.type.length,
    ProviderCredLicense.__table__.c.license_number.type.length,
)


def search_problem(query: str) -> str | None:
    """Why ``query`` cannot be searched, or ``None``: the same refusal on either database."""
    return NUL_IN_SEARCH if "\x00" in query else None


@dataclass(frozen=True)
class CredSummary:
    cred: ProviderCred
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def licenses(self) -> int:
        return self.counts.get("licenses", 0)


def search_condition(query: str, dialect: str) -> ColumnElement[bool]:
    """Provider ID containing ``query`` (any case), a credential key equal to it, or a
    credential holding a license whose number is ``query`` (any case).

    Each way of matching is a condition an index of ``provider_cred`` serves (on PostgreSQL
    a trigram index for the provider ID, the primary key for the key), so the planner can
    join them as a union of bitmaps (``BitmapOr``). The license number's holders are one key
    set read through ``lower(license_number)``: on PostgreSQL collected once into an array
    (``key = ANY(ARRAY(…))``, an init plan) that the primary key serves too; as an ``IN``
    subquery it was a filter no index serves, and it made the planner scan every
    ProviderCred for the whole ``OR``, whatever the statistics. A short query (fewer than
    three characters: no trigram) still reads the table, as it must to count its matches.
    """
    text = query.strip()
    if not text:
        return true()
    if len(text) > LONGEST_SEARCHED_VALUE:
        # Nothing stored is that long; and on SQLite such a LIKE pattern (from 50,000
        # characters) is an error, which read as "database unavailable".
        return false()
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    by_provider = ProviderCred.provider_id.ilike(f"%{escaped}%", escape="\\")
    holders = select(ProviderCredLicense.provider_cred_key).where(
        func.lower(ProviderCredLicense.license_number) == text.lower()
    )
    if dialect == "postgresql":
        collected = func.array(holders.scalar_subquery(), type_=ARRAY(Integer))
        by_license_number = ProviderCred.provider_cred_key == any_(collected)
    else:
        by_license_number = ProviderCred.provider_cred_key.in_(holders)
    key = query_int32(text)  # keys are any int32 the client chose, negative ones too
    if key is not None:
        return or_(ProviderCred.provider_cred_key == key, by_provider, by_license_number)
    return or_(by_provider, by_license_number)


def search_creds(
    session: Session, query: str, page: int, size: int, clock: ExpiryClock
) -> Page[CredSummary]:
    """Three queries whatever the page size: the total, the page, the page's counts."""
    condition = search_condition(query, session.get_bind().dialect.name)
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
