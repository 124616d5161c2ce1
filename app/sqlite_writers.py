"""SQLite writers queue in the kernel, not in SQLite's busy handler.

A writer that finds SQLite's write lock taken gets SQLITE_BUSY, and the busy handler sleeps
and retries: 1 ms, then 2, 5, 10 … ms, with no queue. A batch holds the lock for well under a
millisecond, so under load a waiter sleeps past the moment the lock is free, and the writer
that just finished often takes it again first: the waiter's sleeps grow while the CPU idles.
With two gunicorn workers posting 5-item batches, a fifth of the machine's CPU sat idle.

So before ``BEGIN IMMEDIATE`` (``tenancy.begin_write``) a connection takes an exclusive
``flock`` on a lock file beside the database (``<file>-writers.lock``) and releases it when it
goes back to the pool, after its COMMIT or ROLLBACK. A waiter blocks in the kernel and wakes
the moment the lock is released; the kernel hands it to one waiter at a time.

SQLite's own lock still guards the data: this lock only orders the writers that use it
(``begin_write`` transactions); anything else (the CLI's migrations, another program) meets
SQLite's busy handler as before. Each pooled connection has its own open file description, so
connections of one process queue like separate processes. A thread that already holds the
lock through another connection does not queue again (it would wait for itself); it goes
straight to SQLite, whose busy timeout ends the wait as it always did. A crashed process's
lock is released by the kernel with its files; a hung one is ended by gunicorn's worker
timeout, which releases it too.
"""

from __future__ import annotations

import logging
import os
import threading
import weakref
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.engine import Connection

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: SQLite's busy handler alone
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger("credgrid.sqlite")

LOCK_SUFFIX = "-writers.lock"
#: The pooled connection's ``info`` key of its ``WriterLock``.
INFO_KEY = "credgrid_writer_lock"

_held_by_thread = threading.local()
#: The lock file of each queued engine, by its pool (engines made with ``execution_options``
#: share their parent's pool).
_lock_files: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()


def lock_file_for(engine: Engine) -> str | None:
    """The lock file of ``engine``'s SQLite file; ``None`` for memory databases and others."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or fcntl is None or not database:
        return None
    if database == ":memory:" or engine.url.query.get("mode") == "memory":
        return None
    return str(Path(database).resolve()) + LOCK_SUFFIX


def _paths_held_here() -> set[str]:
    paths: set[str] | None = getattr(_held_by_thread, "paths", None)
    if paths is None:
        paths = _held_by_thread.paths = set()
    return paths


class WriterLock:
    """One pooled connection's place in the writers' queue of one SQLite file."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._fd: int | None = None
        self._pid = 0
        self._holder: set[str] | None = None  # the acquiring thread's set of held paths

    @property
    def held(self) -> bool:
        return self._holder is not None

    def acquire(self) -> bool:
        """Wait for this file's writer turn; ``False`` when the lock could not be used (this
        thread holds it already, or the lock file cannot be opened): SQLite decides then."""
        if self._pid != os.getpid():
            # New, or inherited through fork: the inherited descriptor shares its lock with
            # the parent, so the child closes its copy (the parent keeps its lock) and opens
            # its own.
            if self._fd is not None:
                os.close(self._fd)
            self._fd, self._holder, self._pid = None, None, os.getpid()
        if self._holder is not None:
            return True
        mine = _paths_held_here()
        if self.path in mine:
            return False
        if self._fd is None:
            try:
                self._fd = os.open(self.path, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
            except OSError as exc:
                log.warning("no writer queue for %s (%s): SQLite's busy handler", self.path, exc)
                return False
        fcntl.flock(self._fd, fcntl.LOCK_EX)  # the GIL is released while it waits
        mine.add(self.path)
        self._holder = mine
        return True

    def release(self) -> None:
        if self._holder is None:
            return
        self._holder.discard(self.path)
        self._holder = None
        if self._fd is not None and self._pid == os.getpid():
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        self.release()
        if self._fd is not None and self._pid == os.getpid():
            os.close(self._fd)
        self._fd = None


def queue_writers(engine: Engine) -> None:
    """Make ``begin_write`` transactions on ``engine`` queue for its SQLite file (no-op for
    other databases): each pooled connection gets a ``WriterLock``, released at checkin."""
    path = lock_file_for(engine)
    if path is None or engine.pool in _lock_files:
        return
    _lock_files[engine.pool] = path

    @event.listens_for(engine, "checkin")
    def _release(_dbapi_connection: Any, record: Any) -> None:
        if record is not None and INFO_KEY in record.info:
            record.info[INFO_KEY].release()

    @event.listens_for(engine, "invalidate")
    def _invalidated(_dbapi_connection: Any, record: Any, _exc: Any) -> None:
        if record is not None and INFO_KEY in record.info:
            record.info[INFO_KEY].release()

    @event.listens_for(engine, "close")
    def _close(_dbapi_connection: Any, record: Any) -> None:
        lock = record.info.pop(INFO_KEY, None) if record is not None else None
        if lock is not None:
            lock.close()


def wait_for_writer_turn(connection: Connection) -> None:
    """Called right before ``BEGIN IMMEDIATE``: wait for this file's writer lock."""
    path = _lock_files.get(connection.engine.pool)
    if path is None:
        return
    info = connection.connection.info
    lock: WriterLock | None = info.get(INFO_KEY)
    if lock is None:
        lock = info[INFO_KEY] = WriterLock(path)
    lock.acquire()
