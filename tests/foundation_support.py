"""Helpers for the foundation tests: empty databases, databases migrated only part of the
way, and a filesystem watch.

Kept out of ``conftest.py`` (shared by every test module) because only the foundation tests
need a database not at the newest revision or to watch which files a request opens.
"""

from __future__ import annotations

import os
import sys
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from app.schema import alembic_config


def postgres_url(schema: str) -> str:
    """A psycopg 3 URL on TEST_DATABASE_URL whose search path is ``schema``."""
    url = make_url(os.environ["TEST_DATABASE_URL"]).set(drivername="postgresql+psycopg")
    url = url.update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False)


@contextmanager
def empty_database(backend: str, directory: Path) -> Iterator[str]:
    """The URL of a database with no tables: a new SQLite file or a new PostgreSQL schema."""
    if backend == "sqlite":
        yield f"sqlite:///{directory / f'empty-{uuid.uuid4().hex[:8]}.db'}"
        return
    schema = f"credgrid_found_empty_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres_url("public"))
    try:
        with admin.begin() as connection:
            connection.execute(text(f"CREATE SCHEMA {schema}"))
        yield postgres_url(schema)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        admin.dispose()


def migrate_to(engine: Engine, revision: str, direction: str = "upgrade") -> None:
    """Alembic's ``upgrade`` (or ``downgrade``) of ``engine``'s database to ``revision``."""
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        getattr(command, direction)(config, revision)


@contextmanager
def database_at_revision(backend: str, directory: Path, revision: str) -> Iterator[str]:
    """The URL of a new database migrated to ``revision`` only: new code started before
    ``init-db`` brought its database to the code's revision."""
    with empty_database(backend, directory) as url:
        engine = create_engine(url)
        try:
            migrate_to(engine, revision)
        finally:
            engine.dispose()
        yield url


# Python's audit hooks cannot be removed, so one hook is installed for the whole session and
# only records while a ``watch_filesystem()`` block is active.
_WATCHED_EVENTS = {"open", "os.mkdir", "os.listdir", "os.scandir", "sqlite3.connect"}
_watches: list[tuple[int, list[tuple[str, tuple[Any, ...]]]]] = []


def _audit(event: str, args: tuple[Any, ...]) -> None:
    # Only the watching thread: the background WAL checkpointer (app/sqlite_checkpoints.py)
    # opens the configured files on its own schedule, whatever the code under test does.
    if _watches and event in _WATCHED_EVENTS and threading.get_ident() == _watches[-1][0]:
        _watches[-1][1].append((event, args))


sys.addaudithook(_audit)


@contextmanager
def watch_filesystem() -> Iterator[list[tuple[str, tuple[Any, ...]]]]:
    """Record the files opened, directories made or listed and SQLite files connected to."""
    events: list[tuple[str, tuple[Any, ...]]] = []
    watch = (threading.get_ident(), events)
    _watches.append(watch)
    try:
        yield events
    finally:
        _watches.remove(watch)
