"""SQLite's write lock is asked for again while another writer holds it, first after
``WRITE_LOCK_FIRST_POLL_SECONDS`` and then a quarter longer each time up to a cap
(``tenancy._poll_for_write_lock``), instead of in SQLite's busy handler's 1, 2, 5, 10 … ms
steps; past the busy timeout the wait fails as any lock wait does, without a second wait."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from app import tenancy
from app.extensions import db
from app.tenancy import session_scope
from tests.helpers import write_lock_is_free


@pytest.fixture
def sqlite_path(backend: str, database_urls: dict[str, str]) -> str:
    if backend != "sqlite":
        pytest.skip("SQLite's write lock")
    path = make_url(database_urls["main"]).database
    assert path
    return path


@pytest.fixture
def other_writer(sqlite_path: str) -> Iterator[sqlite3.Connection]:
    """Another connection holding the write lock."""
    other = sqlite3.connect(sqlite_path, timeout=0, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    yield other
    if other.in_transaction:
        other.execute("ROLLBACK")
    other.close()


def beginning_a_write_fails_locked() -> None:
    with (
        session_scope("main", write=True) as session,
        pytest.raises(OperationalError, match="locked"),
    ):
        session.connection()


def busy_timeout_of(session: Any) -> int:
    return session.connection().exec_driver_sql("PRAGMA busy_timeout").scalar_one()


def test_a_waiting_writer_asks_again_and_takes_the_lock_once_it_is_free(
    app: Any, sqlite_path: str, other_writer: sqlite3.Connection, monkeypatch: Any
) -> None:
    naps: list[float] = []

    def nap(seconds: float) -> None:  # the other writer commits during the fifth nap
        naps.append(seconds)
        if len(naps) == 5:
            other_writer.execute("COMMIT")

    monkeypatch.setattr(tenancy, "sleep", nap)
    with app.app_context(), session_scope("main", write=True) as session:
        session.connection()  # BEGIN IMMEDIATE, asked six times
        first = tenancy.WRITE_LOCK_FIRST_POLL_SECONDS
        assert naps == pytest.approx([first * 1.25**n for n in range(5)])
        assert not write_lock_is_free(sqlite_path)  # by the session now
        assert busy_timeout_of(session) == app.config["SQLITE_BUSY_TIMEOUT_SECONDS"] * 1000
    assert write_lock_is_free(sqlite_path)


def test_a_free_lock_is_taken_without_waiting(app: Any, sqlite_path: str, monkeypatch: Any) -> None:
    monkeypatch.setattr(tenancy, "sleep", lambda _seconds: pytest.fail("slept"))
    with app.app_context(), session_scope("main", write=True) as session:
        session.connection()
        assert not write_lock_is_free(sqlite_path)


def test_past_the_busy_timeout_the_wait_fails_as_any_lock_wait(
    fresh_app: Any, sqlite_path: str, other_writer: sqlite3.Connection
) -> None:
    app = fresh_app(SQLITE_BUSY_TIMEOUT_SECONDS=1)
    with app.app_context():
        invalidated: list[Any] = []
        event.listen(db.engines["main"].pool, "invalidate", lambda *args: invalidated.append(args))
        beginning_a_write_fails_locked()
        assert invalidated == []  # a busy lock says nothing bad of the connection
        other_writer.execute("ROLLBACK")
        with session_scope("main", write=True) as session:
            assert busy_timeout_of(session) == 1000  # the pool's connection got its own back


def test_a_long_wait_asks_a_few_hundred_times_a_second_and_ends_with_the_busy_timeout(
    fresh_app: Any, sqlite_path: str, other_writer: sqlite3.Connection, monkeypatch: Any
) -> None:
    clock = [1000.0]
    naps: list[float] = []

    def nap(seconds: float) -> None:
        naps.append(seconds)
        clock[0] += seconds

    monkeypatch.setattr(tenancy, "sleep", nap)
    monkeypatch.setattr(tenancy, "monotonic", lambda: clock[0])
    app = fresh_app(SQLITE_BUSY_TIMEOUT_SECONDS=2)
    with app.app_context():
        beginning_a_write_fails_locked()
    assert max(naps) == tenancy.WRITE_LOCK_POLL_CAP_SECONDS
    assert 2.0 <= sum(naps) < 2.0 + tenancy.WRITE_LOCK_POLL_CAP_SECONDS
    assert len(naps) < 2.0 / tenancy.WRITE_LOCK_POLL_CAP_SECONDS + 30  # not one per 0.3 ms


#: CLI commands that read and then write. Begun as readers, they failed at once with "database
#: is locked" when another writer held the lock at their first write (SQLite does not wait for
#: the lock in a transaction that has read: it cannot know the reads would still hold).
CLI_CHANGES = [
    pytest.param(["create-api-key", "nightly"], id="create-api-key"),
    pytest.param(["revoke-api-key", "existing"], id="revoke-api-key"),
    pytest.param(["users", "set-role", "alice", "viewer"], id="users-set-role"),
    pytest.param(["users", "disable", "alice"], id="users-disable"),
    pytest.param(["users", "enable", "alice"], id="users-enable"),
    pytest.param(["users", "set-password", "alice"], id="users-set-password"),
    pytest.param(["users", "delete", "alice", "--yes"], id="users-delete"),
    pytest.param(["seed", "--providers", "2"], id="seed"),
    pytest.param(["demo"], id="demo"),
]


@pytest.mark.parametrize("args", CLI_CHANGES)
def test_a_cli_change_waits_for_another_writer_instead_of_failing_locked(
    app: Any,
    sqlite_path: str,
    make_user: Any,
    make_api_key: Any,
    monkeypatch: Any,
    args: list[str],
) -> None:
    from app import cli

    make_user("alice")
    make_api_key(label="existing")
    # demo's migration takes the lock first (and waits for it): the rest of demo is the point.
    monkeypatch.setattr(cli, "migrate", lambda _name: "head")
    other = sqlite3.connect(sqlite_path, timeout=0, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # e.g. a batch of the running service

    def nap(_seconds: float) -> None:  # the other writer commits while the command waits
        if other.in_transaction:
            other.execute("COMMIT")

    monkeypatch.setattr(tenancy, "sleep", nap)
    try:
        result = app.test_cli_runner().invoke(args=args, input="new password 123\n")
    finally:
        if other.in_transaction:
            other.execute("ROLLBACK")
        other.close()
    assert result.exit_code == 0, result.output
    assert "locked" not in result.output


def test_init_db_waits_for_another_migration_longer_than_the_busy_timeout(
    fresh_app: Any, sqlite_path: str, other_writer: sqlite3.Connection, monkeypatch: Any
) -> None:
    """Another node's ``init-db`` migrating (here: holding the lock for 3 s) is waited for up
    to ``MIGRATION_LOCK_WAIT_MS``, not the service's busy timeout (1 s here), as on PostgreSQL."""
    from app.schema import upgrade_database

    clock = [1000.0]

    def nap(seconds: float) -> None:
        clock[0] += seconds
        if clock[0] >= 1003.0 and other_writer.in_transaction:
            other_writer.execute("COMMIT")  # the other migration is done

    monkeypatch.setattr(tenancy, "sleep", nap)
    monkeypatch.setattr(tenancy, "monotonic", lambda: clock[0])
    app = fresh_app(SQLITE_BUSY_TIMEOUT_SECONDS=1)
    with app.app_context():
        upgrade_database(db.engines["main"])
        assert clock[0] >= 1003.0
        with session_scope("main", write=True) as session:
            assert busy_timeout_of(session) == 1000  # the service's own again
