"""The SQLite writers' queue (app/sqlite_writers.py): a writer waits for the lock file before
BEGIN IMMEDIATE and gives it back with its connection, so a waiter wakes the moment the writer
is done instead of sleeping in SQLite's busy handler."""

from __future__ import annotations

import errno
import fcntl
import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, event
from sqlalchemy.pool import NullPool

from app import sqlite_writers
from app.sqlite_writers import LOCK_SUFFIX, WriterLock, lock_file_for
from app.tenancy import begin_write, engine_for, session_scope
from tests.helpers import writers_lock_taken


@pytest.fixture
def lock_file(app: Any, backend: str) -> str:
    if backend != "sqlite":
        pytest.skip("the writers' queue is SQLite's")
    with app.app_context():
        path = lock_file_for(engine_for("main"))
    assert path is not None and path.endswith("main.db" + LOCK_SUFFIX)
    return path


@pytest.mark.parametrize("end", ["commit", "rollback", "close", "invalidate"])
def test_a_writer_holds_the_queue_until_its_transaction_ends(
    app: Any, lock_file: str, end: str
) -> None:
    with app.app_context(), session_scope("main") as session:
        assert not writers_lock_taken(lock_file)
        begin_write(session)
        assert writers_lock_taken(lock_file)
        if end == "invalidate":
            session.connection().invalidate()
        getattr(session, "close" if end == "invalidate" else end)()
        assert not writers_lock_taken(lock_file)


def test_readers_do_not_queue(app: Any, lock_file: str) -> None:
    with app.app_context(), session_scope("main") as session:
        session.connection()  # a plain (read) transaction
        assert not writers_lock_taken(lock_file)


def test_a_second_writer_waits_for_the_queue_not_for_sqlite(app: Any, lock_file: str) -> None:
    """While the first writer is in its transaction the second has not even sent its BEGIN
    IMMEDIATE (without the queue it would be sleeping in SQLite's busy handler); it goes on as
    soon as the first commits."""
    begins: list[tuple[str, float]] = []
    with app.app_context():
        engine = engine_for("main")

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.startswith("BEGIN IMMEDIATE"):
            begins.append((threading.current_thread().name, time.monotonic()))

    event.listen(engine, "before_cursor_execute", record)
    second_done = threading.Event()

    def second_writer() -> None:
        with app.app_context(), session_scope("main") as session:
            begin_write(session)
            session.commit()
        second_done.set()

    try:
        with app.app_context(), session_scope("main") as first:
            begin_write(first)
            thread = threading.Thread(target=second_writer, name="second")
            thread.start()
            time.sleep(0.3)
            assert [name for name, _ in begins] == ["MainThread"]
            assert not second_done.is_set()
            committed = time.monotonic()
            first.commit()
        assert second_done.wait(5)
        thread.join(5)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert [name for name, _ in begins] == ["MainThread", "second"]
    assert begins[1][1] >= committed


def test_a_thread_never_waits_for_itself(tmp_path: Path) -> None:
    path = str(tmp_path / "x.db-writers.lock")
    first, second = WriterLock(path), WriterLock(path)
    assert first.acquire(5) and first.held
    started = time.monotonic()
    assert second.acquire(5) is False  # SQLite's busy timeout decides, as without the queue
    assert time.monotonic() - started < 1
    first.release()
    assert second.acquire(5) is True
    second.close()
    first.close()


def test_the_wait_is_bounded(tmp_path: Path, caplog: Any) -> None:
    """A holder that never lets go (a forgotten transaction, a stopped process) costs a waiter
    the busy timeout, not forever; then SQLite's own busy handler decides."""
    path = str(tmp_path / "x.db-writers.lock")
    holder = os.open(path, os.O_RDONLY | os.O_CREAT)
    fcntl.flock(holder, fcntl.LOCK_EX)
    lock = WriterLock(path)
    started = time.monotonic()
    assert lock.acquire(0.2) is False
    assert 0.2 <= time.monotonic() - started < 2
    assert "going on to SQLite's busy handler" in caplog.text
    os.close(holder)  # the holder goes away
    assert lock.acquire(0.2) is True
    lock.close()


def test_a_lock_file_that_cannot_be_locked_leaves_it_to_sqlite(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    def no_locks(_fd: int, _operation: int) -> None:
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(sqlite_writers.fcntl, "flock", no_locks)
    lock = WriterLock(str(tmp_path / "x.db-writers.lock"))
    assert lock.acquire(5) is False
    assert "no writer queue" in caplog.text


def test_a_forked_child_queues_behind_its_parent(tmp_path: Path) -> None:
    """The child's copy of the parent's lock is not the child's: the same thread of the child
    waits (here until its timeout) instead of believing it holds the lock or skipping it."""
    path = str(tmp_path / "x.db-writers.lock")
    lock = WriterLock(path)
    assert lock.acquire(5)
    pid = os.fork()
    if pid == 0:
        status = 1
        try:
            started = time.monotonic()
            taken = lock.acquire(0.3)
            waited = time.monotonic() - started
            status = 2 if taken else (0 if waited >= 0.25 else 3)
        finally:
            os._exit(status)
    _, status = os.waitpid(pid, 0)
    assert writers_lock_taken(path)  # the child closing its copy left the parent's lock alone
    lock.close()
    assert os.waitstatus_to_exitcode(status) == 0


def test_without_a_usable_lock_file_sqlite_decides(tmp_path: Path, caplog: Any) -> None:
    lock = WriterLock(str(tmp_path / "missing-dir" / "x.db-writers.lock"))
    assert lock.acquire(5) is False
    assert "no writer queue" in caplog.text


def test_the_queue_outlives_engine_dispose(app: Any, lock_file: str) -> None:
    with app.app_context():
        engine_for("main").dispose()
        with session_scope("main") as session:
            begin_write(session)
            assert writers_lock_taken(lock_file)
            session.commit()
    assert not writers_lock_taken(lock_file)


@pytest.mark.parametrize(
    "url",
    ["sqlite://", "sqlite:///:memory:", "sqlite:///file:x?mode=memory&uri=true"],
)
def test_memory_databases_have_no_queue(url: str) -> None:
    engine = create_engine(url, poolclass=NullPool)
    assert lock_file_for(engine) is None
    engine.dispose()


def test_postgresql_has_no_queue() -> None:
    engine = create_engine("postgresql+psycopg://user@127.0.0.1:1/none")
    assert lock_file_for(engine) is None
    engine.dispose()
