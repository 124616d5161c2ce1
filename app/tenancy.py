"""The ``vbasoftware-database`` name → engine and session.

A database name is only ever a key into ``app.config["DATABASES"]``; it is never turned into
a path or a URL. Each configured database is self-contained (licenses, users, API keys).
"""

from __future__ import annotations

import logging
import sqlite3
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from time import monotonic, sleep
from typing import Any

from flask import Flask, current_app, g, has_request_context, request
from sqlalchemy import Engine, Executable, event
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from app import pg_pipeline
from app.db_errors import MissingDatabaseFile, is_sqlite_busy
from app.extensions import db
from app.timeouts import postgres_connect_args, sqlite_connect_args

DATABASE_HEADER = "vbasoftware-database"
teardown_log = logging.getLogger("credgrid.errors")
#: The WAL is truncated back to this size after a checkpoint (it would keep its largest size).
SQLITE_JOURNAL_SIZE_LIMIT = 32 * 1024 * 1024


class UnknownDatabase(LookupError):
    """The requested database name is not configured."""


def configure_engines(app: Flask) -> None:
    """Give Flask-SQLAlchemy one bind per configured database, with its timeouts
    (``app.timeouts``) and its bound parameters hidden from logs and error messages."""
    binds: dict[str, Any] = {}
    # Bound parameters (license numbers, hashes of API keys and passwords, user names) stay out
    # of SQLAlchemy's log lines and of its exceptions' text, which reach logs and tracebacks;
    # FLASK_DATABASE_SHOW_PARAMETERS shows them, for debugging only.
    hide_parameters = not app.config["DATABASE_SHOW_PARAMETERS"]
    for name, url in app.config["DATABASES"].items():
        options: dict[str, Any] = {"url": url, "hide_parameters": hide_parameters}
        if url.startswith("postgresql"):
            # No pool_pre_ping: a connection the server closed is replaced at checkout without
            # a round trip (app.db_errors).
            options.update(
                pool_size=5,
                max_overflow=5,
                pool_timeout=app.config["DATABASE_STATEMENT_TIMEOUT_SECONDS"],
                connect_args=postgres_connect_args(url, app.config),
            )
        else:
            options.update(connect_args=sqlite_connect_args(app.config))
            # The connection used last is handed out next: its SQLite page cache is still
            # valid (it made the last change itself), where round-robin over the pool meets a
            # cache another connection's commit made stale.
            options.update(pool_use_lifo=True)
        binds[name] = options
    app.config["SQLALCHEMY_BINDS"] = binds
    app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {})


def watch_sqlite_files(app: Flask) -> None:
    """Opt-in (``SQLITE_CHECKPOINT_INTERVAL`` > 0): background WAL checkpoints of every
    configured SQLite file (``app.sqlite_checkpoints``). Off by default: then SQLite checkpoints
    by itself and nothing is started here."""
    interval = app.config["SQLITE_CHECKPOINT_INTERVAL"]
    if interval <= 0:
        return
    from app.sqlite_checkpoints import watch_engine

    with app.app_context():
        for name in app.config["DATABASES"]:
            watch_engine(db.engines[name], interval)


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


#: The execution option that makes a SQLite transaction begin with ``BEGIN IMMEDIATE``.
WRITE_OPTION = "credgrid_write"

#: Requests with these methods only read; any other request may write.
READ_ONLY_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def open_session(name: str, *, write: bool = False) -> Session:
    """A new session on one database. The caller owns it (commit/rollback/close).

    ``write``: every transaction of the session is a writer's (``begin_write``) from its first
    statement, so the session may read before it writes, on SQLite as on PostgreSQL.
    """
    engine = engine_for(name)
    bind = _writer_engine(engine) if write else engine
    return Session(bind=bind, expire_on_commit=False, autoflush=False)


_writer_engines: weakref.WeakKeyDictionary[Engine, Engine] = weakref.WeakKeyDictionary()


def _writer_engine(engine: Engine) -> Engine:
    """``engine`` with ``WRITE_OPTION`` (same pool), made once per engine."""
    writer = _writer_engines.get(engine)
    if writer is None:
        writer = _writer_engines[engine] = engine.execution_options(**{WRITE_OPTION: True})
    return writer


@contextmanager
def session_scope(name: str, *, write: bool = False) -> Iterator[Session]:
    session = open_session(name, write=write)
    try:
        yield session
    finally:
        session.close()


def request_session(name: str) -> Session:
    """The session of the current request for database ``name``, closed at teardown.

    A request that may write (any method but GET, HEAD and OPTIONS) gets a writer's session:
    each transaction it begins is a writer's (its authentication read, ``first_read``, ends
    before the write transaction begins).
    """
    sessions: dict[str, Session] = g.setdefault("db_sessions", {})
    if name not in sessions:
        write = has_request_context() and request.method not in READ_ONLY_METHODS
        sessions[name] = open_session(name, write=write)
    return sessions[name]


def close_request_sessions(_exc: BaseException | None = None) -> None:
    """Close the request's sessions; never raises (the answer is decided by now)."""
    for session in g.pop("db_sessions", {}).values():
        try:
            session.close()  # rolls back: on a dead connection that may fail
        except Exception as error:
            teardown_log.warning("closing a session failed: %s", type(error).__name__)
            session.invalidate()


