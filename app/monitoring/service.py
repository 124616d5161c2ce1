"""Recording and reading monitoring runs.

A run computes the buckets with the expirables route's own SQL expressions
(``app.licenses.expiry``) and copies every license in a bucket, or with PSV overdue, into the
run in one ``INSERT … SELECT``: the snapshot is what the database held at that moment, and
later changes to the licenses never reach it. The counts are taken from the snapshot in the
same transaction, so they always agree with the licenses listed.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Boolean, Select, case, func, insert, literal, or_, select, update
from sqlalchemy.orm import Session

from app.credentials.models import ProviderCred
from app.licenses.expiry import PSV_OVERDUE, TERM_BUCKETS, ExpiryClock, expiry_status
from app.licenses.models import ProviderCredLicense
from app.monitoring.models import COUNT_COLUMNS, MonitoringRun, MonitoringRunLicense
from app.tenancy import begin_write

#: The counts a run records, in the order reports show them.
COUNTED = COUNT_COLUMNS
#: The column that counts each term bucket (the same buckets as the expirables route).
BUCKET_COLUMNS = dict(zip(TERM_BUCKETS, COUNT_COLUMNS[: len(TERM_BUCKETS)], strict=True))
RAN_BY_LENGTH = 64
#: A run older than this no longer shows monthly monitoring (the expiring page warns).
MONITORING_OVERDUE_DAYS = 31

SNAPSHOT_COLUMNS = (
    "provider_cred_license_key",
    "provider_cred_key",
    "provider_id",
    "license_name",
    "license_number",
    "state",
    "term_date",
    "psv_date",
    "expiry_status",
    "psv_overdue",
)


@dataclass(frozen=True)
class RunReport:
    run: MonitoringRun
    #: the run's licenses, or one page of them
    licenses: Sequence[MonitoringRunLicense]
    #: how many licenses the run holds in all
    total: int


def record_run(session: Session, *, now: datetime, ran_by: str, psv_window_days: int) -> int:
    """Take a snapshot of the expiry buckets at ``now``; commits; returns the run's id."""
    begin_write(session)
    try:
        run = MonitoringRun(
            ran_at=now,
            ran_by=ran_by[:RAN_BY_LENGTH],
            psv_window_days=psv_window_days,
            **dict.fromkeys(COUNTED, 0),
        )
        session.add(run)
        session.flush()
        clock = ExpiryClock(now, psv_window_days)
        status = expiry_status(clock, TERM_BUCKETS)
        overdue = clock.condition(PSV_OVERDUE)
        license = ProviderCredLicense
        place = func.row_number().over(
            order_by=report_order(status, license.term_date, license.provider_cred_license_key)
        )
        snapshot = (
            select(
                literal(run.id),
                license.provider_cred_license_key,
                license.provider_cred_key,
                ProviderCred.provider_id,
                license.license_name,
                license.license_number,
                license.state,
                license.term_date,
                license.psv_date,
                status,
                case((overdue, True), else_=False).cast(Boolean),
                place,
            )
            .join(ProviderCred, ProviderCred.provider_cred_key == license.provider_cred_key)
            .where(or_(status.is_not(None), overdue))
        )
        table = MonitoringRunLicense.__table__
        session.execute(
            insert(table).from_select(("run_id", *SNAPSHOT_COLUMNS, "report_order"), snapshot)  # type: ignore[arg-type]
        )
        snapshot_row = MonitoringRunLicense
        counts = (
            session.execute(
                select(
                    *(
                        func.count().filter(snapshot_row.expiry_status == name).label(column)
                        for name, column in BUCKET_COLUMNS.items()
                    ),
                    func.count().filter(snapshot_row.psv_overdue.is_(True)).label("psv_overdue"),
                ).where(snapshot_row.run_id == run.id)
            )
            .mappings()
            .one()
        )
        session.execute(
            update(MonitoringRun)
            .where(MonitoringRun.id == run.id)
            .values(**counts)
            .execution_options(synchronize_session=False)
        )
        run_id = run.id
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return run_id


def runs_newest_first() -> Any:
    """The runs, for a paged list (``app.api.paging.fetch_page`` or the UI pager)."""
    return select(MonitoringRun)


