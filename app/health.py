"""``GET /healthz``: no auth; checks that every configured database can take a write.

A database that answers reads but cannot write (a read-only SQLite file, a PostgreSQL standby,
a table lock held by someone else) cannot serve the batch endpoint, so the probe takes the
write lock a batch takes and gives it back at once: ``BEGIN IMMEDIATE``, an update that
changes nothing, ``ROLLBACK`` on SQLite,
``ROW EXCLUSIVE`` locks on the application's tables on PostgreSQL, in a transaction that is
rolled back. Every wait in the probe is bounded (``PROBE_LOCK_TIMEOUT_MS`` for a lock,
``PROBE_TIMEOUT_MS`` for a statement), so the answer comes within a second even when the
database hangs on a lock. (A connection attempt to a host that does not answer at all is
bounded by the connect timeout, ``app.timeouts``.)
"""

from __future__ import annotations

import functools

from flask import Blueprint, Response, current_app
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError, OperationalError

from app.api.envelope import json_response
from app.api.rate_limit import rate_limit_storage_state
from app.db_errors import is_missing_database_file
from app.extensions import db
from app.schema import (
    MigrationRevisions,
    SchemaNewerThanCode,
    check_not_newer,
    current_revision,
    migration_revisions,
)
from app.tenancy import engine_for

bp = Blueprint("health", __name__)

PROBE_TIMEOUT_MS = 800
PROBE_LOCK_TIMEOUT_MS = 400  # below the statement timeout, so that a lock says so
OK = "ok"
NOT_INITIALISED = "not initialised: run init-db"

# Cheap, and fails on a database nobody ran init-db on (an empty SQLite file).
SCHEMA_PROBE = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'"
SQLITE_WRITE_PROBE = "UPDATE alembic_version SET version_num = version_num"
PG_SCHEMA_PROBE = "SELECT 1 WHERE to_regclass('alembic_version') IS NOT NULL"
REVISION_PROBE = "SELECT version_num FROM alembic_version"


class ProbeFailed(Exception):
    """The database answered, but cannot take a write (or serve this version of the code)."""


@functools.cache
def code_revisions() -> MigrationRevisions:
    """The schema revision this code needs and every one it knows (read from the migrations
    once per process)."""
    return migration_revisions()


def check_revision(found: str | None) -> None:
    """A schema behind the code fails every request that touches what changed (a 503 naming
    both revisions, ``app.errors``): the node is not serving, and says why. A schema newer than
    the code (a revision it does not know: ``init-db`` of the next release ran while this
    one's workers still serve, as a rolling upgrade does) is not a failure: migrations keep
    the previous release working."""
    head, known = code_revisions()
    if found != head and (found is None or found in known):
        raise ProbeFailed(f"schema at revision {found}, this version needs {head}: run init-db")


def schema_problem(engine: Engine, *, newer_too: bool = False) -> str | None:
    """Why ``engine``'s database cannot serve this code for its schema (``NOT_INITIALISED``,
    or behind the code, worded as ``/healthz`` words it), or None: its schema is the code's,
    or newer. ``newer_too``: a newer schema is a problem too (asked after a statement met a
    table or column the database lacks, which a newer schema can have dropped). Raises when
    the database cannot be read."""
    try:
        found = current_revision(engine)
    except OperationalError as exc:
        if not is_missing_database_file(exc):
            raise
        return NOT_INITIALISED
    if found is None:
        return NOT_INITIALISED
    try:
        check_revision(found)
    except ProbeFailed as exc:
        return str(exc)
    if newer_too:
        try:
            check_not_newer(found, code_revisions())
        except SchemaNewerThanCode as exc:
            return (
                f"schema at revision {exc.found}, newer than this version's {exc.head}: "
                "upgrade credgrid"
            )
    return None


@bp.get("/healthz")
def healthz() -> Response:
    results: dict[str, str] = {}
    for name in current_app.config["DATABASES"]:
        try:
            results[name] = probe_database(engine_for(name))
        except ProbeFailed as exc:
            results[name] = str(exc)
            current_app.logger.warning("healthz: database %s: %s", name, exc)
        except Exception as exc:  # any failure of one database is that database's state
            cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
            results[name] = f"{type(cause).__name__}: unavailable"
            current_app.logger.warning("healthz: database %s failed: %s", name, type(cause))
    healthy = all(v == OK for v in results.values())
    # Retry-After as on every other 503 of the service (app.errors).
    seconds = current_app.config["DATABASE_RETRY_AFTER_SECONDS"]
    headers = None if healthy else {"Retry-After": str(seconds)}
    # The rate-limit storage is reported, not required: without it the service still answers,
    # counting per process (app/api/rate_limit.py), so it never makes /healthz 503.
    storage = rate_limit_storage_state(current_app)
    return json_response(
        {"databases": results, "rateLimitStorage": storage},
        status=200 if healthy else 503,
        headers=headers,
    )


def probe_database(engine: Engine) -> str:
    """``OK``, ``NOT_INITIALISED``, or raises: the database cannot take a write now."""
    try:
        connection = engine.connect()
    except OperationalError as exc:
        if not is_missing_database_file(exc):
            raise
        return NOT_INITIALISED
    with connection:
        if connection.dialect.name == "sqlite":
            return _probe_sqlite(connection)
        return _probe_postgres(connection)


def _probe_sqlite(connection: Connection) -> str:
    """On the driver's connection (autocommit), so that ``BEGIN IMMEDIATE`` is ours to issue.

    The busy timeout is shortened for the probe and restored after it; a connection whose
    probe failed is discarded (it may have been opened while the file was read-only).
    """
    driver = connection.connection.driver_connection
    assert driver is not None
    try:
        busy_timeout = driver.execute("PRAGMA busy_timeout").fetchone()[0]
        driver.execute(f"PRAGMA busy_timeout = {PROBE_LOCK_TIMEOUT_MS}")
        try:
            if driver.execute(SCHEMA_PROBE).fetchone() is None:
                return NOT_INITIALISED
            revision = driver.execute(REVISION_PROBE).fetchone()
            driver.execute("BEGIN IMMEDIATE")
            try:  # BEGIN IMMEDIATE succeeds on a read-only connection; a write does not
                driver.execute(SQLITE_WRITE_PROBE)
            finally:
                driver.execute("ROLLBACK")
        finally:
            driver.execute(f"PRAGMA busy_timeout = {int(busy_timeout)}")
    except Exception as exc:
        connection.invalidate()
        raise ProbeFailed(f"{type(exc).__name__}: unavailable") from exc
    check_revision(revision[0] if revision else None)
    return OK


def _probe_postgres(connection: Connection) -> str:
    with connection.begin() as transaction:
        connection.execute(text(f"SET LOCAL statement_timeout = {PROBE_TIMEOUT_MS}"))
        connection.execute(text(f"SET LOCAL lock_timeout = {PROBE_LOCK_TIMEOUT_MS}"))
        if connection.execute(text(PG_SCHEMA_PROBE)).first() is None:
            return NOT_INITIALISED
        check_revision(connection.execute(text(REVISION_PROBE)).scalar())
        if connection.execute(text("SELECT pg_is_in_recovery()")).scalar():
            raise ProbeFailed("read-only standby: unavailable")
        quote = connection.dialect.identifier_preparer.quote
        tables = ", ".join(quote(table.name) for table in db.metadata.sorted_tables)
        connection.execute(text(f"LOCK TABLE alembic_version, {tables} IN ROW EXCLUSIVE MODE"))
        transaction.rollback()
    return OK
