"""``flask integrity-report``: the integrity review for a date range, as text or CSV."""

from __future__ import annotations

import sys
from datetime import datetime

import click
from flask import current_app, url_for
from flask.cli import with_appcontext

from app.audit import utcnow
from app.cli import database_option, log_admin, migrated_database
from app.integrity.report import text_lines, write_csv
from app.integrity.rules import RULES, Finding
from app.integrity.service import day_after, integrity_findings
from app.tenancy import session_scope


@click.command("integrity-report")
@click.option(
    "--since",
    required=True,
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="First day (UTC) of the range.",
)
@click.option(
    "--until",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Last day (UTC) of the range, included (default: today).",
)
@click.option("--format", "output_format", type=click.Choice(["text", "csv"]), default="text")
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
    with session_scope(name) as session:
        findings = integrity_findings(session, since, day_after(end))
    log_admin(
        "integrity-report",
        name,
        since=since.date().isoformat(),
        until=end.date().isoformat(),
        findings=len(findings),
    )
    with current_app.test_request_context():
        links = {f.license_key: url_for("ui.history", license_key=f.license_key) for f in findings}
    if output_format == "csv":
        write_csv(sys.stdout, findings, links.__getitem__)
    else:
        write_text(name, since, end, findings, links)
    if findings:
        raise SystemExit(1)


def write_text(
    name: str, since: datetime, end: datetime, findings: list[Finding], links: dict[int, str]
) -> None:
    # isoformat, not "%Y", which writes the year 1 as "1" (as app.integrity.report does).
    click.echo(
        f"Integrity review of {name!r}, {since.date().isoformat()} to {end.date().isoformat()}: "
        f"{len(findings)} finding(s)."
    )
    for line in text_lines(findings, links.__getitem__):
        click.echo(line)
    click.echo(
        "A license whose every history row was deleted has no date to fall in a range: "
        "verify-history finds it."
    )
    click.echo("Rules:")
    for rule in RULES:
        click.echo(f"  {rule.name}: {rule.reason}")
