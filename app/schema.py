"""Schema management: Alembic migrations applied to one configured database."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, NamedTuple

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import OperationalError

from app.extensions import DIALECT_ONLY
from app.tenancy import BUSY_TIMEOUT_INFO, WRITE_OPTION

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
#: The PostgreSQL advisory lock that serialises migrations ("credgrid" in ASCII, 63 bits).
MIGRATION_LOCK_KEY = 0x63726564677269
#: How long a SQLite migration waits for another node's to finish, and how long a PostgreSQL
#: migration keeps asking for its tables while requests hold them.
MIGRATION_LOCK_WAIT_MS = 10 * 60 * 1000
#: PostgreSQL: how long one request for every table waits (requests queue behind it meanwhile),
#: and the pause before the next, in which they run.
TABLE_LOCK_ATTEMPT_MS = 2000
TABLE_LOCK_PAUSE_S = 0.5
#: The SQLSTATEs of a table lock not obtained: lock_timeout, deadlock.
TABLE_LOCK_REFUSED = frozenset({"55P03", "40P01"})


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


class MigrationError(RuntimeError):
    """A migration left the database inconsistent; it was rolled back."""


class SchemaNewerThanCode(RuntimeError):
    """The database is at a revision this code's migrations do not know: a newer release's
    ``init-db`` migrated it. Only that release (or a newer one) can migrate or use it further."""

    def __init__(self, found: str, head: str) -> None:
        super().__init__(f"schema revision {found}, newer than this version's {head}")
        self.found = found
        self.head = head


def check_not_newer(found: str | None, revisions: MigrationRevisions | None = None) -> None:
    """``SchemaNewerThanCode`` when ``found`` (a database's revision) is one this code does
    not know; ``None`` (no schema) and any known revision pass. ``revisions``: the code's, if
    already read (else read now)."""
    head, known = revisions or migration_revisions()
    if found is not None and found not in known:
        raise SchemaNewerThanCode(found, head)


class SchemaUpgrade(NamedTuple):
    """What ``upgrade_database`` did: the revision it found (``None``: no schema yet) and
    the one it left, the newest."""

    found: str | None
    head: str


def upgrade_database(engine: Engine) -> SchemaUpgrade:
    """Bring the database to the newest revision (a no-op when it is there already).

    On SQLite, Alembic's batch mode changes a table by copying it and dropping the original,
    which fails while foreign keys are enforced and other rows reference the table. As SQLite
    documents for such changes, enforcement is switched off for the migration (it can only
    be switched outside a transaction) and the foreign keys are checked before committing.
    """
    config = alembic_config()
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            _sqlite_pragma(connection, "PRAGMA foreign_keys = OFF")
            busy_timeout = _sqlite_pragma(connection, "PRAGMA busy_timeout")
            _sqlite_pragma(connection, f"PRAGMA busy_timeout = {MIGRATION_LOCK_WAIT_MS}")
            # How long BEGIN IMMEDIATE asks for the lock (app.tenancy): the connection's own
            # busy timeout, the service's, would give up on another node's migration after it.
            connection.info[BUSY_TIMEOUT_INFO] = MIGRATION_LOCK_WAIT_MS
            connection = connection.execution_options(**{WRITE_OPTION: True})
        try:
            with connection.begin():
                _take_migration_lock(connection)
                # Alembic cannot upgrade from a revision it does not know ("Can't locate
                # revision"): say what it means instead.
                found = MigrationContext.configure(connection).get_current_revision()
                check_not_newer(found)
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
                if sqlite:
                    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
                    if broken:
                        raise MigrationError(
                            f"The migration left rows with broken foreign keys: {broken[:5]}."
                        )
        finally:
            if sqlite:
                connection.info[BUSY_TIMEOUT_INFO] = busy_timeout
                _sqlite_pragma(connection, "PRAGMA foreign_keys = ON")
                _sqlite_pragma(connection, f"PRAGMA busy_timeout = {busy_timeout}")
    return SchemaUpgrade(found, head_revision())


def _take_migration_lock(connection: Connection) -> None:
    """Serialise migrations of one database across nodes, for this transaction.

    Several nodes may run ``init-db`` at once: the first migrates, the others wait for it and
    then find the schema at head. On SQLite the transaction began with ``BEGIN IMMEDIATE``
    (the write lock; the busy timeout is raised to wait for another node's migration). On
    PostgreSQL a transaction-level advisory lock does it; the service's statement and lock
    timeouts (``app.timeouts``) are lifted for the migration, which may legitimately wait for
    another node's or take long on a large table.
    """
    if connection.dialect.name == "sqlite":
        return
    connection.exec_driver_sql("SET LOCAL statement_timeout = 0")
    connection.exec_driver_sql("SET LOCAL lock_timeout = 0")
    connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})


def lock_tables(connection: Connection, names: Iterable[str]) -> None:
    """PostgreSQL: the tables ``names`` that exist, exclusively, before the first migration
    (``migrations/env.py`` asks, naming every table of the models, when any is to run).

    Migrations change tables one after another and keep each one's lock until the upgrade
    commits. Taken that way, while the previous release's workers still serve, the upgrade held
    one table and waited for another that a request held while it waited for the first (a
    batch updates a license, then appends its history): PostgreSQL ended the upgrade as a
    deadlock and rolled back every migration done. All locks are asked for together instead,
    for ``TABLE_LOCK_ATTEMPT_MS`` at a time (requests wait behind the request meanwhile); not
    obtained (still held, or a deadlock), the attempt alone is rolled back and made again after
    a pause in which requests run, until ``MIGRATION_LOCK_WAIT_MS`` have passed. Nothing is
    migrated without them all, and requests wait for the migration (up to their own lock
    timeout, then 503) instead of ending it.
    """
    tables = connection.scalars(
        text(
            "SELECT name FROM unnest(CAST(:names AS text[])) AS name "
            "WHERE to_regclass(name) IS NOT NULL"
        ),
        {"names": sorted(names)},
    ).all()
    if not tables:
        return
    statement = f"LOCK TABLE {', '.join(sorted(tables))} IN ACCESS EXCLUSIVE MODE"
    deadline = time.monotonic() + MIGRATION_LOCK_WAIT_MS / 1000
    while True:
        try:
            with connection.begin_nested():
                connection.exec_driver_sql(f"SET LOCAL lock_timeout = {TABLE_LOCK_ATTEMPT_MS}")
                connection.exec_driver_sql(statement)
            break
        except OperationalError as exc:
            if getattr(exc.orig, "sqlstate", None) not in TABLE_LOCK_REFUSED:
                raise
            if time.monotonic() >= deadline:
                raise MigrationError(
                    f"The tables stayed in use for {MIGRATION_LOCK_WAIT_MS // 60000} minutes: "
                    "nothing was migrated. Stop the workers, then run init-db again."
                ) from None
            time.sleep(TABLE_LOCK_PAUSE_S)
    connection.exec_driver_sql("SET LOCAL lock_timeout = 0")


def _sqlite_pragma(connection: Connection, pragma: str) -> Any:
    """Run ``pragma`` outside any transaction, on the driver's (autocommit) connection;
    returns its value, if it has one."""
    driver_connection = connection.connection.driver_connection
    assert driver_connection is not None
    row = driver_connection.execute(pragma).fetchone()
    return row[0] if row else None


def head_revision() -> str:
    return migration_revisions().head


class MigrationRevisions(NamedTuple):
    """The revision this code's migrations end at, and every revision they know (a database
    at another one is newer than the code)."""

    head: str
    known: frozenset[str]


def migration_revisions() -> MigrationRevisions:
    """Both, from one read of the migrations."""
    script = ScriptDirectory.from_config(alembic_config())
    head = script.get_current_head()
    assert head is not None
    known = frozenset(revision.revision for revision in script.walk_revisions())
    return MigrationRevisions(head, known)


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def include_for(dialect: str) -> Callable[[Any, str | None, str, bool, Any], bool]:
    """Alembic's ``include_object`` for comparing the models with a database of ``dialect``.

    Some objects exist on one dialect only (the provider ID's trigram index is PostgreSQL's;
    the migration creates it there alone): on another dialect their absence is by design, not
    drift, so the comparison leaves them out. Everything else is compared.
    """

    def include(item: Any, name: str | None, kind: str, reflected: bool, compare_to: Any) -> bool:
        return item.info.get(DIALECT_ONLY, dialect) == dialect

    return include
