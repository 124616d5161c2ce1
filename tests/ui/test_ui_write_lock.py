"""A grid Save on SQLite while another writer (an API batch, an import) holds the write lock:
the signed-in user is read without the lock, so only the Save itself waits for it, and a Save
that waits past the busy timeout is a 503 logged like any other request's."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine import make_url

from app import tenancy
from app.extensions import db


@pytest.fixture
def other_writer(backend: str, database_urls: dict[str, str]) -> Iterator[sqlite3.Connection]:
    if backend != "sqlite":
        pytest.skip("SQLite's write lock")
    other = sqlite3.connect(make_url(database_urls["main"]).database, isolation_level=None)
    yield other
    if other.in_transaction:
        other.execute("ROLLBACK")
    other.close()


@pytest.fixture
def fake_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """The wait for the lock passes without sleeping."""
    clock = [1000.0]

    def nap(seconds: float) -> None:
        clock[0] += seconds

    monkeypatch.setattr(tenancy, "sleep", nap)
    monkeypatch.setattr(tenancy, "monotonic", lambda: clock[0])


SAVE = {"rows-0-license_Number": "N-1", "save_id": "cd" * 16}


def test_a_save_past_the_busy_timeout_is_a_503_logged_with_its_activity_and_user(
    login: Any,
    client: Any,
    make_cred: Any,
    other_writer: sqlite3.Connection,
    fake_clock: None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    make_cred(1)
    login()
    other_writer.execute("BEGIN IMMEDIATE")
    response = client.post("/ui/credentials/1/licenses", data=SAVE)
    assert response.status_code == 503
    assert response.headers["Retry-After"]
    activity = response.headers["X-Activity-ID"]
    warnings = [r.getMessage() for r in caplog.records if r.name == "credgrid.errors"]
    assert warnings == [
        f"activity={activity} database unavailable on POST /ui/credentials/1/licenses: "
        "OperationalError (sqlite3.OperationalError)"
    ]
    (line,) = [
        r.getMessage()
        for r in caplog.records
        if r.name == "credgrid.access" and " path=/ui/credentials/1/licenses " in r.getMessage()
    ]
    assert line.startswith(f"activity={activity} method=POST ")
    assert line.endswith(" database=main user='alice'")


def test_a_save_reads_its_user_without_the_write_lock(
    app: Any, login: Any, client: Any, make_cred: Any, backend: str
) -> None:
    if backend != "sqlite":
        pytest.skip("SQLite's write lock")
    make_cred(1)
    login()
    statements: list[str] = []
    with app.app_context():
        engine = db.engines["main"]

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        response = client.post("/ui/credentials/1/licenses", data=SAVE)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert response.status_code == 303  # saved
    user_read = next(i for i, s in enumerate(statements) if "FROM staff_user" in s)
    assert statements[user_read - 1] == "BEGIN"  # not BEGIN IMMEDIATE
