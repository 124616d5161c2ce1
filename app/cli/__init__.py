"""Flask CLI commands (SPEC section 6). Each takes ``--database`` (default: the first one)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import click
from flask import Flask
from flask.cli import with_appcontext

from app.auth.keys import ApiKeyError, issue_api_key, revoke_api_key
from app.auth.models import ROLES
from app.auth.users import UserError, create_user
from app.schema import current_revision, head_revision, upgrade_database
from app.tenancy import (
    UnknownDatabase,
    begin_write,
    default_database,
    engine_for,
    resolve_database,
    session_scope,
)


def database_option(command: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--database",
        "database",
        default=None,
        help="A configured database name (default: the first in FLASK_DATABASES).",
    )(command)


def selected_database(name: str | None) -> str:
    try:
        return resolve_database(name or default_database())
    except UnknownDatabase:
        raise click.BadParameter(f"{name!r} is not a configured database.") from None


def stdin_is_terminal() -> bool:
    return sys.stdin.isatty()


def read_new_password() -> str:
    """A new password: asked twice at a terminal, or read from standard input.

    Piped input is one line (the password), or two equal lines (what a prompt would get).
    """
    if stdin_is_terminal():
        return click.prompt("Password", hide_input=True, confirmation_prompt=True)
    lines = sys.stdin.read().splitlines()
    if not lines or not lines[0]:
        raise click.ClickException("No password on standard input.")
    if len(lines) > 1 and lines[1] and lines[1] != lines[0]:
        raise click.ClickException("The two passwords on standard input differ.")
    return lines[0]


def migrated_database(name: str | None) -> str:
    """``selected_database``, refusing a database whose schema is not the current one."""
    name = selected_database(name)
    if current_revision(engine_for(name)) != head_revision():
        raise click.ClickException(
            f"Database {name!r} does not have the current schema; "
            f"run 'flask --app app init-db --database {name}' first."
        )
    return name


@click.command("init-db")
@database_option
@with_appcontext
def init_db_command(database: str | None) -> None:
    """Create or migrate the schema (idempotent)."""
    name = selected_database(database)
    revision = upgrade_database(engine_for(name))
    click.echo(f"Database {name!r} is at schema revision {revision}.")


@click.command("create-user")
@click.argument("username")
@click.option(
    "--password",
    default=None,
    help="Discouraged (visible in the process list): leave it out to be asked, or pipe the "
    "password on standard input.",
)
@click.option("--role", type=click.Choice(ROLES), default="editor", show_default=True)
@database_option
@with_appcontext
def create_user_command(
    username: str, password: str | None, role: str, database: str | None
) -> None:
    """Create a staff/API user (the password is asked twice, or read from standard input)."""
    name = migrated_database(database)
    if password is None:
        password = read_new_password()
    with session_scope(name) as session:
        try:
            create_user(session, username, password, role)
        except UserError as exc:
            raise click.ClickException(str(exc)) from None
        session.commit()
    click.echo(f"Created {role} {username!r} in database {name!r}.")


@click.command("create-api-key")
@click.argument("label")
@database_option
@with_appcontext
def create_api_key_command(label: str, database: str | None) -> None:
    """Create an API key; prints the key alone on the last line (only its hash is stored)."""
    name = migrated_database(database)
    with session_scope(name) as session:
        try:
            key = issue_api_key(session, label)
        except ApiKeyError as exc:
            raise click.ClickException(str(exc)) from None
        session.commit()
    click.echo(f"API key {label!r} for database {name!r} (shown once, store it now):")
    click.echo(key)


@click.command("revoke-api-key")
@click.argument("label")
@database_option
@with_appcontext
def revoke_api_key_command(label: str, database: str | None) -> None:
    """Revoke an API key at once."""
    name = migrated_database(database)
    with session_scope(name) as session:
        if not revoke_api_key(session, label):
            raise click.ClickException(f"No active API key labelled {label!r} in {name!r}.")
        session.commit()
    click.echo(f"Revoked API key {label!r} in database {name!r}.")


def register_cli(app: Flask) -> None:
    # Feature commands import this module's helpers, so they are imported here, not above.
    from app.cli.history import verify_history_command
    from app.cli.integrity import integrity_report_command
    from app.cli.monitoring import monitor_expirables_command
    from app.cli.users import users_group

    for command in (
        users_group,
        init_db_command,
        create_user_command,
        create_api_key_command,
        revoke_api_key_command,
        seed_command,
        demo_command,
        export_licenses_command,
        import_licenses_command,
        monitor_expirables_command,
        verify_history_command,
        integrity_report_command,
        purge_command,
    ):
        app.cli.add_command(command)


@click.command("seed")
@click.option("--providers", default=25, show_default=True, type=click.IntRange(1, 100_000))
@database_option
@with_appcontext
def seed_command(providers: int, database: str | None) -> None:
    """Add the demo data set (idempotent: only what is missing is added)."""
    from app.demo.seed import seed_demo_data

    name = migrated_database(database)
    with session_scope(name) as session:
        report = seed_demo_data(session, providers=providers)
    click.echo(
        f"Seeded {name!r}: {report.license_types} license types, "
        f"{report.provider_creds} provider credentials, {report.licenses} licenses added."
    )


@click.command("demo")
@click.option("--base-url", default="http://127.0.0.1:5000", show_default=True)
@database_option
@with_appcontext
def demo_command(base_url: str, database: str | None) -> None:
    """Quickstart: migrate, seed, reset the demo login and print how to use it."""
    from flask import current_app

    from app.demo.quickstart import instructions, prepare_demo_access
    from app.demo.seed import seed_demo_data

    name = selected_database(database)
    upgrade_database(engine_for(name))
    with session_scope(name) as session:
        seed_demo_data(session)
        access = prepare_demo_access(
            session,
            current_app.config["SECRET_KEY"],
            name,
            current_app.config["TOKEN_TTL_SECONDS"],
        )
    click.echo(instructions(access, name, base_url.rstrip("/")))


@click.command("export-licenses")
@click.option("-o", "--output", type=click.File("w", encoding="utf-8"), default="-")
@click.option(
    "--raw",
    is_flag=True,
    help="Write cells as stored, without the ' that keeps a spreadsheet from running "
    "=, +, -, @ cells as formulas.",
)
@database_option
@with_appcontext
def export_licenses_command(output: Any, raw: bool, database: str | None) -> None:
    """Write every license as CSV (header: the JSON field names) to stdout or FILE."""
    from app.licenses.csv_io import export_licenses

    name = migrated_database(database)
    with session_scope(name) as session:
        count = export_licenses(session, output, raw=raw)
    click.echo(f"Exported {count} licenses from {name!r}.", err=True)


@click.command("import-licenses")
@click.argument("source", type=click.File("r", encoding="utf-8-sig"))
@click.option(
    "--user",
    "actor",
    default="csv-import",
    show_default=True,
    help="Recorded as entry/update user and in the history.",
)
@database_option
@with_appcontext
def import_licenses_command(source: Any, actor: str, database: str | None) -> None:
    """Upsert licenses from CSV through the license service; prints a report per row."""
    import uuid

    from flask import current_app

    from app.licenses.csv_io import analyze_licenses, import_licenses

    name = migrated_database(database)
    activity_id = str(uuid.uuid4())
    with session_scope(name) as session:
        report = import_licenses(
            session,
            source,
            actor=actor,
            activity_id=activity_id,
            batch_size=current_app.config["BATCH_MAX_ITEMS"],
        )
        analyze_licenses(session)
    for row in report:
        click.echo(f"line {row.line}: providerCredLicense_Key {row.key}: {row.status} {row.body}")
    failed = sum(1 for row in report if row.status >= 400)
    click.echo(f"{len(report) - failed} rows imported, {failed} failed (activity {activity_id}).")
    if failed:
        raise SystemExit(1)


@click.command("purge")
@database_option
@with_appcontext
def purge_command(database: str | None) -> None:
    """Delete what has expired: idempotency records (of every API key), refresh tokens.

    License history is never deleted here: it is the audit evidence (docs/operations.md).
    """
    from app.auth.retention import purge_expired_refresh_tokens
    from app.idempotency.store import purge_expired

    name = migrated_database(database)
    with session_scope(name) as session:
        answers = purge_expired(session)
    with session_scope(name) as session:
        begin_write(session)
        tokens = purge_expired_refresh_tokens(session)
        session.commit()
    click.echo(
        f"Purged {name!r}: {answers} expired idempotency records, {tokens} expired refresh tokens."
    )
