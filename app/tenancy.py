"""The ``vbasoftware-database`` name → engine and session.

A database name is only ever a key into ``app.config["DATABASES"]``; it is never turned into
a path or a URL. Each configured database is self-contained (licenses, users, API keys).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from flask import Flask, current_app, g
from sqlalchemy import Engine, Select, event
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError, MultipleResultsFound, NoResultFound
from sqlalchemy.orm import Session

from app import driver_cursor
from app.extensions import db
from app.sqlite_writers import queue_writers, wait_for_writer_turn
from app.timeouts import postgres_connect_args, sqlite_connect_args

DATABASE_HEADER = "vbasoftware-database"
teardown_log = logging.getLogger("credgrid.errors")
SQLITE_BUSY_TIMEOUT_MS = 30_000
#: The WAL is truncated back to this size after a checkpoint (it would keep its largest size).
SQLITE_JOURNAL_SIZE_LIMIT = 32 * 1024 * 1024


class UnknownDatabase(LookupError):
    """The requested database name is not configured."""


def configure_engines(app: Flask) -> None:
    """Give Flask-SQLAlchemy one bind per configured database, with its timeouts
    (``app.timeouts``)."""
    binds: dict[str, Any] = {}
    for name, url in app.config["DATABASES"].items():
        options: dict[str, Any] = {"url": url}
        if url.startswith("postgresql"):
            options.update(
                pool_pre_ping=True,
                pool_size=5,
                max_overflow=5,
                pool_timeout=app.config["DATABASE_STATEMENT_TIMEOUT_SECONDS"],
                connect_args=postgres_connect_args(url, app.config),
            )
        else:
            options.update(connect_args=sqlite_connect_args(app.config))
            # The connection used last is handed out next: its SQLite page cache is still
            # valid (it made the last change itself), where round-robin over the pool meets a
            # cache another connection's commit made stale (~60 µs more per statement).
            options.update(pool_use_lifo=True)
        binds[name] = options
    app.config["SQLALCHEMY_BINDS"] = binds
    app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {})


def watch_sqlite_files(app: Flask) -> None:
    """For every configured SQLite file: background WAL checkpoints
    (``app.sqlite_checkpoints``) and the writers' queue (``app.sqlite_writers``)."""
    from app.sqlite_checkpoints import watch_engine

    with app.app_context():
        for name in app.config["DATABASES"]:
            watch_engine(db.engines[name], app.config["SQLITE_CHECKPOINT_INTERVAL"])
            queue_writers(db.engines[name])


def database_names() -> list[str]:
    return list(current_app.config["DATABASES"])


def default_database() -> str:
    return database_names()[0]


def resolve_database(name: str | None) -> str:
    """Return ``name`` if it is configured; raise ``UnknownDatabase`` otherwise."""
    if not name or name not in current_app.config["DATABASES"]:
        raise UnknownDatabase(name)
    return name


def engine_for(name: str) -> Engine:
    return db.engines[resolve_database(name)]


def open_session(name: str) -> Session:
    """A new session on one database. The caller owns it (commit/rollback/close)."""
    return Session(bind=engine_for(name), expire_on_commit=False, autoflush=False)


@contextmanager
def session_scope(name: str) -> Iterator[Session]:
    session = open_session(name)
    try:
        yield session
    finally:
        session.close()


def request_session(name: str) -> Session:
    """The session of the current request for database ``name``, closed at teardown."""
    sessions: dict[str, Session] = g.setdefault("db_sessions", {})
    if name not in sessions:
        sessions[name] = open_session(name)
    return sessions[name]


def close_request_sessions(_exc: BaseException | None = None) -> None:
    """Close the request's sessions; never raises (the answer is decided by now)."""
    for session in g.pop("db_sessions", {}).values():
        try:
            session.close()  # rolls back: on a dead connection that may fail
        except Exception as error:
            teardown_log.warning("closing a session failed: %s", type(error).__name__)
            session.invalidate()


#: The execution option that makes a SQLite connection begin with ``BEGIN IMMEDIATE``.
WRITE_OPTION = "credgrid_write"


def begin_write(session: Session) -> None:
    """Start the session's transaction as a writer.

    On SQLite this issues ``BEGIN IMMEDIATE`` so the write lock is taken up front: a deferred
    transaction that reads and then writes can fail with SQLITE_BUSY under concurrency, which
    the busy timeout cannot cure. On PostgreSQL there is nothing to take up front: an ordinary
    ``BEGIN``, or the transaction already open (the request's authentication read).

    On SQLite it must start the transaction: once a transaction is open its BEGIN cannot be
    changed, so calling it inside a read transaction is an error (SQLAlchemy would only warn and
    go on without the lock). Calling it again inside a writer's transaction is harmless.
    """
    if session.get_bind().dialect.name != "sqlite":
        session.connection()
        return
    if session.in_transaction():
        if session.connection().get_execution_options().get(WRITE_OPTION, False):
            return
        raise RuntimeError(
            "begin_write() must start the session's transaction; commit or roll back the "
            "open transaction first."
        )
    session.connection(execution_options={WRITE_OPTION: True})


