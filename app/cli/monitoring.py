"""``flask monitor-expirables``: record a monitoring run (monthly, from cron or a timer)."""

from __future__ import annotations

import socket

import click
from flask.cli import with_appcontext

from app.audit import utcnow
from app.cli import (
    UTF8_TEXT,
    database_option,
    log_admin,
    migrated_database,
    os_user,
    recorded_name,
)
from app.monitoring.models import MonitoringRun
from app.monitoring.service import record_run
from app.psv_window import psv_window_days
from app.tenancy import session_scope

#: What the run's ``ran_by`` column holds (``app.monitoring.models``).
RAN_BY_LENGTH = 64


def default_ran_by() -> str:
    """``monitor-expirables:<os user>@<host>``: what a scheduled run is recorded as."""
    return f"monitor-expirables:{os_user()}@{socket.gethostname()}"[:RAN_BY_LENGTH]


def ran_by_option(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    if len(value) > RAN_BY_LENGTH:
        raise click.BadParameter(
            f"has {len(value)} characters; a run records at most {RAN_BY_LENGTH}."
        )
    return recorded_name(value)


@click.command("monitor-expirables")
@click.option(
    "--by",
    "ran_by",
    type=UTF8_TEXT,
    default=None,
    callback=ran_by_option,
    help="Recorded as who or what ran it (default: monitor-expirables:<user>@<host>).",
)
@database_option
@with_appcontext
def monitor_expirables_command(ran_by: str | None, database: str | None) -> None:
    """Compute the expiry buckets and record the run with a snapshot of its licenses."""
    name = migrated_database(database)
    window = psv_window_days(name)
    with session_scope(name) as session:
        run_id = record_run(
            session, now=utcnow(), ran_by=ran_by or default_ran_by(), psv_window_days=window
        )
        # the run alone: its licenses (every one with PSV overdue) are the API's and the UI's
        run = session.get(MonitoringRun, run_id)
    assert run is not None
    log_admin("monitor-expirables", name, run=run.id, ran_by=run.ran_by)
    click.echo(
        f"Monitoring run {run.id} in {name!r} at {run.ran_at:%Y-%m-%d %H:%M:%S} UTC "
        f"(PSV window {window} days): {run.expired} expired, {run.within30} within 30 days, "
        f"{run.within60} within 60, {run.within90} within 90, "
        f"{run.no_term_date} without a term date, {run.psv_overdue} PSV overdue."
    )
