from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, Integer, String, func
from sqlalchemy.orm import Mapped, mapped_column

from app.audit import AuditMixin
from app.extensions import DIALECT_ONLY, db

#: Indexes only PostgreSQL gets (migration 0009 drops them on SQLite): see the class docstring.
POSTGRESQL_ONLY = {DIALECT_ONLY: "postgresql"}
#: SQLite's two date indexes (migration 0015): each in its date's order (the key second, the
#: lists' tiebreak, so the order is the date's and the key's alone), then the other date, the
#: state and the license type, so that a count or a page narrowed by any of them reads the
#: index alone and never the rows it does not return.
SQLITE_ONLY = {DIALECT_ONLY: "sqlite"}
FILTER_COLUMNS = ("state", "cred_license_type_key")
SQLITE_TERM_INDEX = ("term_date", "provider_cred_license_key", "psv_date", *FILTER_COLUMNS)
SQLITE_PSV_INDEX = ("psv_date", "provider_cred_license_key", "term_date", *FILTER_COLUMNS)


class ProviderCredLicense(AuditMixin, db.Model):
    """One professional license within one credentialing process (SPEC section 1).

    On PostgreSQL every filter and sort the expiry lists and the credential search offer has
    an index, so no list reads the whole table at any size (``tests/test_read_plans.py``
    checks the plans): term date (the expiry buckets, soonest first), PSV date, state or
    license type with term date, and the license number in any case. Each ends with the key,
    the lists' tiebreak. SQLite keeps the term date's, the PSV date's (every expiry page
    counts the PSV bucket) and the license number's (the credential search), whose absence
    made those reads scan the whole table (``tests/test_read_plans_sqlite.py``), but not the
    state's and the license type's: every index is written by every batch, under SQLite's one
    write lock, so each costs all writers (docs/operations.md). Instead SQLite's term-date and
    PSV-date indexes also carry the other date, the state and the type (``SQLITE_*_INDEX``):
    a state's count or a PSV bucket in term order then reads index entries only, where it
    read every row of its range (a row lookup each: 54,000 for a state's counts at 200,000
    licenses), at the cost of longer entries in the same two indexes, not a third.
    A ProviderCred's licenses (the grid, the API's list) are read in key order a page at a
    time: ProviderCred then key, so a page is one short index walk (never a walk of the
    whole primary key, which the planner chose without statistics when only the ProviderCred
    was indexed).
    """

    __tablename__ = "provider_cred_license"
    __table_args__ = (
        Index("ix_license_cred", "provider_cred_key", "provider_cred_license_key"),
        Index(
            "ix_license_term", "term_date", "provider_cred_license_key", info=POSTGRESQL_ONLY
        ).ddl_if(dialect="postgresql"),
        Index(
            "ix_license_psv", "psv_date", "provider_cred_license_key", info=POSTGRESQL_ONLY
        ).ddl_if(dialect="postgresql"),
        Index("ix_license_term_sqlite", *SQLITE_TERM_INDEX, info=SQLITE_ONLY).ddl_if(
            dialect="sqlite"
        ),
        Index("ix_license_psv_sqlite", *SQLITE_PSV_INDEX, info=SQLITE_ONLY).ddl_if(
            dialect="sqlite"
        ),
        Index(
            "ix_license_state_term",
            "state",
            "term_date",
            "provider_cred_license_key",
            info=POSTGRESQL_ONLY,
        ).ddl_if(dialect="postgresql"),
        Index(
            "ix_license_type_term",
            "cred_license_type_key",
            "term_date",
            "provider_cred_license_key",
            info=POSTGRESQL_ONLY,
        ).ddl_if(dialect="postgresql"),
    )

    provider_cred_license_key: Mapped[int] = mapped_column(
        Integer, primary_key=True, autoincrement=False
    )
    provider_cred_key: Mapped[int] = mapped_column(ForeignKey("provider_cred.provider_cred_key"))
    cred_license_type_key: Mapped[int | None] = mapped_column(
        ForeignKey("cred_license_type.cred_license_type_key")
    )
    license_name: Mapped[str | None] = mapped_column(String(512))
    license_number: Mapped[str | None] = mapped_column(String(50))
    state: Mapped[str | None] = mapped_column(String(2))
    specialty_code: Mapped[str | None] = mapped_column(String(10))
    effective_date: Mapped[datetime | None] = mapped_column(DateTime)
    term_date: Mapped[datetime | None] = mapped_column(DateTime)
    psv_date: Mapped[datetime | None] = mapped_column(DateTime)


# The credential search matches license numbers in any case.
Index("ix_license_number_lower", func.lower(ProviderCredLicense.license_number))
