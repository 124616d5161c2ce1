from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.audit import AuditMixin
from app.extensions import db


class ProviderCredLicense(AuditMixin, db.Model):
    """One professional license within one credentialing process (SPEC section 1)."""

    __tablename__ = "provider_cred_license"

    provider_cred_license_key: Mapped[int] = mapped_column(
        Integer, primary_key=True, autoincrement=False
    )
    provider_cred_key: Mapped[int] = mapped_column(
        ForeignKey("provider_cred.provider_cred_key"), index=True
    )
    cred_license_type_key: Mapped[int | None] = mapped_column(
        ForeignKey("cred_license_type.cred_license_type_key"), index=True
    )
    license_name: Mapped[str | None] = mapped_column(String(512))
    license_number: Mapped[str | None] = mapped_column(String(50))
    state: Mapped[str | None] = mapped_column(String(2))
    specialty_code: Mapped[str | None] = mapped_column(String(10))
    effective_date: Mapped[datetime | None] = mapped_column(DateTime)
    term_date: Mapped[datetime | None] = mapped_column(DateTime, index=True)
    psv_date: Mapped[datetime | None] = mapped_column(DateTime)
