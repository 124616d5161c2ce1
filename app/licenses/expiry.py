"""Expiring licenses and overdue primary-source verification (SPEC section 4b).

A license expires at its ``term_Date``. Buckets do not overlap: ``expired`` is
``term_Date < now``; ``withinN`` is ``now + (previous window) ≤ term_Date < now + N days``.
PSV is overdue when ``psV_Date`` is null or older than ``PSV_WINDOW_DAYS``. Each rule is one SQL
expression, used for the counts and for every listed license alike.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from marshmallow import Schema, fields
from sqlalchemy import Boolean, ColumnElement, String, case, func, or_, select
from sqlalchemy.orm import Session

from app.credentials.models import ProviderCred
from app.licenses.models import ProviderCredLicense
from app.licenses.schemas import LicenseOutSchema

EXPIRY_WINDOWS = (30, 60, 90)
EXPIRED = "expired"
EXPIRY_STATUSES = (EXPIRED, *(f"within{days}" for days in EXPIRY_WINDOWS))


class ExpirableLicenseSchema(LicenseOutSchema):
    """A license with its provider and where it stands."""

    provider_ID = fields.String(attribute="provider_id")
    expiryStatus = fields.String(
        attribute="expiry_status", metadata={"enum": list(EXPIRY_STATUSES)}
    )
    psvOverdue = fields.Boolean(attribute="psv_overdue")


class ExpiryCountsSchema(Schema):
    """How many licenses of the database are in each bucket, and how many have PSV overdue."""

    expired = fields.Integer(required=True)
    within30 = fields.Integer(required=True)
    within60 = fields.Integer(required=True)
    within90 = fields.Integer(required=True)
    psvOverdue = fields.Integer(required=True)


class ExpirablesSchema(Schema):
    counts = fields.Nested(ExpiryCountsSchema, required=True)
    licenses = fields.List(fields.Nested(ExpirableLicenseSchema), required=True)


EXPIRABLES_SCHEMA = ExpirablesSchema()


def expiry_status(now: datetime) -> ColumnElement[str | None]:
    term = ProviderCredLicense.term_date
    whens: list[tuple[ColumnElement[bool], str]] = [(term < now, EXPIRED)]
    whens += [(term < now + timedelta(days=days), f"within{days}") for days in EXPIRY_WINDOWS]
    return case(*whens, else_=None).cast(String)


def psv_overdue(now: datetime, window_days: int) -> ColumnElement[bool]:
    psv = ProviderCredLicense.psv_date
    return or_(psv.is_(None), psv < now - timedelta(days=window_days))


def expirables_report(
    session: Session, *, now: datetime, within_days: int, psv_window_days: int
) -> dict[str, Any]:
    """Counts over every license of the database, and the licenses expired or expiring
    within ``within_days`` (soonest first) with their provider, status and PSV flag."""
    status = expiry_status(now)
    overdue = psv_overdue(now, psv_window_days)
    counts = session.execute(
        select(
            *(func.count().filter(status == name).label(name) for name in EXPIRY_STATUSES),
            func.count().filter(overdue).label("psvOverdue"),
        ).select_from(ProviderCredLicense)
    ).one()
    licenses = session.execute(
        select(
            ProviderCredLicense.__table__,
            ProviderCred.provider_id,
            status.label("expiry_status"),
            case((overdue, True), else_=False).cast(Boolean).label("psv_overdue"),
        )
        .join(ProviderCred, ProviderCred.provider_cred_key == ProviderCredLicense.provider_cred_key)
        .where(ProviderCredLicense.term_date < now + timedelta(days=within_days))
        .order_by(
            ProviderCredLicense.term_date.asc(), ProviderCredLicense.provider_cred_license_key
        )
    ).mappings()
    return EXPIRABLES_SCHEMA.dump({"counts": counts._mapping, "licenses": list(licenses)})
