"""An unavailable database is a whole-request 503 with Retry-After; timeouts; quiet logs.

In process, on both engines. ``tests/test_faults.py`` does the same against gunicorn.
"""

from __future__ import annotations

import gc
import logging
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, event, func, select, text
from sqlalchemy.exc import OperationalError

from app import create_app
from app.auth.models import StaffUser
from app.auth.tokens import mint_token
from app.errors import tracebacks
from app.history.models import LicenseChange
from app.licenses.models import ProviderCredLicense
from app.tenancy import close_request_sessions, engine_for
from tests.api_support import seed_editor_and_cred
from tests.conftest import TEST_SECRET
from tests.factories import license_item
from tests.fault_support import (
    app_losing_a_commit,
    hanging_history_writes,
    held_write_lock,
    immutable_file,
    sqlite_file,
)
from tests.helpers import BATCH_URL, dispose_engines, results
from tests.test_healthz import check_envelope, closed_port

FAST_TIMEOUTS = {
    "DATABASE_STATEMENT_TIMEOUT_SECONDS": 1,
    "DATABASE_LOCK_TIMEOUT_SECONDS": 1,
    "SQLITE_BUSY_TIMEOUT_SECONDS": 1,
    "DATABASE_RETRY_AFTER_SECONDS": 7,
}


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    return app_config | FAST_TIMEOUTS


def check_unavailable(response: Any) -> None:
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "7"  # FLASK_DATABASE_RETRY_AFTER_SECONDS, as set
    body = check_envelope(response)
    assert body["data"] is None
    assert body["error"]["status"] == 503
    assert body["error"]["detail"] == (
        "The database is unavailable; nothing was changed by this request. Try again in 7 seconds."
    )


def license_count(session_for: Any) -> tuple[int, int]:
    with session_for() as session:
        return (
            session.scalar(select(func.count()).select_from(ProviderCredLicense)),
            session.scalar(select(func.count()).select_from(LicenseChange)),
        )


def unchecked_api_headers() -> dict[str, str]:
    """A valid token and a key that only the database could refuse."""
    alice = StaffUser(id=1, username="alice", token_stamp="stamp")  # never stored: no database
    token = mint_token(TEST_SECRET, alice, "main", 3600, "id")
    return {"vbasoftware-database": "main", "x-api-key": "k", "Authorization": f"Bearer {token}"}


@pytest.fixture
def put(client: Any, auth_headers: Any, make_cred: Any) -> Any:
    make_cred(1)
    headers = auth_headers()

    def _put(items: list[Any], **extra: str) -> Any:
        return client.put(BATCH_URL.format(cred=1), json=items, headers=headers | extra)

    return _put


