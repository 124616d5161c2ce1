from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db


class LicenseChange(db.Model):
    """One field of one change to a license.

    Deliberately without a foreign key to the license: history outlives a deleted license.
    A change that touches no field (a delete of an all-null row) is still one row with
    ``field`` null, so every action leaves a trace.
    """

    __tablename__ = "license_change"
    __table_args__ = (Index("ix_license_change_license_at", "provider_cred_license_key", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    provider_cred_license_key: Mapped[int] = mapped_column(Integer)
    provider_cred_key: Mapped[int] = mapped_column(Integer)
    activity_id: Mapped[str] = mapped_column(String(36), index=True)
    at: Mapped[datetime] = mapped_column(DateTime)
    user: Mapped[str | None] = mapped_column(String(20))
    action: Mapped[str] = mapped_column(String(10))
    field: Mapped[str | None] = mapped_column(String(40))
    old_value: Mapped[str | None] = mapped_column(Text)
    new_value: Mapped[str | None] = mapped_column(Text)
