"""``flask --app app users …``: list and administer staff users without SQL.

Each change that must end what a user holds does so on every node at once (``app.auth.users``
gives the user new stamps): a role or password change and disabling end the user's UI sessions
and revoke their API and refresh tokens; deleting removes the user and with it every token.
"""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from app.auth.models import ROLES
from app.auth.usernames import normalized_username
from app.auth.users import (
    UserError,
    delete_user,
    find_user,
    list_users,
    set_disabled,
    set_password,
    set_role,
)
from app.cli import (
    UTF8_TEXT,
    check_username,
    database_option,
    log_admin,
    migrated_database,
    read_new_password,
    require_stdin,
)
from app.tenancy import session_scope


@click.group("users")
def users_group() -> None:
    """List staff users; change a role or password; disable, enable or delete a user."""


@users_group.command("list")
@database_option
@with_appcontext
def list_command(database: str | None) -> None:
    """One line per user: name, role, enabled or disabled, created."""
    name = migrated_database(database)
    with session_scope(name) as session:
        users = list_users(session)
        for user in users:
            state = "disabled" if user.disabled else "enabled"
            click.echo(f"{user.username}\t{user.role}\t{state}\t{user.created_at:%Y-%m-%d %H:%M}")
    noun = "user" if len(users) == 1 else "users"
    click.echo(f"{len(users)} {noun} in database {name!r}.", err=True)


def _change(  # type: ignore[no-untyped-def]
    database: str | None, describe: str, change, command: str, username: str, **fields: str
) -> None:
    name = migrated_database(database)
    with session_scope(name, write=True) as session:  # reads the user, then writes
        try:
            change(session)
        except UserError as exc:
            raise click.ClickException(str(exc)) from None
        session.commit()
    log_admin(f"users {command}", name, user=normalized_username(username), **fields)
    click.echo(f"{describe} in database {name!r}.")


@users_group.command("set-role")
@click.argument("username", type=UTF8_TEXT)
@click.argument("role", type=click.Choice(ROLES))
@database_option
@with_appcontext
def set_role_command(username: str, role: str, database: str | None) -> None:
    """Change a user's role; ends their sessions and revokes their tokens."""
    _change(
        database,
        f"User {username!r} is now {role}; their sessions and tokens have ended",
        lambda session: set_role(session, username, role),
        "set-role",
        username,
        role=role,
    )


@users_group.command("set-password")
@click.argument("username", type=UTF8_TEXT)
@database_option
@with_appcontext
def set_password_command(username: str, database: str | None) -> None:
    """Set a new password (asked twice, or read from standard input); ends sessions and tokens."""
    check_username(migrated_database(database), find_user, username)
    password = read_new_password()
    _change(
        database,
        f"New password for {username!r}; their sessions and tokens have ended",
        lambda session: set_password(session, username, password),
        "set-password",
        username,
    )


@users_group.command("disable")
@click.argument("username", type=UTF8_TEXT)
@database_option
@with_appcontext
def disable_command(username: str, database: str | None) -> None:
    """Refuse the user's logins; ends their sessions and revokes their tokens."""
    _change(
        database,
        f"User {username!r} is disabled; their sessions and tokens have ended",
        lambda session: set_disabled(session, username, True),
        "disable",
        username,
    )


@users_group.command("enable")
@click.argument("username", type=UTF8_TEXT)
@database_option
@with_appcontext
def enable_command(username: str, database: str | None) -> None:
    """Allow a disabled user to log in again (old sessions and tokens stay ended)."""
    _change(
        database,
        f"User {username!r} is enabled",
        lambda session: set_disabled(session, username, False),
        "enable",
        username,
    )


@users_group.command("delete")
@click.argument("username", type=UTF8_TEXT)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@database_option
@with_appcontext
def delete_command(username: str, yes: bool, database: str | None) -> None:
    """Delete a user; their sessions and tokens end with it. Asks first unless --yes."""
    name = migrated_database(database)
    if not yes:
        check_username(name, find_user, username)  # not "Delete user 'nobody'?" first
        require_stdin("no answer to read; add --yes to delete without one.")
        click.confirm(f"Delete user {username!r} from database {name!r}?", abort=True)
    _change(
        database,
        f"Deleted user {username!r}",
        lambda session: delete_user(session, username),
        "delete",
        username,
    )
