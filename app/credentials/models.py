from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.audit import AuditMixin
from app.extensions import DIALECT_ONLY, db


class ProviderCred(AuditMixin, db.Model):
    """One credentialing process of one provider.

    The UI's search finds provider IDs containing its text in any case: on PostgreSQL a
    trigram index serves that (migration 0008 creates it, and ``pg_trgm``); SQLite has none.
    """

    __tablename__ = "provider_cred"
    __table_args__ = (
        Index(
            "ix_provider_cred_provider_id_trgm",
            "provider_id",
            postgresql_using="gin",
            postgresql_ops={"provider_id": "gin_trgm_ops"},
            info={DIALECT_ONLY: "postgresql"},
        ).ddl_if(dialect="postgresql"),
    )

    provider_cred_key: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    provider_id: Mapped[str] = mapped_column(String(20), index=True)
    cred_type_key: Mapped[int] = mapped_column(Integer)
    effective_date: Mapped[datetime] = mapped_column(DateTime)
    term_date: Mapped[datetime | None] = mapped_column(DateTime)
    cred_status: Mapped[str | None] = mapped_column(String(16))
    cred_organization: Mapped[str | None] = mapped_column(String(512))
    specialty_code: Mapped[str | None] = mapped_column(String(10))
    application_start_date: Mapped[datetime | None] = mapped_column(DateTime)
    committee_date: Mapped[datetime | None] = mapped_column(DateTime)
