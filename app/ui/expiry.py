"""Expiry buckets and PSV age of licenses (SPEC 4b/5), computed in SQL, never row by row.

A license expires at its ``term_date``. "Within N days" means ``now ≤ term_date < now + N``
and the buckets do not overlap: expired, within 30, within 60 (30–60), within 90 (60–90). PSV is
overdue when ``psv_date`` is null or older than ``PSV_WINDOW_DAYS``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, select
from sqlalchemy.orm import Session

from app.credentials.models import ProviderCred
from app.license_types.models import CredLicenseType
from app.licenses.expiry import EXPIRED, EXPIRY_WINDOWS, psv_overdue
from app.licenses.models import ProviderCredLicense
from app.ui.paging import Page, clamp

WITHIN_30, WITHIN_60, WITHIN_90 = (f"within{days}" for days in EXPIRY_WINDOWS)
# The non-overlapping day ranges of the "within" buckets: [0, 30), [30, 60), [60, 90).
WINDOW_BOUNDS = {
    f"within{high}": (low, high)
    for low, high in zip((0, *EXPIRY_WINDOWS), EXPIRY_WINDOWS, strict=False)
}
PSV_OVERDUE = "psvOverdue"
BUCKETS = (EXPIRED, WITHIN_30, WITHIN_60, WITHIN_90)
FILTERS = (*BUCKETS, PSV_OVERDUE)
LABELS = {
    EXPIRED: "Expired",
    WITHIN_30: "Within 30 days",
    WITHIN_60: "In 31–60 days",
    WITHIN_90: "In 61–90 days",
    PSV_OVERDUE: "PSV overdue",
}
SHORT_LABELS = {EXPIRED: "Expired", WITHIN_30: "≤ 30 d", WITHIN_60: "≤ 60 d", WITHIN_90: "≤ 90 d"}

License = ProviderCredLicense


@dataclass(frozen=True)
class ExpiryClock:
    """The instants the buckets are measured from (naive UTC, like the stored values)."""

    now: datetime
    psv_window_days: int

    def after(self, days: int) -> datetime:
        return self.now + timedelta(days=days)

    @property
    def psv_cutoff(self) -> datetime:
        return self.now - timedelta(days=self.psv_window_days)

    def condition(self, name: str) -> ColumnElement[bool]:
        term = License.term_date
        if name == EXPIRED:
            return term < self.now
        if name == PSV_OVERDUE:
            return psv_overdue(self.now, self.psv_window_days)
        low, high = WINDOW_BOUNDS[name]
        return and_(term >= self.after(low), term < self.after(high))

    def bucket(self, term_date: datetime | None) -> str | None:
        """The bucket of one license (for display; the queries use :meth:`condition`)."""
        if term_date is None:
            return None
        if term_date < self.now:
            return EXPIRED
        for name, (_, high) in WINDOW_BOUNDS.items():
            if term_date < self.after(high):
                return name
        return None

    def psv_overdue(self, psv_date: datetime | None) -> bool:
        return psv_date is None or psv_date < self.psv_cutoff


def _counted(clock: ExpiryClock, name: str) -> Any:
    return func.coalesce(func.sum(case((clock.condition(name), 1), else_=0)), 0).label(name)


def counts(session: Session, clock: ExpiryClock) -> dict[str, int]:
    """Licenses per filter in this database, in one query."""
    row = session.execute(select(*(_counted(clock, name) for name in FILTERS))).one()
    return {name: int(row._mapping[name]) for name in FILTERS}


def counts_by_cred(
    session: Session, clock: ExpiryClock, provider_cred_keys: list[int]
) -> dict[int, dict[str, int]]:
    """Per ProviderCred: its number of licenses and of each filter, in one query."""
    if not provider_cred_keys:
        return {}
    statement = (
        select(
            License.provider_cred_key,
            func.count().label("licenses"),
            *(_counted(clock, name) for name in FILTERS),
        )
        .where(License.provider_cred_key.in_(provider_cred_keys))
        .group_by(License.provider_cred_key)
    )
    result: dict[int, dict[str, int]] = {}
    for row in session.execute(statement).mappings():
        result[row["provider_cred_key"]] = {name: int(row[name]) for name in ("licenses", *FILTERS)}
    return result


@dataclass(frozen=True)
class ExpiringLicense:
    license: ProviderCredLicense
    provider_id: str
    type_display: str | None


def expiring_licenses(
    session: Session, clock: ExpiryClock, name: str, page: int, size: int, total: int
) -> Page[ExpiringLicense]:
    """One page of the licenses matching filter ``name``, soonest term first."""
    number = clamp(page, total, size)
    statement = (
        select(License, ProviderCred.provider_id, CredLicenseType.display)
        .join(ProviderCred, ProviderCred.provider_cred_key == License.provider_cred_key)
        .outerjoin(
            CredLicenseType,
            CredLicenseType.cred_license_type_key == License.cred_license_type_key,
        )
        .where(clock.condition(name))
        .order_by(
            License.term_date if name != PSV_OVERDUE else License.psv_date,
            License.provider_cred_license_key,
        )
        .limit(size)
        .offset((number - 1) * size)
    )
    items = [
        ExpiringLicense(license, provider_id, display)
        for license, provider_id, display in session.execute(statement)
    ]
    return Page(items=items, number=number, size=size, total=total)
