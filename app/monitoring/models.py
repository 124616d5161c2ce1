"""A monitoring run and its snapshot: evidence that expiry was monitored (NCQA, monthly)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db

COUNT_COLUMNS = ("expired", "within30", "within60", "within90", "no_term_date", "psv_overdue")


class MonitoringRun(db.Model):
    """One run of ``monitor-expirables``: when, by whom or what, the PSV window in force and
    the count of each bucket. Never changed after it is written."""

    __tablename__ = "monitoring_run"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ran_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    ran_by: Mapped[str] = mapped_column(String(64))
    psv_window_days: Mapped[int] = mapped_column(Integer)
    expired: Mapped[int] = mapped_column(Integer, default=0)
    within30: Mapped[int] = mapped_column(Integer, default=0)
    within60: Mapped[int] = mapped_column(Integer, default=0)
    within90: Mapped[int] = mapped_column(Integer, default=0)
    no_term_date: Mapped[int] = mapped_column(Integer, default=0)
    psv_overdue: Mapped[int] = mapped_column(Integer, default=0)

    @property
    def counts(self) -> dict[str, int]:
        """The count of each bucket, and of PSV overdue, by column name."""
        return {name: getattr(self, name) for name in COUNT_COLUMNS}


REPORT_ORDER_INDEX = "ix_monitoring_run_license_report_order"


class MonitoringRunLicense(db.Model):
    """A license as it stood in one run: a copy, not a reference, so later changes to the
    license (or its deletion) leave the run's record as it was."""

    __tablename__ = "monitoring_run_license"
    # A page of a run reads its own rows along this index (``monitoring.service.get_run``).
    __table_args__ = (Index(REPORT_ORDER_INDEX, "run_id", "report_order"),)

    run_id: Mapped[int] = mapped_column(
        ForeignKey("monitoring_run.id", ondelete="CASCADE"), primary_key=True
    )
    provider_cred_license_key: Mapped[int] = mapped_column(
        Integer, primary_key=True, autoincrement=False
    )
    provider_cred_key: Mapped[int] = mapped_column(Integer)
    provider_id: Mapped[str] = mapped_column(String(20))
    license_name: Mapped[str | None] = mapped_column(String(512))
    license_number: Mapped[str | None] = mapped_column(String(50))
    state: Mapped[str | None] = mapped_column(String(2))
    term_date: Mapped[datetime | None] = mapped_column(DateTime)
    psv_date: Mapped[datetime | None] = mapped_column(DateTime)
    #: ``expired``, ``within30``/``60``/``90``, or null (in the run for its PSV alone).
    expiry_status: Mapped[str | None] = mapped_column(String(10))
    psv_overdue: Mapped[bool] = mapped_column(Boolean)
    #: The license's place in the run's report, from 1 (``monitoring.service.report_order``),
    #: set when the run is recorded; null in a run recorded by a release before migration 0013
    #: after that migration ran (a rolling upgrade), which is then read in that order anyway.
    report_order: Mapped[int | None] = mapped_column(Integer)
