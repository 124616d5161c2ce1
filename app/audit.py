"""Server-stamped audit columns shared by every VBAPI entity."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import DateTime, String
from sqlalchemy.orm import Mapped, mapped_column

AUDIT_USER_LENGTH = 20


def utcnow() -> datetime:
    """Naive UTC, the form every date-time column stores."""
    return datetime.now(UTC).replace(tzinfo=None)


class AuditMixin:
    entry_date: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    entry_user: Mapped[str | None] = mapped_column(String(AUDIT_USER_LENGTH))
    update_date: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    update_user: Mapped[str | None] = mapped_column(String(AUDIT_USER_LENGTH))