#: Licenses of a run a CSV download reads at a time (``yield_per``).
RUN_CHUNK = 1000


def find_run(session: Session, run_id: int) -> MonitoringRun | None:
    return session.get(MonitoringRun, run_id)


def report_order(status: Any, term_date: Any, key: Any) -> tuple[Any, ...]:
    """The report's order of a run's licenses: by bucket (expired first, the PSV-only rows
    last), then by term date (a missing one first) and key. Computed once, when the run is
    recorded: each row's place is stored (``report_order``) and indexed with the run."""
    bucket = case(
        *((status == name, i) for i, name in enumerate(TERM_BUCKETS)), else_=len(TERM_BUCKETS)
    )
    return (bucket, term_date.asc().nulls_first(), key)


def run_licenses_statement(run_id: int) -> Select[tuple[MonitoringRunLicense]]:
    """A run's licenses in the report's order, along the run's index: by stored place; rows
    without one (recorded by a release before migration 0013, see the model) after them, in
    the same order computed."""
    row = MonitoringRunLicense
    return (
        select(row)
        .where(row.run_id == run_id)
        .order_by(
            row.report_order.asc().nulls_last(),
            *report_order(row.expiry_status, row.term_date, row.provider_cred_license_key),
        )
    )


def run_licenses(session: Session, run_id: int) -> Iterator[MonitoringRunLicense]:
    """Every license of a run, in the report's order, read ``RUN_CHUNK`` at a time: a run of
    any size, without all of its licenses in memory at once."""
    statement = run_licenses_statement(run_id).execution_options(yield_per=RUN_CHUNK)
    return iter(session.scalars(statement))


def get_run(
    session: Session, run_id: int, *, page: int = 1, size: int | None = None
) -> RunReport | None:
    """One run and its licenses (expired first, then by term date and key): all of them, or
    page ``page`` (from 1) of ``size``. A run holds every license found at that moment, so
    pages are how a screen or an API client reads it; the CSV reads them with
    ``run_licenses``."""
    run = find_run(session, run_id)
    if run is None:
        return None
    statement = run_licenses_statement(run_id)
    if size is None:
        licenses = session.scalars(statement).all()
        return RunReport(run, licenses, len(licenses))
    row = MonitoringRunLicense
    total = session.scalar(select(func.count()).select_from(row).where(row.run_id == run_id))
    first = (page - 1) * size
    if first >= (total or 0):
        licenses = []  # past the end (and past any place an integer column can hold)
    elif _numbered(session, run_id):
        # The page's own rows, by place (1 to the run's size): no pass over the others.
        places = row.report_order.between(first + 1, min(first + size, total or 0))
        licenses = session.scalars(statement.where(places)).all()
    else:
        licenses = session.scalars(statement.limit(size).offset(first)).all()
    return RunReport(run, licenses, total or 0)


def _numbered(session: Session, run_id: int) -> bool:
    """Whether every license of the run has its place (one probe of the run's index)."""
    row = MonitoringRunLicense
    unnumbered = select(row.run_id).where(row.run_id == run_id, row.report_order.is_(None))
    return not session.scalar(select(unnumbered.exists()))


def last_run(session: Session) -> MonitoringRun | None:
    return session.scalar(
        select(MonitoringRun).order_by(MonitoringRun.ran_at.desc(), MonitoringRun.id.desc())
    )


def list_runs(session: Session, page: int, size: int) -> tuple[list[MonitoringRun], int]:
    """One page of the runs, newest first, and how many there are."""
    total = session.scalar(select(func.count()).select_from(MonitoringRun)) or 0
    runs = session.scalars(
        select(MonitoringRun)
        .order_by(MonitoringRun.ran_at.desc(), MonitoringRun.id.desc())
        .limit(size)
        .offset((page - 1) * size)
    ).all()
    return list(runs), total


@dataclass(frozen=True)
class MonitoringStatus:
    """What the expiring page says about monitoring: the last run, and whether it is overdue."""

    last: MonitoringRun | None
    overdue: bool


def monitoring_status(session: Session, now: datetime) -> MonitoringStatus:
    last = last_run(session)
    overdue = last is None or now - last.ran_at > timedelta(days=MONITORING_OVERDUE_DAYS)
    return MonitoringStatus(last, overdue)
