from __future__ import annotations

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.audit import AuditMixin
from app.extensions import db


class CredLicenseType(AuditMixin, db.Model):
    __tablename__ = "cred_license_type"

    cred_license_type_key: Mapped[int] = mapped_column(
        Integer, primary_key=True, autoincrement=False
    )
    display: Mapped[str | None] = mapped_column(String(128))
    description: Mapped[str | None] = mapped_column(String(512))
