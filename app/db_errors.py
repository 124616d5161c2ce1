"""Which database errors mean "the database is unavailable", and dropping the connections they
leave behind.

An unavailable database (PostgreSQL refusing or dropping connections, a statement, lock or
idle timeout, SQLite read-only, locked beyond the busy timeout, an I/O error, a file that
cannot be opened) is not a fault of the request: it is answered as a whole with 503 and
``Retry-After`` (``app.errors``), never item by item.

A connection that saw such an error is not trusted again: a SQLite connection opened while
the file was read-only stays read-only after the file is writable, and a PostgreSQL
connection cut mid-statement is dead. (A lock or statement that ran out of time says nothing
bad of its connection: PostgreSQL's statement and lock timeouts and deadlocks, SQLite's busy
lock.)
SQLAlchemy's ``handle_error`` event lets a listener mark the error as a disconnect, which
makes SQLAlchemy invalidate the connection (and, on SQLite, the whole pool, whose other
connections were opened the same way), so the next request of every worker gets a fresh
connection without a restart. A SQLite connection that would be read-only is refused when it
is opened.
"""

from __future__ import annotations

import logging
import os
import re
import select
import sqlite3
from collections.abc import Collection
from contextlib import suppress
from typing import Any

import psycopg
from psycopg.pq import TransactionStatus
from sqlalchemy import Engine, Pool, event
from sqlalchemy.engine import Connection, ExceptionContext
from sqlalchemy.exc import (
    DBAPIError,
    DisconnectionError,
    InterfaceError,
    OperationalError,
    SQLAlchemyError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.orm import Session

log = logging.getLogger("credgrid.errors")

UNAVAILABLE_ERRORS = (OperationalError, InterfaceError, DisconnectionError, PoolTimeoutError)
#: The same errors as the drivers raise them, for code that reaches a driver directly.
DRIVER_UNAVAILABLE_ERRORS = (
    sqlite3.OperationalError,
    sqlite3.InterfaceError,
    psycopg.OperationalError,
    psycopg.InterfaceError,
)

#: PostgreSQL errors after which the connection is still good: statement and lock timeouts, a
#: deadlock (the transaction ended, the connection did not).
HEALTHY_CONNECTION_STATES = frozenset({"57014", "55P03", "40P01"})


def is_database_unavailable(exc: BaseException) -> bool:
    """True for the errors of an unavailable database, as opposed to a bad statement or data."""
    if isinstance(exc, UNAVAILABLE_ERRORS + DRIVER_UNAVAILABLE_ERRORS):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


#: The statement a connection lost after ``COMMIT`` was sent names (``app.pg_pipeline``).
COMMIT = "COMMIT"


def rollback_quietly(session: Session) -> None:
    """Roll back after the database failed (a lost connection, an answer not stored): a
    second failure, the connection being gone too, must not hide the first."""
    try:
        session.rollback()
    except SQLAlchemyError:
        log.debug("rollback after a database failure failed too", exc_info=True)


#: ``Connection.info``: the transaction's ``COMMIT`` was sent by SQLAlchemy (a session's or a
#: connection's commit), from the ``commit`` event until the next ``begin``.
COMMIT_SENT = "credgrid_commit_sent"
#: Set (true) on the error of a connection lost while SQLAlchemy committed (``_lost_commit``).
LOST_WHILE_COMMITTING = "credgrid_lost_while_committing"


def commit_outcome_unknown(exc: BaseException) -> bool:
    """True when the connection was lost after the transaction's ``COMMIT`` was sent (on
    PostgreSQL: by the batch's pipeline, or by SQLAlchemy's commit of a session or
    connection): the server may have committed before the answer was lost, so the changes
    may have been saved. (SQLite's commit, in process, either happens or fails.)"""
    return (
        isinstance(exc, DBAPIError)
        and exc.connection_invalidated
        and (exc.statement == COMMIT or getattr(exc, LOST_WHILE_COMMITTING, False))
    )


def is_not_a_database(exc: BaseException) -> bool:
    """True when the SQLite file is not a database (``SQLITE_NOTADB``): the setting names some
    other file (a CSV, a dump, an encrypted or zeroed file). Not a fault of the statement, and
    not one a retry mends."""
    error = exc.orig if isinstance(exc, DBAPIError) else exc
    code = getattr(error, "sqlite_errorcode", None)
    return isinstance(error, sqlite3.DatabaseError) and code == sqlite3.SQLITE_NOTADB


#: PostgreSQL's undefined_table and undefined_column.
MISSING_SCHEMA_OBJECT_STATES = frozenset({"42P01", "42703"})
#: SQLite's wording of the same errors.
SQLITE_MISSING_SCHEMA_OBJECT = re.compile(
    r"no such (table|column): |table \S+ has no column named "
)


class MissingDatabaseFile(sqlite3.OperationalError):
    """A request's connection to a SQLite database whose file does not exist: the file is
    not created (``app.tenancy``), and the database has no schema at all."""


def is_missing_database_file(exc: BaseException) -> bool:
    error = exc.orig if isinstance(exc, DBAPIError) else exc
    return isinstance(error, MissingDatabaseFile)


def is_missing_schema_object(exc: BaseException) -> bool:
    """True when a statement named a table or column the database does not have: its schema
    is behind the code (``init-db`` not run since an upgrade), not an error of the request;
    or when the database has no file yet, so no schema at all (``MissingDatabaseFile``).

    SQLite reports it as an ``OperationalError`` (which counts as unavailable too), PostgreSQL
    as a ``ProgrammingError``; ``app.errors`` answers both with one 503."""
    error = exc.orig if isinstance(exc, DBAPIError) else exc
    if isinstance(error, MissingDatabaseFile):
        return True
    if isinstance(error, sqlite3.OperationalError):
        return SQLITE_MISSING_SCHEMA_OBJECT.match(str(error)) is not None
    return isinstance(error, psycopg.Error) and error.sqlstate in MISSING_SCHEMA_OBJECT_STATES


def error_class(exc: BaseException) -> str:
    """``OperationalError (psycopg.errors.QueryCanceled)``: SQLAlchemy's class and the driver's."""
    name = type(exc).__name__
    orig = getattr(exc, "orig", None)
    if orig is not None:
        name += f" ({type(orig).__module__}.{type(orig).__name__})"
    return name


@event.listens_for(Engine, "handle_error")
def _drop_connection_on_operational_error(context: ExceptionContext) -> None:
    if context.is_pre_ping or context.is_disconnect:
        return  # SQLAlchemy already handles these
    if not isinstance(context.sqlalchemy_exception, OperationalError | InterfaceError):
        return
    if getattr(context.original_exception, "sqlstate", None) in HEALTHY_CONNECTION_STATES:
        return  # a statement or lock timeout, a deadlock: the rollback is enough
    if is_sqlite_busy(context.original_exception):
        return  # SQLite's lock was taken: the connection is as good as before
    if is_missing_schema_object(context.original_exception):
        return  # the schema does not match the code (SQLite says so as an OperationalError)
    context.is_disconnect = True
    # On SQLite every pooled connection shares the file's fate (read-only, I/O errors); on
    # PostgreSQL a timeout concerns one connection only.
    sqlite = context.engine is not None and context.engine.dialect.name == "sqlite"
    context.invalidate_pool_on_disconnect = sqlite
    connection = context.connection
    if sqlite and connection is not None and not (connection.closed or connection.invalidated):
        # SQLAlchemy leaves the cursor of a connection it drops open, and SQLite closes a
        # connection whose statement is still open only once that statement is freed (by the
        # garbage collector, perhaps much later): until then its transaction, and the write
        # lock of a write that failed midway, stay held, and every writer waits. (SQLite rolls
        # back by itself after most I/O errors, a full disk among them, but not after others:
        # the file at its size cap, ``max_page_count``.) Rolled back here, the lock is free.
        dbapi_connection = connection.connection.dbapi_connection
        if dbapi_connection is not None:
            with suppress(sqlite3.Error):
                dbapi_connection.rollback()


def hide_quoted_values(error: BaseException) -> bool:
    """Keeps only PostgreSQL's primary message in ``error``'s text; true if it changed.

    The server quotes values back in the message's ``DETAIL`` (``Key (key_hash)=(…) already
    exists``; ``Failing row contains (…)``, a password hash or license number among them), and
    that text reaches the log with the traceback, where ``hide_parameters`` keeps the bound
    parameters out. The error keeps its class, ``sqlstate`` and ``diag`` (the detail stays
    there, for code that needs it)."""
    if not isinstance(error, psycopg.Error):
        return False
    primary = error.diag.message_primary
    if primary is None or str(error).strip() == primary:
        return False
    error.args = (primary,)
    return True


@event.listens_for(Engine, "handle_error")
def _hide_server_quoted_values(context: ExceptionContext) -> None:
    """``hide_quoted_values`` for an engine that hides its bound parameters (``app.tenancy``):
    on the driver's error and on SQLAlchemy's, whose text was made from it."""
    engine, original = context.engine, context.original_exception
    if engine is None or not engine.hide_parameters or not hide_quoted_values(original):
        return
    wrapped = context.sqlalchemy_exception
    if isinstance(wrapped, DBAPIError):
        kind = type(original)
        wrapped.args = (f"({kind.__module__}.{kind.__name__}) {original}",)


@event.listens_for(Engine, "begin")
def _note_begin(connection: Connection) -> None:
    connection.info.pop(COMMIT_SENT, None)


@event.listens_for(Engine, "commit")
def _note_commit(connection: Connection) -> None:
    connection.info[COMMIT_SENT] = True


@event.listens_for(Engine, "handle_error")
def _lost_commit(context: ExceptionContext) -> None:
    """Marks the error of a server connection lost while SQLAlchemy committed (the commit's
    error names no statement): ``commit_outcome_unknown`` then says so."""
    connection, engine = context.connection, context.engine
    if (
        context.statement is None
        and connection is not None
        and engine is not None
        and engine.dialect.name != "sqlite"
        and connection.info.get(COMMIT_SENT)
    ):
        setattr(context.sqlalchemy_exception, LOST_WHILE_COMMITTING, True)


@event.listens_for(Engine, "connect")
def _refuse_read_only_sqlite(dbapi_connection: Any, _record: Any) -> None:
    """A SQLite file that cannot be opened for writing is opened read-only, silently, and
        the connection stays read-only after the file is writable again; such a connection must
        never enter the pool. SQLite's own test (can the file be opened read-write?) is repeated
        here (``access``, which sees permissions, read-only mounts and immutable files), and
    failing it fails the connect as SQLite's write would."""
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    path = dbapi_connection.execute("PRAGMA database_list").fetchone()[2]
    if not path:  # in memory or temporary
        return
    # Never open and close a descriptor of the file here: closing it would drop the POSIX
    # locks SQLite holds on the file through its own descriptors in this process.
    if not os.access(path, os.W_OK):
        dbapi_connection.close()
        raise sqlite3.OperationalError("attempt to write a readonly database")


def is_sqlite_busy(error: BaseException | None) -> bool:
    """True when ``error`` (the driver's) is SQLite's "database is locked" (``SQLITE_BUSY``)."""
    code = getattr(error, "sqlite_errorcode", None)  # None on errors raised by hand
    return (
        isinstance(error, sqlite3.OperationalError)
        and code is not None
        and (code & 0xFF == sqlite3.SQLITE_BUSY)
    )


def is_unique_violation(error: BaseException | None, tables: Collection[str]) -> bool:
    """True when ``error`` (the driver's) is a primary-key or unique violation on one of
    ``tables``."""
    if isinstance(error, psycopg.errors.UniqueViolation):
        return error.diag.table_name in tables
    if isinstance(error, sqlite3.IntegrityError):
        message = str(error)
        return message.startswith("UNIQUE constraint failed: ") and any(
            f" {table}." in message for table in tables
        )
    return False


def is_deadlock(error: BaseException | None) -> bool:
    """True when ``error`` (the driver's) is PostgreSQL's ``deadlock_detected``: the server
    cancelled this transaction to break a cycle of waits (SQLite's one writer has none)."""
    return isinstance(error, psycopg.errors.DeadlockDetected)


@event.listens_for(Pool, "checkout")
def _refuse_dropped_postgresql_connection(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """A pooled PostgreSQL connection the server has closed (a restart, a terminated backend,
    an idle timeout) is replaced before use, without a round trip: an idle connection never
    has anything to read, but the server's goodbye (its error message, then the end of the
    stream) is. This replaces SQLAlchemy's ``pool_pre_ping``, a ``SELECT`` per checkout.
    Raising ``DisconnectionError`` here makes the pool connect anew."""
    if not isinstance(dbapi_connection, psycopg.Connection):
        return
    if dbapi_connection.closed or _readable(dbapi_connection.fileno()):
        raise DisconnectionError("the server closed this idle connection")


def _readable(fileno: int) -> bool:
    poller = select.poll()
    poller.register(fileno, select.POLLIN | select.POLLERR | select.POLLHUP)
    return bool(poller.poll(0))


def restore_driver_transactions(driver: psycopg.Connection[Any]) -> None:
    """Put a psycopg connection back in its own transaction mode (``autocommit`` off, which
    can only change outside a transaction: whatever is still open is rolled back)."""
    if driver.closed or not driver.autocommit:
        return
    if driver.info.transaction_status != TransactionStatus.IDLE:
        driver.rollback()
    driver.autocommit = False


@event.listens_for(Pool, "reset")
def _restore_postgresql_transactions(dbapi_connection: Any, _record: Any, _state: Any) -> None:
    """A connection goes back to the pool with the driver's own transactions (not the
    autocommit mode ``app.pg_pipeline`` may have left it in after an error)."""
    if isinstance(dbapi_connection, psycopg.Connection):
        restore_driver_transactions(dbapi_connection)
