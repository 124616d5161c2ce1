"""Flask CLI commands (SPEC section 6). Each takes ``--database`` (default: the first one)."""

from __future__ import annotations

import dataclasses
import errno
import functools
import getpass
import logging
import os
import shutil
import signal
import socket
import sys
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, NoReturn

import click
from flask import Flask, has_app_context
from flask.cli import with_appcontext
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from app.activity import ADMIN_LOGGER
from app.audit import AUDIT_USER_LENGTH
from app.auth.keys import ApiKeyError, issue_api_key, revoke_api_key
from app.auth.models import ROLES
from app.auth.usernames import normalized_username
from app.auth.users import UserError, create_user, new_username
from app.cli.output import (
    discard_standard_output,
    report_output_errors,
    standard_output_closed,
)
from app.db_errors import error_class, is_database_unavailable, is_not_a_database
from app.schema import (
    MigrationError,
    SchemaNewerThanCode,
    SchemaUpgrade,
    check_not_newer,
    current_revision,
    head_revision,
    upgrade_database,
)
from app.tenancy import (
    UnknownDatabase,
    begin_write,
    database_names,
    default_database,
    engine_for,
    resolve_database,
    session_scope,
)

if TYPE_CHECKING:
    from app.licenses.csv_io import ImportedRow

admin_log = logging.getLogger(ADMIN_LOGGER)


def os_user() -> str:
    """The name of the user running the command, or ``uid<N>`` when it has none: a container
    run under an arbitrary uid has no passwd entry and often no ``USER`` or ``LOGNAME``, and
    ``getpass.getuser`` then raises (``KeyError``; ``OSError`` from Python 3.13), which ended
    a scheduled run with a traceback and nothing recorded."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid{os.getuid()}"


def log_admin(command: str, database: str, **fields: object) -> None:
    """The ``credgrid.admin`` line of a change ``command`` made in ``database``: its fields
    (text quoted, as the login log quotes a user name, so a line break in a name or label
    cannot start a line of its own) and who ran it where (``operator='root@host'``)."""
    shown = "".join(
        f" {name}={value!r}" if isinstance(value, str) else f" {name}={value}"
        for name, value in fields.items()
    )
    operator = f"{os_user()}@{socket.gethostname()}"
    admin_log.info("cli %s%s database=%s operator=%r", command, shown, database, operator)


def database_option(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--database NAME``; a database that cannot be reached (server down, file or directory
    missing, a file that is not a database) ends the command with one line naming it instead
    of a traceback."""

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except Exception as exc:
            # By class, or a connection the server closed (idle-in-transaction timeout); or
            # a SQLite file that is not a database.
            if not (is_database_unavailable(exc) or is_not_a_database(exc)):
                raise
            name = kwargs.get("database")
            raise click.ClickException(
                f"Database {database_label(name)} is unavailable: {first_line(exc)}"
                f"{sqlite_path_problem(name)}"
            ) from None

    return click.option(
        "--database",
        "database",
        default=None,
        help="A configured database name (default: the first in FLASK_DATABASES).",
    )(run)


def database_label(name: str | None) -> str:
    """``'main'``: the name given, or the default one (the app context outlives the command's
    callback: Flask's ``with_appcontext`` keeps it until the click context closes)."""
    if name is None and has_app_context():
        name = default_database()
    return repr(name) if name is not None else "(the default)"


def sqlite_path_problem(name: str | None) -> str:
    """`` (the directory /srv/x of its file does not exist: check …)`` when the database is a
    SQLite file whose path cannot be one; SQLite says only "unable to open database file"."""
    if not has_app_context():
        return ""
    try:
        url = engine_for(resolve_database(default_database() if name is None else name)).url
    except UnknownDatabase:
        return ""
    if url.get_backend_name() != "sqlite" or url.query.get("uri") or not url.database:
        return ""
    path = Path(url.database)
    if path.is_dir():
        problem = f"{path} is a directory, not a file"
    elif not path.parent.is_dir():
        problem = f"the directory {path.parent} of its file does not exist"
    else:
        return ""
    return f" ({problem}: check its path in FLASK_DATABASES)."