def test_refused_connections_are_503_for_api_and_ui(
    app_config: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    url = f"postgresql://postgres@127.0.0.1:{closed_port()}/nowhere"
    application = create_app(app_config | {"DATABASES": {"main": url}})
    client = application.test_client()
    try:
        headers = unchecked_api_headers()
        with caplog.at_level(logging.WARNING, logger="credgrid.errors"):
            for _ in range(3):
                check_unavailable(
                    client.put(BATCH_URL.format(cred=1), json=[license_item(1)], headers=headers)
                )
            check_unavailable(client.get("/provider-credentialing/1/licenses", headers=headers))
        page = client.post("/ui/login", data={"username": "a", "password": "b", "database": "main"})
    finally:
        dispose_engines(application)
    lines = [r for r in caplog.records if r.name == "credgrid.errors"]
    assert len(lines) == 5  # one line per failed request (UI too), no traceback
    assert all(r.exc_info is None and "OperationalError" in r.getMessage() for r in lines)
    assert all("activity=" in r.getMessage() for r in lines)
    assert page.status_code == 503
    assert page.headers["Retry-After"] == "7"
    assert page.mimetype == "text/html"


def test_statement_timeout_or_busy_timeout_is_503_and_nothing_is_written(
    put: Any, session_for: Any, app: Any
) -> None:
    """A write that hangs past the timeout: 503 in about that time, not a 207 of 500s."""
    with app.app_context():
        url = engine_for("main").url.render_as_string(hide_password=False)
    with hanging_history_writes(url, seconds=3):
        if sqlite_file(url) is not None:
            pytest.skip("SQLite has no statement timeout (the busy timeout is tested below)")
        started = time.monotonic()
        response = put([license_item(1), license_item(2)])
        elapsed = time.monotonic() - started
    check_unavailable(response)
    assert elapsed < 2.5
    assert license_count(session_for) == (0, 0)
    assert results(put([license_item(1)])) == [("1", 201, "Created")]  # recovered


@pytest.mark.parametrize(
    ("sqlstate", "kept"),
    [
        ("57014", True),  # statement timeout
        ("55P03", True),  # lock timeout
        ("40P01", True),  # deadlock: the transaction ended, the connection did not
        ("08006", False),  # connection failure
    ],
)
def test_a_timeout_or_deadlock_keeps_its_postgresql_connection(
    app: Any, backend: str, sqlstate: str, kept: bool
) -> None:
    """A statement or lock timeout or a deadlock says nothing bad of the connection: it stays
    in the pool (a new connection is a round trip or more); a failed connection is dropped."""
    if backend != "postgresql":
        pytest.skip("PostgreSQL's error codes")
    with app.app_context():
        engine = engine_for("main")
    raise_it = f"DO $$ BEGIN RAISE EXCEPTION 'raised' USING ERRCODE = '{sqlstate}'; END $$"
    with engine.connect() as connection, pytest.raises(OperationalError) as failure:
        connection.execute(text(raise_it))
    assert failure.value.orig.sqlstate == sqlstate
    assert failure.value.connection_invalidated is not kept


def test_held_lock_is_503_within_the_lock_timeout_then_recovers(
    put: Any, session_for: Any, app: Any, client: Any
) -> None:
    with app.app_context():
        url = engine_for("main").url.render_as_string(hide_password=False)
    with held_write_lock(url):
        started = time.monotonic()
        response = put([license_item(1)], **{"Idempotency-Key": "locked-1"})
        elapsed = time.monotonic() - started
        started = time.monotonic()
        health = client.get("/healthz")
        health_elapsed = time.monotonic() - started
    check_unavailable(response)
    assert 0.9 < elapsed < 3
    assert health.status_code == 503
    state = health.get_json()["data"]["databases"]["main"]
    assert state in {"OperationalError: unavailable", "LockNotAvailable: unavailable"}
    assert health_elapsed < 1
    assert license_count(session_for) == (0, 0)
    assert results(put([license_item(1)], **{"Idempotency-Key": "locked-1"})) == [
        ("1", 201, "Created")
    ]
    assert client.get("/healthz").status_code == 200


def test_read_only_sqlite_is_503_and_recovers_without_restart(
    put: Any, session_for: Any, app: Any, client: Any, backend: str
) -> None:
    if backend != "sqlite":
        pytest.skip("SQLite file fault")
    with app.app_context():
        path = sqlite_file(str(engine_for("main").url))
        engine_for("main").dispose()  # the next connections are opened while read-only
    assert path is not None
    with immutable_file(path):
        with pytest.raises(OperationalError, match="readonly"), app.app_context():
            engine_for("main").connect()
        check_unavailable(put([license_item(1), license_item(2)]))
        check_unavailable(put([license_item(1)], **{"Idempotency-Key": "ro-1"}))
        health = client.get("/healthz")
        assert health.status_code == 503
        assert health.get_json()["data"]["databases"]["main"] == "OperationalError: unavailable"
    assert license_count(session_for) == (0, 0)
    assert results(put([license_item(1)], **{"Idempotency-Key": "ro-1"})) == [("1", 201, "Created")]
    assert client.get("/healthz").status_code == 200


@contextmanager
def sqlite_size_cap(app: Any, pages_left: int) -> Iterator[None]:
    """The main SQLite database's new connections may grow it by ``pages_left`` pages only
    (``max_page_count``): a larger write fails mid-transaction with ``SQLITE_FULL``, its
    transaction left open."""
    with app.app_context():
        engine = engine_for("main")
    engine.dispose()

    def cap(dbapi_connection: Any, _record: Any) -> None:
        pages = dbapi_connection.execute("PRAGMA page_count").fetchone()[0]
        dbapi_connection.execute(f"PRAGMA max_page_count = {pages + pages_left}")

    event.listen(engine, "connect", cap)
    try:
        yield
    finally:
        event.remove(engine, "connect", cap)
        engine.dispose()


def test_a_sqlite_write_that_fails_midway_leaves_no_lock_behind(
    app: Any, put: Any, session_for: Any, backend: str, database_urls: dict[str, str]
) -> None:
    """A batch that fills the database up to its size cap fails holding SQLite's write lock,
    which SQLite does not give up by itself (as it does after a full disk). The connection is
    dropped (``app.db_errors``), but SQLAlchemy leaves a dropped connection's cursor open, and
    SQLite closes a connection with a statement still open only once the statement is freed:
    until then (the garbage collector, in a worker that tunes it down, or a log record that
    keeps the traceback) the lock stayed held, and every writer of every worker waited out the
    busy timeout and answered 503; the claim of the failed request's Idempotency-Key could not
    be released either (its retry: 409). The collector is off here, as it may be for a long
    while in a worker."""
    if backend != "sqlite":
        pytest.skip("SQLite's write lock")
    path = sqlite_file(database_urls["main"])
    assert path is not None
    items = [license_item(k) for k in range(1, 1001)]
    gc.disable()
    try:
        with sqlite_size_cap(app, pages_left=20):
            check_unavailable(put(items, **{"Idempotency-Key": "full-1"}))
        other = sqlite3.connect(path, timeout=0, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")  # "database is locked" while the lock is held
            other.execute("ROLLBACK")
        finally:
            other.close()
        assert license_count(session_for) == (0, 0)
        retry = put(items, **{"Idempotency-Key": "full-1"})  # released: runs afresh
    finally:
        gc.enable()
    assert {status for _, status, _ in results(retry)} == {201}
    assert license_count(session_for) == (1000, 1000)


def test_sqlite_cannot_open_is_503_and_recovers(
    app_config: dict[str, Any], tmp_path: Path, backend: str, database_urls: dict[str, str]
) -> None:
    if backend != "sqlite":
        pytest.skip("SQLite file fault")
    target = tmp_path / "later" / "main.db"
    application = create_app(app_config | {"DATABASES": {"main": f"sqlite:///{target}"}})
    client = application.test_client()
    try:
        check_unavailable(
            client.get("/provider-credentialing/1/licenses", headers=unchecked_api_headers())
        )
        assert client.get("/healthz").status_code == 503
        target.parent.mkdir()
        source = sqlite_file(database_urls["main"])
        assert source is not None
        target.write_bytes(Path(source).read_bytes())
        assert client.get("/healthz").status_code == 200
    finally:
        dispose_engines(application)


def test_timeouts_are_set_on_every_postgresql_connection(app: Any, backend: str) -> None:
    if backend != "postgresql":
        pytest.skip("PostgreSQL settings")
    with app.app_context(), engine_for("main").connect() as connection:
        settings = {
            name: connection.execute(text(f"SHOW {name}")).scalar()
            for name in (
                "statement_timeout",
                "lock_timeout",
                "idle_in_transaction_session_timeout",
                "search_path",
            )
        }
        client = connection.connection.driver_connection.info.get_parameters()
    assert settings["statement_timeout"] == "1s"
    assert settings["lock_timeout"] == "1s"
    assert settings["idle_in_transaction_session_timeout"] == "10s"
    assert settings["search_path"] == "credgrid_test_main"  # the URL's own options are kept
    assert client["keepalives"] == "1" and client["keepalives_idle"] == "30"


def test_sqlite_busy_timeout_is_configurable(app: Any, backend: str) -> None:
    if backend != "sqlite":
        pytest.skip("SQLite settings")
    with app.app_context(), engine_for("main").connect() as connection:
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 1000


def test_teardown_never_raises(app: Any) -> None:
    class DeadSession:
        invalidated = False

        def close(self) -> None:
            raise ConnectionResetError("the connection is gone")

        def invalidate(self) -> None:
            self.invalidated = True

    dead = DeadSession()
    with app.test_request_context("/"):
        from flask import g

        g.db_sessions = {"main": dead}
        close_request_sessions()
    assert dead.invalidated


def test_unexpected_errors_log_one_traceback_per_class_per_minute(
    app: Any, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    tracebacks.reset()

    @app.get("/boom")
    def boom() -> str:
        raise KeyError("boom")

    client = app.test_client()
    with caplog.at_level(logging.ERROR, logger="credgrid.errors"):
        for _ in range(5):
            assert client.get("/boom").status_code == 500
    lines = [r for r in caplog.records if r.name == "credgrid.errors"]
    assert len(lines) == 5
    assert sum(r.exc_info is not None for r in lines) == 1
    monkeypatch.setattr(tracebacks, "interval", 0.0)  # a minute later
    with caplog.at_level(logging.ERROR, logger="credgrid.errors"):
        client.get("/boom")
    assert caplog.records[-1].exc_info is not None


def test_concurrent_requests_during_a_held_lock_all_answer_503(
    put: Any, app: Any, session_for: Any
) -> None:
    """Several requests stuck behind one lock each end at the timeout (no pile-up)."""
    with app.app_context():
        url = engine_for("main").url.render_as_string(hide_password=False)
    answers: list[int] = []
    with held_write_lock(url):
        threads = [
            threading.Thread(target=lambda: answers.append(put([license_item(1)]).status_code))
            for _ in range(2)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
    assert answers == [503, 503]
    assert license_count(session_for) == (0, 0)


def test_a_table_the_database_lacks_keeps_the_pooled_connections(app: Any, backend: str) -> None:
    """SQLite reports "no such table" as an OperationalError, the class of a database gone bad;
    it says nothing of the connection, which stays pooled (on SQLite, with every other one).
    PostgreSQL's is a ProgrammingError, which never counted as unavailable."""
    if backend != "sqlite":
        pytest.skip("SQLite words a missing table as an OperationalError")
    with app.app_context():
        engine = engine_for("main")
        with engine.connect() as connection:
            before = connection.connection.driver_connection
        with pytest.raises(Exception, match="no_such_table"), engine.connect() as connection:
            connection.execute(text("SELECT 1 FROM no_such_table"))
        with engine.connect() as connection:
            assert connection.connection.driver_connection is before


def test_a_commit_whose_answer_is_lost_is_not_said_to_have_changed_nothing(
    app_config: dict[str, Any], backend: str, database_urls: dict[str, str], tmp_path: Path
) -> None:
    """The batch's COMMIT reached PostgreSQL, which committed, and then the connection was
    lost before the answer came back. The 503 said "nothing was changed by this request",
    though every license was written; it must say they may have been saved. A retry with the
    same Idempotency-Key then writes nothing twice."""
    if backend != "postgresql":
        pytest.skip("PostgreSQL's connection")
    with app_losing_a_commit(app_config, database_urls["main"]) as (application, proxy):
        headers = seed_editor_and_cred(application, "main", "editor") | {"Idempotency-Key": "k"}
        client = application.test_client()
        items = [license_item(k) for k in range(1, 1001)]
        proxy.armed = True
        lost = client.put(BATCH_URL.format(cred=1), json=items, headers=headers)
        assert proxy.cut
        assert lost.status_code == 503 and lost.headers["Retry-After"] == "7"
        assert check_envelope(lost)["error"]["detail"] == (
            "The connection to the database was lost while this request's changes were being "
            "committed, so they may have been saved: read them back, or send the request again "
            "in 7 seconds (a batch sent again stores the same values, not a second copy)."
        )
        counted = stored_counts(database_urls["main"])
        assert counted == (1000, 1000)  # PostgreSQL did commit
        retry = client.put(BATCH_URL.format(cred=1), json=items, headers=headers)
        assert {status for _, status, _ in results(retry)} == {200}
        assert stored_counts(database_urls["main"]) == counted


def test_a_delete_whose_commit_answer_was_lost_says_it_may_have_been_saved(
    app_config: dict[str, Any], backend: str, database_urls: dict[str, str]
) -> None:
    """A write committed by the session (a single license's DELETE; not the batch's pipeline,
    which sends its COMMIT itself) whose connection is lost after the COMMIT left: PostgreSQL
    deleted the license, and the answer said nothing was changed."""
    if backend != "postgresql":
        pytest.skip("PostgreSQL's connection")
    with app_losing_a_commit(app_config, database_urls["main"]) as (application, proxy):
        headers = seed_editor_and_cred(application, "main", "editor")
        client = application.test_client()
        made = client.put(BATCH_URL.format(cred=1), json=[license_item(10)], headers=headers)
        assert [status for _, status, _ in results(made)] == [201]
        proxy.armed = True
        lost = client.delete("/provider-credentialing/1/licenses/10", headers=headers)
        assert proxy.cut
        assert lost.status_code == 503
        assert "so they may have been saved" in check_envelope(lost)["error"]["detail"]
        assert stored_counts(database_urls["main"]) == (0, 2)  # PostgreSQL did delete it


def stored_counts(url: str) -> tuple[int, int]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return (
                connection.scalar(select(func.count()).select_from(ProviderCredLicense)),
                connection.scalar(select(func.count()).select_from(LicenseChange)),
            )
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    "statement",
    ["SELECT b FROM t", "SELECT 1 FROM u", "INSERT INTO t (b) VALUES (1)"],
    ids=["no such column", "no such table", "has no column named"],
)
def test_each_wording_of_a_missing_sqlite_schema_object_is_one(statement: str) -> None:
    """An INSERT names a missing column in words of its own ("table t has no column named
    b"): a schema behind the code too (503 naming it), not a database gone bad."""
    from app.db_errors import is_missing_schema_object

    connection = sqlite3.connect(":memory:")
    connection.execute("CREATE TABLE t (a INTEGER)")
    with pytest.raises(sqlite3.OperationalError) as raised:
        connection.execute(statement)
    connection.close()
    assert is_missing_schema_object(raised.value), str(raised.value)


@pytest.mark.parametrize(
    "code",
    [
        sqlite3.SQLITE_BUSY,
        sqlite3.SQLITE_BUSY_RECOVERY,
        sqlite3.SQLITE_BUSY_SNAPSHOT,
        sqlite3.SQLITE_BUSY_TIMEOUT,
    ],
)
def test_sqlites_extended_busy_codes_are_busy(code: int) -> None:
    """SQLite's extended result codes keep the primary code in their low byte."""
    from app.db_errors import is_sqlite_busy

    error = sqlite3.OperationalError("database is locked")
    error.sqlite_errorcode = code
    assert is_sqlite_busy(error)
    error.sqlite_errorcode = sqlite3.SQLITE_LOCKED
    assert not is_sqlite_busy(error)
