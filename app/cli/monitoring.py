"""``flask monitor-expirables``: record a monitoring run (monthly, from cron or a timer)."""

from __future__ import annotations

import getpass
import os
import socket

import click
from flask.cli import with_appcontext

from app.audit import utcnow
from app.cli import UTF8_TEXT, database_option, migrated_database, recorded_name
from app.monitoring.models import MonitoringRun
from app.monitoring.service import record_run
from app.psv_window import psv_window_days
from app.tenancy import session_scope

#: What the run's ``ran_by`` column holds (``app.monitoring.models``).
RAN_BY_LENGTH = 64


def default_ran_by() -> str:
    """``monitor-expirables:<os user>@<host>``: what a scheduled run is recorded as."""
    return f"monitor-expirables:{os_user()}@{socket.gethostname()}"[:RAN_BY_LENGTH]


def os_user() -> str:
    """The name of the user running the command, or ``uid<N>`` when it has none: a container
    run under an arbitrary uid has no passwd entry and often no ``USER`` or ``LOGNAME``, and
    ``getpass.getuser`` then raises (``KeyError``; ``OSError`` from Python 3.13), which ended
    a scheduled run with a traceback and nothing recorded."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid{os.getuid()}"


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
    click.echo(
        f"Monitoring run {run.id} in {name!r} at {run.ran_at:%Y-%m-%d %H:%M:%S} UTC "
        f"(PSV window {window} days): {run.expired} expired, {run.within30} within 30 days, "
        f"{run.within60} within 60, {run.within90} within 90, "
        f"{run.no_term_date} without a term date, {run.psv_overdue} PSV overdue."
    )