@event.listens_for(Engine, "connect")
def _tune_sqlite(dbapi_connection: Any, _record: Any) -> None:
    module = type(dbapi_connection).__module__
    if not module.startswith("sqlite3"):
        return
    # Let SQLAlchemy's "begin" event below emit BEGIN itself (pysqlite's own is broken).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.execute(f"PRAGMA journal_size_limit = {SQLITE_JOURNAL_SIZE_LIMIT}")
    cursor.close()


@event.listens_for(Engine, "begin")
def _sqlite_begin(conn: Any) -> None:
    if conn.dialect.name != "sqlite":
        return
    options = conn.get_execution_options()
    if options.get(SINGLE_STATEMENT_READ, False):
        return  # autocommit: the one statement is its own transaction
    if options.get(WRITE_OPTION, False):
        # Released when the connection goes back to the pool.
        wait_for_writer_turn(conn, SQLITE_BUSY_TIMEOUT_MS / 1000)
        driver_cursor.execute(conn, "BEGIN IMMEDIATE", autobegin=False)
    else:
        conn.exec_driver_sql("BEGIN")


#: The execution option of ``read_one_row`` connections on SQLite (no BEGIN).
SINGLE_STATEMENT_READ = "credgrid_single_statement_read"


def read_one_row(
    session: Session, statement: Select[Any], parameters: dict[str, Any]
) -> Sequence[Any]:
    """The one row of one read statement, before the session's own work begins.

    On SQLite it runs in autocommit mode: a single statement is atomic and sees one snapshot
    by itself, so it needs no BEGIN and no ROLLBACK, and a write that follows starts clean
    with its own BEGIN IMMEDIATE (a read transaction cannot be upgraded; see ``begin_write``).
    When the statement needs no type conversion it runs its SQL, compiled once, on a pooled
    DBAPI connection directly: ~15 µs instead of ~70 µs through a SQLAlchemy ``Connection``
    (the cost of every API request's key lookup). SQLAlchemy's statement events do not see
    that execution; SQLite's own trace does (tests/test_sqlite_connections.py).
    On PostgreSQL it is the session's connection, whose transaction simply goes on (ending
    it would cost a second pool checkout and pre-ping for the write).
    """
    bind = session.get_bind()
    if bind.dialect.name == "sqlite" and isinstance(bind, Engine):
        plain = _plain_sql(statement, bind.dialect)
        if plain is not None:
            sql, names, fixed = plain
            values = [parameters[n] if n in parameters else fixed[n] for n in names]
            return _read_on_dbapi_connection(bind, sql, values)
        with bind.connect().execution_options(**{SINGLE_STATEMENT_READ: True}) as connection:
            return connection.execute(statement, parameters).one()
    return session.connection().execute(statement, parameters).one()


@functools.lru_cache(maxsize=64)
def _plain_sql(
    statement: Select[Any], dialect: Dialect
) -> tuple[str, tuple[str, ...], dict[str, Any]] | None:
    """``statement``'s SQL, its parameter names in order and the values of those the statement
    fixes itself, when the compiled SQL is final and neither its parameters nor its columns
    need the dialect's conversions (then the DBAPI's values are the answer). ``None``
    otherwise: expanding ``IN`` lists and literal-execute parameters are rendered at execution,
    and a callable default is evaluated at each. A required parameter the caller leaves out is
    a ``KeyError``."""
    compiled = statement.compile(dialect=dialect)
    if compiled.post_compile_params or compiled.literal_execute_params:
        return None
    names = tuple(compiled.positiontup or ())
    binds = [compiled.binds[name] for name in names]
    if any(b.callable is not None for b in binds):
        return None
    if any(b.type.dialect_impl(dialect).bind_processor(dialect) is not None for b in binds):
        return None
    fixed = {n: b.effective_value for n, b in zip(names, binds, strict=True) if not b.required}
    for column in statement.selected_columns:
        if column.type.dialect_impl(dialect).result_processor(dialect, None) is not None:
            return None
    return compiled.string, names, fixed


def _read_on_dbapi_connection(engine: Engine, sql: str, parameters: list[Any]) -> Sequence[Any]:
    """One statement on a pooled DBAPI connection; driver errors raised as SQLAlchemy's."""
    connection = engine.raw_connection()
    dbapi_error = engine.dialect.loaded_dbapi.Error
    try:
        cursor = connection.cursor()
        try:
            cursor.execute(sql, parameters)
            rows = cursor.fetchmany(2)
        finally:
            cursor.close()
    except dbapi_error as error:
        raise DBAPIError.instance(
            sql, parameters, error, dbapi_error, dialect=engine.dialect
        ) from error
    finally:
        connection.close()
    if len(rows) != 1:
        raise (NoResultFound if not rows else MultipleResultsFound)(
            f"Expected one row, got {'none' if not rows else 'more'}."
        )
    return rows[0]