def first_line(exc: BaseException) -> str:
    """The driver's own message, first line only (SQLAlchemy adds the statement and a link)."""
    cause = getattr(exc, "orig", None) or exc
    lines = str(cause).strip().splitlines()
    return lines[0] if lines else type(cause).__name__


def selected_database(name: str | None) -> str:
    """``name``, or the first configured database when the option is left out (``None``);
    an explicit empty name is refused like any other unknown one, naming the option and the
    configured names (never their URLs, which may hold a password)."""
    try:
        return resolve_database(default_database() if name is None else name)
    except UnknownDatabase:
        raise click.BadParameter(
            f"{name!r} is not a configured database. Configured: {', '.join(database_names())}.",
            param_hint="'--database'",
        ) from None


class Utf8Text(click.ParamType):
    """A string given on the command line, which must be UTF-8 text.

    Python reads an argument that is not UTF-8 (typed in a Latin-1 terminal, or passed by a
    script in another encoding) with its bytes kept as lone surrogates; such a string cannot
    be hashed nor stored, and failed deep in the command with a traceback. The message does
    not repeat the value: it may be a password.
    """

    name = "text"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str):
            problem = not_utf8(value)
            if problem:
                self.fail(problem, param, ctx)
        return value


def not_utf8(value: str) -> str | None:
    """Why ``value`` (read from the command line or standard input) is not UTF-8 text, or
    ``None`` when it is."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        byte = ord(value[exc.start]) & 0xFF  # surrogateescape keeps byte b as U+DC00 + b
        return f"not UTF-8 text (byte {byte:#04x}); give it in UTF-8."
    return None


UTF8_TEXT = Utf8Text()


def require_stdin(missing: str) -> None:
    """Started with standard input closed (``<&-``), Python has no ``sys.stdin``: reading or
    prompting was a traceback."""
    if sys.stdin is None:
        raise click.ClickException(f"Standard input is closed: {missing}")


def stdin_is_terminal() -> bool:
    return sys.stdin.isatty()


def read_new_password() -> str:
    """A new password: asked twice at a terminal, or read from standard input.

    Piped input is one line (the password), or two equal lines (what a prompt would get).
    """
    require_stdin("no password to read.")
    if stdin_is_terminal():
        return click.prompt("Password", hide_input=True, confirmation_prompt=True, type=UTF8_TEXT)
    text = utf8_stdin()
    if text is None:
        raise click.ClickException("The password on standard input is not UTF-8 text.")
    lines = text.splitlines()
    if not lines or not lines[0]:
        raise click.ClickException("No password on standard input.")
    if len(lines) > 1 and lines[1] and lines[1] != lines[0]:
        raise click.ClickException("The two passwords on standard input differ.")
    return lines[0]


def utf8_stdin() -> str | None:
    """All of standard input, or ``None`` when any of it is not UTF-8 text.

    Its bytes are decoded here, not by the locale's text layer: one locale fails the read on
    a bad byte, another (C, C.UTF-8) keeps it as a lone surrogate, a third (Latin-1) reads
    every byte as a character, UTF-8's too. Read as bytes, every locale reads alike.
    """
    try:
        return sys.stdin.buffer.read().decode("utf-8")
    except UnicodeDecodeError:
        return None


def newer_schema(name: str, exc: SchemaNewerThanCode) -> click.ClickException:
    return click.ClickException(
        f"Database {name!r} is at schema revision {exc.found}, newer than this version's "
        f"{exc.head}: upgrade credgrid."
    )


def migrated_database(name: str | None) -> str:
    """``selected_database``, refusing a database whose schema is not the current one, or
    whose SQLite file does not exist (without creating it: only init-db and demo do)."""
    name = selected_database(name)
    engine = engine_for(name)
    missing = missing_sqlite_file(engine)
    if missing is not None:
        raise click.ClickException(
            f"Database {name!r} has no file {missing}: check its path in FLASK_DATABASES, or "
            f"run 'flask --app app init-db --database {name}' to create it."
        )
    found = current_revision(engine)
    try:
        check_not_newer(found)
    except SchemaNewerThanCode as exc:
        raise newer_schema(name, exc) from None
    if found != head_revision():
        raise click.ClickException(
            f"Database {name!r} does not have the current schema; "
            f"run 'flask --app app init-db --database {name}' first."
        )
    return name


def missing_sqlite_file(engine: Engine) -> str | None:
    """The path of ``engine``'s SQLite file when it does not exist but its directory does:
    connecting would create it (with its -wal and -shm), leaving an empty database behind,
    at a path perhaps mistyped. ``None`` otherwise: a server, a URI database (its ``mode``
    says whether to create it), a file that exists, or a missing directory (connecting fails
    there and creates nothing). In-memory databases are refused by the configuration."""
    url = engine.url
    if url.get_backend_name() != "sqlite" or url.query.get("uri") or not url.database:
        return None
    path = Path(url.database)
    return str(path) if not path.exists() and path.parent.is_dir() else None


def migrate(name: str) -> SchemaUpgrade:
    """``upgrade_database`` of ``name``; a schema newer than the code, or a migration that
    refused (and was rolled back), is one line."""
    try:
        return upgrade_database(engine_for(name))
    except SchemaNewerThanCode as exc:
        raise newer_schema(name, exc) from None
    except MigrationError as exc:
        raise click.ClickException(f"Database {name!r} was not migrated: {exc}") from None


def check_username(name: str, check: Callable[[Session, str], object], username: str) -> None:
    """``check(session, username)`` before a password is asked for the name, in a transaction
    of its own: none may stay open while a person types (PostgreSQL's idle-in-transaction
    timeout would end the connection)."""
    with session_scope(name) as session:
        try:
            check(session, username)
        except UserError as exc:
            raise click.ClickException(str(exc)) from None


@click.command("init-db")
@database_option
@with_appcontext
def init_db_command(database: str | None) -> None:
    """Create or migrate the schema (idempotent)."""
    name = selected_database(database)
    found, head = migrate(name)
    if found is None:
        click.echo(f"Database {name!r} created at schema revision {head}.")
    elif found != head:
        click.echo(f"Database {name!r} migrated from schema revision {found} to {head}.")
    else:
        click.echo(f"Database {name!r} is at schema revision {head} already; nothing to do.")


@click.command("create-user")
@click.argument("username", type=UTF8_TEXT)
@click.option(
    "--password",
    type=UTF8_TEXT,
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
        check_username(name, new_username, username)
        password = read_new_password()
    with session_scope(name) as session:
        begin_write(session)  # SQLite: the name is read, then the user written
        try:
            user = create_user(session, username, password, role)
            session.commit()
        except UserError as exc:
            raise click.ClickException(str(exc)) from None
        except IntegrityError:  # another create-user took the name after it was checked
            taken = normalized_username(username)
            raise click.ClickException(f"User {taken!r} already exists.") from None
        stored = user.username  # normalised, without the spaces around it
    log_admin("create-user", name, user=stored, role=role)
    click.echo(f"Created {role} {stored!r} in database {name!r}.")


@click.command("create-api-key")
@click.argument("label", type=UTF8_TEXT)
@database_option
@with_appcontext
def create_api_key_command(label: str, database: str | None) -> None:
    """Create an API key; prints the key alone on the last line (only its hash is stored)."""
    if standard_output_closed():  # the key would be stored and never shown
        raise click.ClickException("Standard output is closed: the new key could not be shown.")
    name = migrated_database(database)
    with session_scope(name, write=True) as session:  # the label is read, then the key written
        try:
            key = issue_api_key(session, label)
        except ApiKeyError as exc:
            raise click.ClickException(str(exc)) from None
        # Written (flushed: a label taken meanwhile fails here, before the key is shown), then
        # shown before the commit (click.echo flushes): a key that could not be shown (a full
        # disk) is rolled back, its label still free, instead of stored and never seen.
        session.flush()
        click.echo(f"API key {label!r} for database {name!r} (shown once, store it now):")
        click.echo(key)
        try:
            session.commit()
        except SQLAlchemyError as exc:  # shown, but not stored: say so, or it is kept
            raise click.ClickException(
                f"The key above was not stored ({type(exc).__name__}): it does not work. "
                "Discard it and run create-api-key again."
            ) from None
    log_admin("create-api-key", name, label=label)


@click.command("revoke-api-key")
@click.argument("label", type=UTF8_TEXT)
@database_option
@with_appcontext
def revoke_api_key_command(label: str, database: str | None) -> None:
    """Revoke an API key at once."""
    name = migrated_database(database)
    with session_scope(name, write=True) as session:
        if not revoke_api_key(session, label):
            raise click.ClickException(f"No active API key labelled {label!r} in {name!r}.")
        session.commit()
    log_admin("revoke-api-key", name, label=label)
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
        app.cli.add_command(report_output_errors(command))


@click.command("seed")
@click.option("--providers", default=25, show_default=True, type=click.IntRange(1, 100_000))
@database_option
@with_appcontext
def seed_command(providers: int, database: str | None) -> None:
    """Add the demo data set (idempotent: only what is missing is added)."""
    from app.demo.seed import seed_demo_data

    name = migrated_database(database)
    with session_scope(name, write=True) as session:
        report = seed_demo_data(session, providers=providers)
    log_admin("seed", name, **dataclasses.asdict(report))
    click.echo(
        f"Seeded {name!r}: {report.license_types} license types, "
        f"{report.provider_creds} provider credentials, {report.licenses} licenses added."
    )


def base_url_option(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    """``demo --base-url``: printed into a link and a curl command to paste, so an http(s) URL
    of a server, checked before anything is changed (a value without a scheme, or with a
    space or a quote, printed commands that failed or ran something else)."""
    from app.demo.quickstart import is_base_url

    if not is_base_url(value):
        raise click.BadParameter(
            f"{value!r} is not the http(s) URL of a server, such as http://127.0.0.1:5001."
        )
    return value


@click.command("demo")
@click.option(
    "--base-url",
    default="http://127.0.0.1:5000",
    show_default=True,
    callback=base_url_option,
    help="Where the server answers, printed into the link and the curl command.",
)
@database_option
@with_appcontext
def demo_command(base_url: str, database: str | None) -> None:
    """Quickstart: migrate, seed, reset the demo login and print how to use it."""
    from flask import current_app

    from app.demo.quickstart import instructions, prepare_demo_access
    from app.demo.seed import seed_demo_data

    name = selected_database(database)
    migrate(name)
    ttl = current_app.config["TOKEN_TTL_SECONDS"]
    with session_scope(name, write=True) as session:
        report = seed_demo_data(session)
        access = prepare_demo_access(session, current_app.config["SECRET_KEY"], name, ttl)
    # The demo user's password is reset and an API key issued: account changes, logged as such.
    log_admin(
        "demo",
        name,
        user=access.username,
        api_key=access.api_key_label,
        **dataclasses.asdict(report),
    )
    click.echo(instructions(access, name, base_url.rstrip("/"), ttl))


@contextmanager
def export_target(path: str) -> Iterator[IO[str]]:
    """Where ``export-licenses -o PATH`` writes: standard output for ``-``, and a file that is
    not a regular one (a pipe, a device) as it is. A regular file is written as a new file
    beside it, which replaces it only once the export is complete (keeping its mode): an export
    that fails midway leaves the file as it was, not a header and some rows that read as a
    complete, smaller export.

    (Click's ``File(atomic=True)`` moves its temporary file over the target on close, even
    after an error.)"""
    if path == "-":
        if standard_output_closed():  # started with it closed (>&-)
            raise OSError(errno.EBADF, "standard output is closed")
        with click.open_file("-", "w", encoding="utf-8") as stream:  # never closes stdout
            yield stream
        return
    if os.path.exists(path) and not os.path.isfile(path):  # /dev/stdout, a FIFO, a device
        with open(path, "w", encoding="utf-8") as stream:
            yield stream
        return
    target = Path(os.path.realpath(path))  # a symbolic link's file is replaced, not the link
    if target.exists() and not os.access(target, os.W_OK):
        # A rename needs only the directory's permission: a read-only file would be replaced.
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), path)
    # O_EXCL and the umask's mode, as the file itself would have been created.
    partial = target.with_name(f".{target.name}.{uuid.uuid4().hex[:12]}.partial")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with open(descriptor, "w", encoding="utf-8") as stream:
            yield stream
        if target.exists():
            shutil.copymode(target, partial)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)


def not_empty_path(value: str) -> str:
    """An empty path (an unset shell variable) reads as the working directory: the export was
    written into its parent, then failed there."""
    if not value:
        raise click.BadParameter("an empty path; name a file, or - for standard output.")
    return value


@click.command("export-licenses")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, allow_dash=True),
    default="-",
    callback=lambda _ctx, _param, value: not_empty_path(value),
    help="The file to write (default: standard output). It is replaced only once the export "
    "is complete.",
)
@click.option(
    "--raw",
    is_flag=True,
    help="Write cells as stored, without the ' that keeps a spreadsheet from running "
    "=, +, -, @ cells (after spaces, or full-width) as formulas.",
)
@database_option
@with_appcontext
def export_licenses_command(output: str, raw: bool, database: str | None) -> None:
    """Write every license as CSV (header: the JSON field names) to stdout or FILE."""
    from app.licenses.csv_io import export_licenses

    name = migrated_database(database)
    stream: IO[str] | None = None
    try:
        with export_target(output) as stream, session_scope(name) as session:
            keep_transaction_while_writing(session)
            count = export_licenses(session, stream, raw=raw)
            stream.flush()
    except OSError as exc:
        if isinstance(exc, BrokenPipeError) and output == "-":
            stop_quietly_at_a_closed_pipe()
        if stream is None:
            raise click.ClickException(f"Cannot write {output}: {exc.strerror or exc}.") from None
        close_quietly(stream)
        raise click.ClickException(
            f"Cannot write {output}: {exc.strerror or exc}; the export is incomplete."
        ) from None
    click.echo(f"Exported {count} licenses from {name!r}.", err=True)


def stop_quietly_at_a_closed_pipe() -> NoReturn:
    """Standard output's reader has gone (``export-licenses | head``): stop as other commands
    do, without a message, exit status 1."""
    discard_standard_output()
    sys.exit(1)


def keep_transaction_while_writing(session: Session) -> None:
    """The export fetches its rows a chunk at a time and writes each chunk to the output
    before fetching the next, so its transaction is idle while a slow reader (a pager, a pipe
    to another host) catches up. On PostgreSQL the service's idle-in-transaction timeout would
    then end the connection mid-export: lift it for this transaction, as pg_dump does."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL idle_in_transaction_session_timeout = 0"))


