"""SQLite writers wait for each other on a lock file, not in SQLite's busy handler.

A writer that finds SQLite's write lock taken gets SQLITE_BUSY, and the busy handler sleeps
and retries: 1 ms, then 2, 5, 10 … ms. A batch holds the lock for well under a millisecond,
so under load a waiter sleeps past the moment the lock is free, and the writer that just
finished often takes it again first: the waiter's sleeps grow while the CPU idles. With two
gunicorn workers posting 5-item batches, 15-20 % of the machine's CPU sat idle.

So before ``BEGIN IMMEDIATE`` (``tenancy.begin_write`` and the batch engine's own write
connection) a connection takes an exclusive ``flock`` on a lock file beside the database
(``<file>-writers.lock``) and releases it when it goes back to the pool, after its COMMIT or
ROLLBACK. A waiter polls the lock with short sleeps (50 µs, doubling to 1 ms), so it starts
within a fraction of a millisecond of the release; in the benchmark that did as well as a
blocking ``flock``, and unlike one it can give up. It waits at most the busy timeout; then,
or if the lock file cannot be used at all, it goes on to SQLite as if there were no queue,
and SQLite's busy timeout decides as it always did. The lock is not a fair queue: a writer
that releases it may take it again first (it is taken again at the next request, after the
response, so in practice waiters get their turn).

SQLite's own lock still guards the data: this lock only orders the writers that use it;
anything else (the CLI's migrations, another program) meets SQLite's busy handler as before.
Each pooled connection has its own open file description, so connections of one process queue
like separate processes. A thread that already holds the lock through another connection does
not queue again (it would wait for itself). A process's locks go with its open files; a forked
child closes its inherited copies and opens its own.
"""

from __future__ import annotations

import logging
import os
import threading
import time
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
FIRST_SLEEP_S = 0.00005
LONGEST_SLEEP_S = 0.001

#: The lock file of each queued engine (``engine.dispose()`` keeps the engine and its pool
#: events; another engine on the same file has its own entry and listeners).
_lock_files: weakref.WeakKeyDictionary[Engine, str] = weakref.WeakKeyDictionary()


class _HeldHere(threading.local):
    """The lock files this thread holds, in this process (a forked child starts empty)."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.paths: set[str] = set()

    def current(self) -> set[str]:
        if self.pid != os.getpid():
            self.pid, self.paths = os.getpid(), set()
        return self.paths


_held_here = _HeldHere()


def lock_file_for(engine: Engine) -> str | None:
    """The lock file of ``engine``'s SQLite file; ``None`` for memory databases and others."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or fcntl is None or not database:
        return None
    if database == ":memory:" or engine.url.query.get("mode") == "memory":
        return None
    return str(Path(database).resolve()) + LOCK_SUFFIX


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

    def acquire(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for this file's writer turn. ``False`` when the
        lock was not taken (this thread holds it already, the wait timed out, or the lock file
        cannot be used): the caller goes on, and SQLite decides."""
        if self._pid != os.getpid():
            self._forget_inherited()
        if self._holder is not None:
            return True
        mine = _held_here.current()
        if self.path in mine:
            return False
        try:
            if self._fd is None:
                self._fd = os.open(self.path, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
            taken = _flock_within(self._fd, timeout)
        except OSError as exc:
            log.warning("no writer queue for %s (%s): SQLite's busy handler", self.path, exc)
            return False
        if not taken:
            log.warning(
                "waited %.0f s for %s; going on to SQLite's busy handler", timeout, self.path
            )
            return False
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
        if self._fd is not None:
            os.close(self._fd)  # in a forked child: its copy only; the parent keeps its lock
        self._fd = None

    def _forget_inherited(self) -> None:
        """New, or inherited through fork: an inherited descriptor shares its lock with the
        parent, so the child closes its copy (never unlocking it) and will open its own."""
        if self._fd is not None and self._pid:
            os.close(self._fd)
        self._fd, self._holder, self._pid = None, None, os.getpid()


def _flock_within(fd: int, timeout: float) -> bool:
    """Take the exclusive lock on ``fd``, polling for at most ``timeout`` seconds."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        pass
    deadline = time.monotonic() + timeout
    sleep = FIRST_SLEEP_S
    while True:
        time.sleep(sleep)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
        sleep = min(sleep * 2, LONGEST_SLEEP_S)


def queue_writers(engine: Engine) -> None:
    """Make ``BEGIN IMMEDIATE`` transactions on ``engine`` queue for its SQLite file (no-op
    for other databases): each pooled connection gets a ``WriterLock``, released at checkin."""
    path = lock_file_for(engine)
    if path is None or engine in _lock_files:
        return
    _lock_files[engine] = path

    # Pool events: registered on the engine, they stay with it across ``dispose()``.
    @event.listens_for(engine, "checkin")
    def _release(_dbapi_connection: Any, record: Any) -> None:
        if record is not None and INFO_KEY in record.info:
            record.info[INFO_KEY].release()

    @event.listens_for(engine, "invalidate")
    def _invalidated(dbapi_connection: Any, record: Any, _exc: Any) -> None:
        _release(dbapi_connection, record)

    @event.listens_for(engine, "close")
    def _close(_dbapi_connection: Any, record: Any) -> None:
        lock = record.info.pop(INFO_KEY, None) if record is not None else None
        if lock is not None:
            lock.close()


def wait_for_writer_turn(connection: Connection, timeout: float) -> None:
    """Called right before ``BEGIN IMMEDIATE``: wait (at most ``timeout`` seconds) for this
    file's writer lock; it is released when the connection goes back to the pool."""
    path = _lock_files.get(connection.engine)
    if path is None:
        return
    info = connection.connection.info
    lock: WriterLock | None = info.get(INFO_KEY)
    if lock is None:
        lock = info[INFO_KEY] = WriterLock(path)
    lock.acquire(timeout)