def first_read(
    session: Session, statement: Executable, params: dict[str, Any]
) -> Sequence[tuple[Any, ...]]:
    """The rows of a request's first read (its authentication), outside the transaction its
    writes will take, on both engines: a writer's lock is taken when the request is ready to
    write (``begin_write``), not while its body is parsed and validated.

    On PostgreSQL the read runs with no transaction at all (one round trip, where a
    transaction's first statement costs two: psycopg's ``BEGIN`` waits for its answer). On
    SQLite it is a read transaction of its own, ended at once: a writer's session would
    otherwise begin with ``BEGIN IMMEDIATE`` here and hold SQLite's one write lock through the
    body and validation too, while other workers sleep in SQLite's busy handler. Inside an
    open transaction it is an ordinary read of that transaction.
    """
    if session.in_transaction():
        return session.connection().execute(statement, params).all()  # type: ignore[return-value]
    if session.get_bind().dialect.name != "sqlite":
        return pg_pipeline.read_outside_transaction(session.connection(), statement, params)
    reading = session.connection(execution_options={WRITE_OPTION: False})
    rows = reading.execute(statement, params).all()
    session.commit()
    return rows  # type: ignore[return-value]


def begin_write(session: Session) -> None:
    """Make sure the session's transaction is a writer's.

    On SQLite a writer's transaction begins with ``BEGIN IMMEDIATE``, so the write lock is
    taken up front: a deferred transaction that reads and then writes fails with SQLITE_BUSY
    when another writer committed in between, which the busy timeout cannot cure. A session
    opened with ``write=True`` begins every transaction so; in any other session this must
    start the transaction (once begun, a transaction's BEGIN cannot be changed, so calling it
    inside a read transaction is an error). On PostgreSQL there is nothing to take up front:
    an ordinary ``BEGIN``, or the transaction already open.
    """
    if session.get_bind().dialect.name != "sqlite":
        session.connection()
        return
    if session.in_transaction():
        if session.connection().get_execution_options().get(WRITE_OPTION, False):
            return
        raise RuntimeError(
            "begin_write() must start the session's transaction, or the session must be "
            "opened for writing (open_session(name, write=True)); commit or roll back the "
            "open read transaction first."
        )
    session.connection(execution_options={WRITE_OPTION: True})


#: A writer that finds SQLite's write lock taken asks again after this long, then a quarter
#: longer each time up to the cap: quick while a batch holds the lock (well under a
#: millisecond), a few hundred tries a second at most while something holds it for long.
WRITE_LOCK_FIRST_POLL_SECONDS = 0.0003
WRITE_LOCK_POLL_CAP_SECONDS = 0.005
#: Where a SQLite connection's busy timeout (ms) is kept, in its pool record's ``info``.
BUSY_TIMEOUT_INFO = "credgrid_busy_timeout_ms"


@event.listens_for(Engine, "connect")
def _tune_sqlite(dbapi_connection: Any, record: Any) -> None:
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
    record.info[BUSY_TIMEOUT_INFO] = cursor.execute("PRAGMA busy_timeout").fetchone()[0]
    cursor.close()


@event.listens_for(Engine, "do_connect")
def _open_only_an_existing_sqlite_file(
    dialect: Any, _record: Any, cargs: list[Any], cparams: dict[str, Any]
) -> Any:
    """A request never creates a SQLite database: connecting creates a file that does not
    exist (with its -wal and -shm), an empty database left behind at a path perhaps mistyped.
    A request's connection opens the file read-write only (``mode=rw``, as the checkpoint
    thread does); a file that is not there is ``MissingDatabaseFile``, answered as a database
    not initialised. init-db and demo, outside requests, create it; the other commands check
    first (``app.cli``). A URI database's own ``mode`` decides, as a missing directory does."""
    if dialect.name != "sqlite" or cparams.get("uri") or not has_request_context():
        return None
    path = Path(cargs[0])
    if not path.is_absolute():  # ":memory:" (the configuration refuses it)
        return None
    try:
        return dialect.loaded_dbapi.connect(f"{path.as_uri()}?mode=rw", uri=True, **cparams)
    except sqlite3.OperationalError as exc:
        if path.exists() or not path.parent.is_dir():
            raise
        raise MissingDatabaseFile(f"the database file {path} does not exist") from exc


@event.listens_for(Engine, "begin")
def _sqlite_begin(conn: Any) -> None:
    if conn.dialect.name != "sqlite":
        return
    if not conn.get_execution_options().get(WRITE_OPTION, False):
        conn.exec_driver_sql("BEGIN")
        return
    driver = conn.connection.driver_connection
    timeout_ms = conn.connection.info.get(BUSY_TIMEOUT_INFO, 0)
    driver.execute("PRAGMA busy_timeout = 0")  # a setting of the connection, as at connect
    try:
        _begin_immediate_polling(conn, timeout_ms / 1000)
    finally:
        if not conn.invalidated:
            driver.execute(f"PRAGMA busy_timeout = {int(timeout_ms)}")


def _begin_immediate_polling(conn: Any, seconds: float) -> None:
    """``BEGIN IMMEDIATE`` on ``conn`` (whose busy timeout is 0), asked again while another
    writer holds the lock (after ``WRITE_LOCK_FIRST_POLL_SECONDS``, then a quarter longer each
    time up to ``WRITE_LOCK_POLL_CAP_SECONDS``) for up to ``seconds``; then "database is
    locked" is raised as from any statement. A busy lock leaves the connection in the pool
    (``app.db_errors``).

    Why not SQLite's busy timeout: its busy handler sleeps 1, 2, 5, 10, 15 … ms between tries
    whatever the lock does meanwhile, while a batch holds the lock for well under a
    millisecond, so workers that meet at the lock sleep far longer than they need to wait.
    """
    deadline = monotonic() + seconds
    pause = WRITE_LOCK_FIRST_POLL_SECONDS
    while True:
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            return
        except OperationalError as error:
            if not is_sqlite_busy(error.orig) or monotonic() >= deadline:
                raise
        sleep(pause)
        pause = min(pause * 1.25, WRITE_LOCK_POLL_CAP_SECONDS)