def close_quietly(stream: IO[Any]) -> None:
    """Close after a failed write: the data still buffered fails again, and must not turn
    into a traceback when click closes the file at exit."""
    with suppress(OSError):
        stream.close()


def audit_user(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    """``--user``: stored in the audit columns, which hold ``AUDIT_USER_LENGTH`` characters."""
    if len(value) > AUDIT_USER_LENGTH:
        raise click.BadParameter(
            f"{value!r} has {len(value)} characters; the entry and update user columns hold "
            f"at most {AUDIT_USER_LENGTH}."
        )
    return recorded_name(value)


def recorded_name(value: str) -> str:
    """A name recorded as who did something: not blank (the history would name no one), and
    printable (a control character would be stored and shown as it is)."""
    if not value.strip():
        raise click.BadParameter("must not be empty: it is recorded as who did this.")
    if not value.isprintable():
        raise click.BadParameter(f"{value!r} has a control character; use printable text.")
    return value


@contextmanager
def seekable(source: IO[bytes]) -> Iterator[IO[bytes]]:
    """``source`` itself if it can be read twice (the import does), else (standard input) a
    temporary copy of it."""
    if source.seekable():
        yield source
        return
    with tempfile.TemporaryFile() as copy:
        shutil.copyfileobj(source, copy)
        copy.seek(0)
        yield copy


class ImportTally:
    """Counts the import's rows and prints their report lines as they come."""

    def __init__(self, activity_id: str) -> None:
        self.activity_id = activity_id
        self.imported = 0
        self.unchanged = 0
        self.failed = 0

    def echo(self, rows: Iterable[ImportedRow]) -> None:
        """Count ``rows`` (processed, committed), then print them: a report that cannot be
        written still leaves them counted, for the import's ``credgrid.admin`` line."""
        from app.batch.outcome import UNCHANGED

        rows = list(rows)
        for row in rows:
            if row.status >= 400:
                self.failed += 1
            else:
                self.imported += 1
                self.unchanged += row.action == UNCHANGED
        for row in rows:
            key = row.key or "(empty)"
            # The API answers "Updated" for a row that differed in nothing (VBAPI's word); a
            # person re-importing an export wants to see that nothing changed.
            body = "Unchanged" if row.action == UNCHANGED else row.body
            click.echo(f"line {row.line}: providerCredLicense_Key {key}: {row.status} {body}")

    def summary(self) -> str:
        return (
            f"{plural(self.imported, 'row')} imported ({self.unchanged} unchanged), "
            f"{self.failed} failed "
            f"(activity {self.activity_id})."
        )


def plural(count: int, noun: str) -> str:
    """``1 row``, ``2 rows``."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def echo_report(tally: ImportTally, rows: list[ImportedRow]) -> None:
    """``tally.echo``; when standard output cannot take the report (``| head`` has gone, a
    full disk), the import stops, saying on standard error how far it got: every row of
    ``rows`` is committed, no later row is read."""
    try:
        tally.echo(rows)
    except OSError as exc:
        discard_standard_output()
        with suppress(OSError):  # standard error may be the same closed pipe (2>&1 | head)
            click.echo(
                f"Error: the report could not be written to standard output "
                f"({exc.strerror or exc}): the import stopped. The rows to line {rows[-1].line} "
                "were processed, no row after it.",
                err=True,
            )
        sys.exit(1)


def refresh_statistics(session: Session) -> None:
    """``analyze_licenses``; when it fails, every row is already written: warn, do not fail."""
    from app.licenses.csv_io import analyze_licenses

    try:
        analyze_licenses(session)
    except SQLAlchemyError as exc:
        click.echo(
            "Warning: every row was processed, but refreshing the planner statistics failed "
            f"({error_class(exc)}: {first_line(exc)}); run ANALYZE (PostgreSQL: VACUUM ANALYZE) "
            "on provider_cred_license and license_change later.",
            err=True,
        )


@contextmanager
def stop_signals() -> Iterator[list[int]]:
    """While the block runs, SIGINT (Ctrl-C) and SIGTERM (a service manager's stop) only ask
    for a stop: the signal's number is added to the yielded list, and the command stops at its
    next safe point (between two transactions), instead of wherever the signal fell. A second
    signal acts as it would without the block: ``KeyboardInterrupt`` (for SIGTERM too, as
    ``app.cli.output.stopping_on_sigterm`` makes it), which rolls back the transaction being
    written. Only in the main thread, where Python runs signal handlers, and only for a signal
    the process does not ignore (a script's ``&`` job ignores Ctrl-C, to outlive it) and whose
    handler Python can put back."""
    asked: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield asked
        return
    handlers = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    previous = {
        signum: handler
        for signum, handler in handlers.items()
        if handler is not None and handler != signal.SIG_IGN
    }

    def restore() -> None:
        for signum, handler in previous.items():
            signal.signal(signum, handler)

    def ask(signum: int, _frame: Any) -> None:
        asked.append(signum)
        restore()

    for signum in previous:
        signal.signal(signum, ask)
    try:
        yield asked
    finally:
        restore()


class InputFile(click.File):
    """``click.File``, for which ``-`` with standard input closed (``<&-``) was a RuntimeError
    traceback: Python has no ``sys.stdin`` then."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if value == "-" and sys.stdin is None:
            self.fail("standard input is closed.", param, ctx)
        return super().convert(value, param, ctx)


@click.command("import-licenses")
@click.argument("source", type=InputFile("rb"))
@click.option(
    "--user",
    "actor",
    type=UTF8_TEXT,
    default="csv-import",
    show_default=True,
    callback=audit_user,
    help=f"Recorded as entry/update user and in the history (at most {AUDIT_USER_LENGTH} "
    "characters).",
)
@database_option
@with_appcontext
def import_licenses_command(source: Any, actor: str, database: str | None) -> None:
    """Upsert licenses from the CSV file SOURCE (UTF-8; "-" for standard input) through the
    license service; prints a report line per row as each batch is committed and exits 1 if
    any row failed (docs/csv.md)."""
    import uuid

    from flask import current_app

    from app.licenses.csv_io import CsvFileError, ImportStopped, import_licenses

    name = migrated_database(database)
    tally = ImportTally(str(uuid.uuid4()))
    refused = False
    with seekable(source) as file, session_scope(name) as session:
        # Only while rows are written: a signal during the statistics' refresh acts at once.
        with stop_signals() as stopped:
            cut_short: list[bool] = []  # a stop that left rows of the file unimported

            def stop_requested() -> bool:
                if stopped:
                    cut_short.append(True)
                return bool(stopped)

            try:
                for rows in import_licenses(
                    session,
                    file,
                    actor=actor,
                    activity_id=tally.activity_id,
                    batch_size=current_app.config["BATCH_MAX_ITEMS"],
                    stop_requested=stop_requested,
                ):
                    echo_report(tally, rows)
            except CsvFileError as exc:
                refused = True
                raise click.ClickException(f"{exc} Nothing was imported.") from None
            except ImportStopped as stop:
                tally.echo(stop.processed)
                click.echo(tally.summary())
                raise click.ClickException(
                    f"database error {error_class(stop.cause)}: {first_line(stop.cause)}. The rows "
                    f"listed above were processed; no other row was imported (the first: line "
                    f"{stop.line})."
                ) from None
            finally:
                # However the import ended once the file was accepted (failed rows, a database
                # error, a report that could not be written): the rows reported so far.
                if not refused:
                    log_admin(
                        "import-licenses",
                        name,
                        source=getattr(source, "name", "-"),
                        as_user=actor,
                        imported=tally.imported,
                        unchanged=tally.unchanged,
                        failed=tally.failed,
                        activity=tally.activity_id,
                        **({"interrupted": True} if cut_short else {}),
                    )
        if stopped:
            click.echo(tally.summary())
            click.echo(
                "Interrupted: every row reported above is imported, no row after them. Run the "
                "same file again to import the rest: rows already imported answer 200 Unchanged "
                "and get no second history row."
                if cut_short
                else "Stopped after the file's last row: every row is imported; the planner "
                "statistics were not refreshed (run ANALYZE later, PostgreSQL: VACUUM ANALYZE).",
                err=True,
            )
            raise SystemExit(128 + stopped[0])
        refresh_statistics(session)
    click.echo(tally.summary())
    if tally.failed:
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
    log_admin("purge", name, idempotency_records=answers, refresh_tokens=tokens)
    click.echo(
        f"Purged {name!r}: {answers} expired idempotency records, {tokens} expired refresh tokens."
    )
