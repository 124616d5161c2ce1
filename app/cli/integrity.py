"""``flask integrity-report``: the integrity review for a date range, as text or CSV."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import datetime
from typing import Any

import click
from flask import current_app, url_for
from flask.cli import with_appcontext

from app.audit import utcnow
from app.cli import database_option, log_admin, migrated_database
from app.integrity.report import history_links, text_lines, write_csv
from app.integrity.rules import RULES
from app.integrity.service import FindingsByTime, day_after, findings_by_time
from app.public_url import public_link
from app.tenancy import session_scope


class Day(click.ParamType):
    """A day written ``YYYY-MM-DD``. Unlike ``click.DateTime``, whose refusal quotes strptime's
    ``'%Y-%m-%d'`` at the operator, a bad value is refused in the words the rest of credgrid
    uses for a bad date ("Since: not a date." on the review page): what it is not, and the
    form to use."""

    name = "YYYY-MM-DD"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, datetime):
            return value
        try:
            return datetime.strptime(str(value).strip(), "%Y-%m-%d")
        except ValueError:
            self.fail(f"{value!r} is not a date; use YYYY-MM-DD, e.g. 2024-01-31.", param, ctx)


@click.command("integrity-report")
@click.option(
    "--since",
    required=True,
    type=Day(),
    help="First day (UTC) of the range.",
)
@click.option(
    "--until",
    type=Day(),
    default=None,
    help="Last day (UTC) of the range, included (default: today).",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "csv"]),
    default="text",
    show_default=True,
    help="The report as text, or as CSV (every finding, a row each).",
)
@database_option
@with_appcontext
def integrity_report_command(
    since: datetime, until: datetime | None, output_format: str, database: str | None
) -> None:
    """Evaluate the integrity rules over the history from SINCE to UNTIL (both included);
    each finding names its rule and links to the license's history page. Exit 1 when there
    is a finding (after the whole report), so a scheduled run can alert on it."""
    name = migrated_database(database)
    end = (until or utcnow()).replace(hour=0, minute=0, second=0, microsecond=0)
    if end < since and until is None:
        raise click.BadParameter(
            "must not be after today (the default --until)", param_hint="--since"
        )
    if end < since:
        raise click.BadParameter("must not be before --since", param_hint="--until")
    # The findings are held a run at a time (``findings_by_time``), not all at once: a range
    # holding a bulk change (300,000 licenses deleted, or their term dates moved) is as many.
    with session_scope(name) as session, findings_by_time(session, since, day_after(end)) as found:
        log_admin(
            "integrity-report",
            name,
            since=since.date().isoformat(),
            until=end.date().isoformat(),
            findings=len(found),
        )
        with current_app.test_request_context():
            link = history_links(history_link)  # one url_for, not one per finding
            if output_format == "csv":
                write_csv(sys.stdout, found, link)
            else:
                write_text(name, since, end, found, link)
    if len(found):
        raise SystemExit(1)


def history_link(license_key: int) -> str:
    """The license's history page: a path, or a full URL under ``FLASK_PUBLIC_URL``."""
    return public_link(url_for("ui.history", license_key=license_key))


def write_text(
    name: str,
    since: datetime,
    end: datetime,
    findings: FindingsByTime,
    link: Callable[[int], str],
) -> None:
    # isoformat, not "%Y", which writes the year 1 as "1" (as app.integrity.report does).
    click.echo(
        f"Integrity review of {name!r}, {since.date().isoformat()} to {end.date().isoformat()}: "
        f"{len(findings)} finding(s)."
    )
    for line in text_lines(findings, link):
        click.echo(line)
    click.echo(
        "A license whose every history row was deleted has no date to fall in a range: "
        "verify-history finds it."
    )
    click.echo("Rules:")
    for rule in RULES:
        click.echo(f"  {rule.name}: {rule.reason}")
