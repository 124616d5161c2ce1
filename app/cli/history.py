"""``flask verify-history``: is every license's history as the service wrote it?"""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from app.cli import database_option, migrated_database
from app.history.verification import chain_breaks, describe
from app.tenancy import session_scope


@click.command("verify-history")
@database_option
@with_appcontext
def verify_history_command(database: str | None) -> None:
    """Walk every license's history hash chain; exit 1 naming each license whose history rows
    were edited, reordered, inserted or deleted outside the license service."""
    name = migrated_database(database)
    broken: set[int] = set()
    with session_scope(name) as session:
        for chain_break in chain_breaks(session):
            broken.add(chain_break.license_key)
            click.echo(describe(chain_break))
    if broken:
        click.echo(
            f"{len(broken)} license(s) in {name!r} have history changed outside the service: "
            f"{', '.join(map(str, sorted(broken)))}.",
            err=True,
        )
        raise SystemExit(1)
    click.echo(f"Every history chain in {name!r} holds.")
