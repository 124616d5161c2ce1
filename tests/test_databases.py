"""Database selection by name, isolation between databases, and the SQLite engine settings."""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from foundation_support import watch_filesystem
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from app.auth.models import ApiKey, StaffUser
from app.credentials.models import ProviderCred
from app.extensions import db
from app.history.models import LicenseChange
from app.licenses.models import ProviderCredLicense
from app.licenses.service import upsert_licenses
from app.tenancy import (
    SQLITE_JOURNAL_SIZE_LIMIT,
    UnknownDatabase,
    begin_write,
    engine_for,
    open_session,
    resolve_database,
    session_scope,
)
from tests.factories import license_item
from tests.helpers import write_lock_is_free

BATCH = "/provider-credentialing/{}/licenses-batch"


def count(session: Any, model: Any) -> int:
    return session.scalar(select(func.count()).select_from(model))


def problem_detail(response: Any) -> str:
    body = response.get_json()
    assert body["data"] is None
    assert body["error"]["status"] == response.status_code
    return body["error"]["detail"]


# ---------------------------------------------------------------------------------------------
# Isolation


def test_batch_write_to_main_is_absent_from_other(
    client: Any,
    make_cred: Callable[..., int],
    auth_headers: Callable[..., dict[str, str]],
    session_for: Callable[..., Any],
) -> None:
    make_cred(1, "main")
    make_cred(1, "other")
    response = client.put(BATCH.format(1), json=[license_item(7001)], headers=auth_headers("main"))
    assert response.status_code == 207
    assert response.get_json()["data"] == [
        {
            "id": [{"key": "providerCredLicense_Key", "value": "7001"}],
            "status": 201,
            "body": "Created",
        }
    ]
    with session_for("main") as session:
        row = session.get(ProviderCredLicense, 7001)
        assert (row.provider_cred_key, row.license_number, row.state) == (1, "N-7001", "NY")
        assert count(session, LicenseChange) > 0
    with session_for("other") as session:
        assert count(session, ProviderCredLicense) == 0
        assert count(session, LicenseChange) == 0


def test_same_key_in_two_databases_are_two_licenses(
    client: Any,
    make_cred: Callable[..., int],
    auth_headers: Callable[..., dict[str, str]],
    session_for: Callable[..., Any],
) -> None:
    make_cred(1, "main")
    make_cred(1, "other")
    for database, number in (("main", "MAIN-1"), ("other", "OTHER-1")):
        response = client.put(
            BATCH.format(1),
            json=[license_item(7001, license_Number=number)],
            headers=auth_headers(database),
        )
        assert response.status_code == 207
        assert response.get_json()["data"][0]["status"] == 201  # created, not updated
    for database, number in (("main", "MAIN-1"), ("other", "OTHER-1")):
        with session_for(database) as session:
            assert session.get(ProviderCredLicense, 7001).license_number == number


def test_provider_cred_of_main_is_unknown_in_other(
    client: Any,
    make_cred: Callable[..., int],
    auth_headers: Callable[..., dict[str, str]],
    session_for: Callable[..., Any],
) -> None:
    make_cred(5, "main")
    response = client.put(
        BATCH.format(5), json=[license_item(1, cred=5)], headers=auth_headers("other")
    )
    assert response.status_code == 404
    assert problem_detail(response) == "No provider credential 5 in this database."
    with session_for("main") as session:
        assert count(session, ProviderCredLicense) == 0


def test_service_write_is_isolated(
    make_cred: Callable[..., int], session_for: Callable[..., Any]
) -> None:
    make_cred(1, "main")
    with session_for("main") as session:
        outcomes = upsert_licenses(
            session, 1, [license_item(9)], actor="svc", activity_id="test-activity"
        )
        assert [o.status for o in outcomes] == [201]
    with session_for("main") as session:
        assert session.get(ProviderCredLicense, 9).update_user == "svc"
    with session_for("other") as session:
        assert count(session, ProviderCredLicense) == 0
        assert count(session, ProviderCred) == 0


def test_users_and_api_keys_are_per_database(
    make_user: Callable[..., str],
    make_api_key: Callable[..., str],
    session_for: Callable[..., Any],
) -> None:
    make_user("alice", database="main")
    make_api_key("main", label="integration")
    with session_for("other") as session:
        assert count(session, StaffUser) == 0
        assert count(session, ApiKey) == 0
    make_user("alice", database="other")  # the same name is free in the other database


def test_api_key_of_main_is_refused_on_other(
    client: Any,
    make_cred: Callable[..., int],
    auth_headers: Callable[..., dict[str, str]],
    session_for: Callable[..., Any],
) -> None:
    make_cred(1, "other")
    headers = auth_headers("other") | {"x-api-key": auth_headers("main")["x-api-key"]}
    response = client.put(BATCH.format(1), json=[license_item(1)], headers=headers)
    assert response.status_code == 401
    assert problem_detail(response) == "The API key is not valid for this database."
    with session_for("other") as session:
        assert count(session, ProviderCredLicense) == 0


def test_token_of_main_is_refused_on_other(
    client: Any,
    make_cred: Callable[..., int],
    auth_headers: Callable[..., dict[str, str]],
) -> None:
    make_cred(1, "other")
    headers = auth_headers("other") | {"Authorization": auth_headers("main")["Authorization"]}
    response = client.put(BATCH.format(1), json=[license_item(1)], headers=headers)
    assert response.status_code == 401
    assert problem_detail(response) == (
        "The bearer token is invalid, expired or for another database."
    )


def test_main_credentials_with_the_other_database_header_are_refused(
    client: Any,
    make_cred: Callable[..., int],
    auth_headers: Callable[..., dict[str, str]],
) -> None:
    make_cred(1, "other")
    headers = auth_headers("main") | {"vbasoftware-database": "other"}
    response = client.put(BATCH.format(1), json=[license_item(1)], headers=headers)
    assert response.status_code == 401


def test_login_of_main_user_is_refused_on_other(
    client: Any,
    make_user: Callable[..., str],
    make_api_key: Callable[..., str],
) -> None:
    import base64

    make_user("alice", "correct horse", database="main")
    basic = base64.b64encode(b"alice:correct horse").decode()
    headers = {"Authorization": f"Basic {basic}"}
    ok = client.post(
        "/user-authentication",
        headers=headers | {"vbasoftware-database": "main", "x-api-key": make_api_key("main")},
    )
    assert ok.status_code == 200
    refused = client.post(
        "/user-authentication",
        headers=headers | {"vbasoftware-database": "other", "x-api-key": make_api_key("other")},
    )
    assert refused.status_code == 401
    assert problem_detail(refused) == "Wrong username or password."


# ---------------------------------------------------------------------------------------------
# The vbasoftware-database header


@pytest.mark.parametrize("path", [BATCH.format(1), "/vbasoftware" + BATCH.format(1)])
def test_missing_database_header_is_400(
    client: Any, auth_headers: Callable[..., dict[str, str]], path: str
) -> None:
    headers = auth_headers("main")
    del headers["vbasoftware-database"]
    response = client.put(path, json=[license_item(1)], headers=headers)
    assert response.status_code == 400
    assert response.mimetype == "application/json"
    assert problem_detail(response) == "The vbasoftware-database header is required."


def test_empty_database_header_is_400(
    client: Any, auth_headers: Callable[..., dict[str, str]]
) -> None:
    headers = auth_headers("main") | {"vbasoftware-database": ""}
    response = client.put(BATCH.format(1), json=[license_item(1)], headers=headers)
    assert response.status_code == 400
    assert problem_detail(response) == "The vbasoftware-database header is required."


HOSTILE_NAMES = [
    "nope",
    "MAIN",
    "../../etc/passwd",
    "/etc/passwd",
    "main/../other",
    "./main",
    "main.db",
    "main%00",
    "sqlite:///etc/passwd",
    "sqlite:////tmp/credgrid-hostile.db",
    "postgresql://postgres@127.0.0.1:5432/postgres",
    "file:main?mode=memory",
    "demo",
    "None",
    "__class__",
    "DATABASES",
]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_unknown_or_hostile_database_name_is_400_and_touches_no_file(
    app: Any,
    client: Any,
    auth_headers: Callable[..., dict[str, str]],
    tmp_path: Path,
    name: str,
) -> None:
    headers = auth_headers("main") | {"vbasoftware-database": name}
    before = sorted(tmp_path.rglob("*"))
    with app.app_context():
        engines_before = dict(db.engines)
    with watch_filesystem() as events:
        response = client.put(BATCH.format(1), json=[license_item(1)], headers=headers)
    assert response.status_code == 400
    assert problem_detail(response) == "Unknown database in the vbasoftware-database header."
    assert name not in response.get_data(as_text=True)  # the name is not echoed back
    assert [e for e in events if e[0] == "sqlite3.connect"] == []
    assert [e for e in events if "passwd" in str(e[1]) or "hostile" in str(e[1])] == []
    assert sorted(tmp_path.rglob("*")) == before
    assert not Path("/tmp/credgrid-hostile.db").exists()
    with app.app_context():
        assert dict(db.engines) == engines_before


@pytest.mark.parametrize("name", ["main/../other", "../../etc/passwd", "nope"])
def test_login_with_hostile_database_name_is_400(client: Any, name: str) -> None:
    response = client.post(
        "/user-authentication",
        headers={"vbasoftware-database": name, "x-api-key": "cg_x", "Authorization": "Basic YTpi"},
    )
    assert response.status_code == 400
    assert problem_detail(response) == "Unknown database in the vbasoftware-database header."


def test_database_header_comes_before_authentication(client: Any) -> None:
    response = client.put(BATCH.format(1), json=[], headers={"vbasoftware-database": "nope"})
    assert response.status_code == 400


def test_resolve_database_is_a_pure_lookup(app: Any) -> None:
    with app.app_context():
        assert resolve_database("main") == "main"
        assert resolve_database("other") == "other"
        for name in (None, "", "nope", "../main", "main ", " main", "Main"):
            with pytest.raises(UnknownDatabase):
                resolve_database(name)
        with pytest.raises(UnknownDatabase):
            engine_for("../../etc/passwd")


# ---------------------------------------------------------------------------------------------
# SQLite engine settings and writers


@pytest.fixture
def sqlite_only(backend: str) -> None:
    if backend != "sqlite":
        pytest.skip("SQLite engine settings")


@pytest.mark.usefixtures("sqlite_only")
def test_sqlite_pragmas_are_applied_on_every_connection(app: Any) -> None:
    with app.app_context():
        engine = engine_for("main")
    expected = {
        "journal_mode": "wal",
        "synchronous": 1,  # NORMAL
        "foreign_keys": 1,
        "busy_timeout": app.config["SQLITE_BUSY_TIMEOUT_SECONDS"] * 1000,
        "journal_size_limit": SQLITE_JOURNAL_SIZE_LIMIT,
    }
    assert app.config["SQLITE_BUSY_TIMEOUT_SECONDS"] == 10
    connections = [engine.connect() for _ in range(2)]  # two pooled connections, both tuned
    try:
        for connection in connections:
            seen = {
                pragma: connection.exec_driver_sql(f"PRAGMA {pragma}").scalar()
                for pragma in expected
            }
            assert seen == expected
    finally:
        for connection in connections:
            connection.close()


@pytest.mark.usefixtures("sqlite_only")
def test_sqlite_enforces_foreign_keys(app: Any) -> None:
    with app.app_context():
        session = open_session("main")
    try:
        session.add(ProviderCredLicense(provider_cred_license_key=1, provider_cred_key=404))
        with pytest.raises(IntegrityError, match="FOREIGN KEY constraint failed"):
            session.flush()
    finally:
        session.rollback()
        session.close()


def sqlite_path(app: Any, name: str = "main") -> str:
    with app.app_context():
        database = engine_for(name).url.database
    assert database
    return database


@pytest.mark.usefixtures("sqlite_only")
def test_writer_takes_the_write_lock_at_begin(app: Any) -> None:
    path = sqlite_path(app)
    with app.app_context():
        reader, writer = open_session("main"), open_session("main")
    try:
        reader.execute(select(ProviderCred)).all()  # an ordinary read transaction
        assert reader.in_transaction()
        assert write_lock_is_free(path)
        begin_write(writer)  # no statement yet: BEGIN IMMEDIATE alone takes the lock
        assert not write_lock_is_free(path)
        writer.rollback()
        assert write_lock_is_free(path)
    finally:
        reader.close()
        writer.close()


@pytest.mark.usefixtures("sqlite_only")
def test_begin_write_emits_begin_immediate(app: Any) -> None:
    statements: list[str] = []
    with app.app_context():
        engine = engine_for("main")
        session = open_session("main")

    from sqlalchemy import event

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        begin_write(session)
        session.execute(text("SELECT 1"))
        session.commit()
        session.execute(text("SELECT 1"))
        session.commit()
    finally:
        event.remove(engine, "before_cursor_execute", record)
        session.close()
    assert statements == ["BEGIN IMMEDIATE", "SELECT 1", "BEGIN", "SELECT 1"]


def test_concurrent_writers_do_not_fail(
    app: Any, session_for: Callable[..., Any], backend: str
) -> None:
    """Two writers that read then write: the second waits for the first instead of failing.

    With a deferred BEGIN on SQLite both would read, then the second's write would fail with
    "database is locked" (its snapshot is stale), which no busy timeout can cure.
    """
    errors: list[BaseException] = []
    first_has_read = threading.Event()

    def writer(key: int, pause: float, signal: threading.Event | None) -> None:
        try:
            with app.app_context():
                session = open_session("main")
            try:
                begin_write(session)
                seen = session.scalar(select(func.count()).select_from(ProviderCred))
                if signal is not None:
                    signal.set()
                time.sleep(pause)
                session.add(
                    ProviderCred(
                        provider_cred_key=key,
                        provider_id=f"P{key}-saw-{seen}",
                        cred_type_key=1,
                        effective_date=datetime(2024, 1, 1),
                    )
                )
                session.commit()
            finally:
                session.close()
        except BaseException as exc:  # reported to the main thread below
            errors.append(exc)

    first = threading.Thread(target=writer, args=(1, 0.3, first_has_read))
    first.start()
    assert first_has_read.wait(5)
    second = threading.Thread(target=writer, args=(2, 0, None))
    second.start()
    first.join(10)
    second.join(10)
    assert errors == []
    with session_for("main") as session:
        ids = dict(
            session.execute(select(ProviderCred.provider_cred_key, ProviderCred.provider_id)).all()
        )
    if backend == "sqlite":
        # BEGIN IMMEDIATE waited for the first writer to commit, so the second saw its row.
        assert ids == {1: "P1-saw-0", 2: "P2-saw-1"}
    else:
        assert set(ids) == {1, 2}


def test_begin_write_inside_a_read_sessions_transaction(app: Any, backend: str) -> None:
    """A session not opened for writing: on SQLite its read transaction began with a deferred
    BEGIN, which cannot become a writer's (SQLAlchemy would only warn and go on without the
    lock), so it is refused; on PostgreSQL there is nothing to take up front."""
    with app.app_context():
        session = open_session("main")
    try:
        session.execute(select(ProviderCred)).all()
        if backend == "postgresql":
            begin_write(session)
            assert session.in_transaction()
            return
        with pytest.raises(RuntimeError) as excinfo:
            begin_write(session)
        assert str(excinfo.value).startswith("begin_write() must start the session's transaction")
        session.rollback()
        begin_write(session)
        begin_write(session)  # again inside the writer's own transaction: a no-op
        assert session.connection().get_execution_options()["credgrid_write"] is True
    finally:
        session.rollback()


def test_a_writers_session_reads_then_writes_in_one_transaction(
    app: Any, backend: str, make_cred: Callable, count_statements: Any
) -> None:
    """The same transaction shape on both engines: a session opened for writing begins as a
    writer (SQLite: BEGIN IMMEDIATE), may read first, and the engine writes in that transaction."""
    make_cred(1)
    with app.app_context():
        session = open_session("main", write=True)
    try:
        with count_statements() as counter:
            assert session.execute(select(ProviderCred.provider_cred_key)).scalars().all() == [1]
            outcomes = upsert_licenses(
                session, 1, [license_item(7)], actor="alice", activity_id="a"
            )
        assert [o.status for o in outcomes] == [201]
        begins = [s for s in counter.statements if s.startswith("BEGIN")]
        assert begins == (["BEGIN IMMEDIATE"] if backend == "sqlite" else [])
    finally:
        session.close()
    with app.app_context(), session_scope("main") as check:
        assert check.get(ProviderCredLicense, 7) is not None
        session.close()


SECRET_VALUE = "MD-SECRET-774411"
#: A statement that fails on both engines without the server quoting the value back.
FAILING_SELECT = "SELECT * FROM no_such_table WHERE license_number = :number"


def failing_statement_text(app: Any) -> str:
    with (
        app.app_context(),
        session_scope("main") as session,
        pytest.raises(DBAPIError) as failure,
    ):
        session.execute(text(FAILING_SELECT), {"number": SECRET_VALUE})
    return str(failure.value)


def test_bound_parameters_stay_out_of_logs_and_error_text(
    app: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """License numbers, hashes of API keys or passwords are bound parameters: SQLAlchemy's
    engine log (echo, or the ``sqlalchemy.engine`` logger at INFO) and its exceptions' text
    (logged with tracebacks) showed them."""
    with caplog.at_level(logging.INFO, logger="sqlalchemy.engine"):
        with app.app_context(), session_scope("main") as session:
            session.execute(text("SELECT :number AS n"), {"number": SECRET_VALUE}).all()
        message = failing_statement_text(app)
    assert "no_such_table" in message
    assert " AS n" in caplog.text  # the statement was logged
    assert SECRET_VALUE not in message
    assert SECRET_VALUE not in caplog.text


def test_a_debug_setting_shows_bound_parameters(fresh_app: Callable[..., Any]) -> None:
    assert SECRET_VALUE in failing_statement_text(fresh_app(DATABASE_SHOW_PARAMETERS=True))


#: A SHA-256 hash as an API key's or a refresh token's is stored.
SECRET_HASH = "5ec7e7" + "0" * 58


def duplicate_key_error_text(app: Any) -> str:
    """The text a log's traceback shows for a failed INSERT of an API key's hash that is
    already stored (the chained driver error included)."""
    with app.app_context(), session_scope("main", write=True) as session:
        session.add(ApiKey(label="first", key_hash=SECRET_HASH))
        session.commit()
        session.add(ApiKey(label="second", key_hash=SECRET_HASH))
        with pytest.raises(IntegrityError) as failure:
            session.commit()
    return "".join(traceback.format_exception(failure.value))


def test_values_the_server_quotes_back_stay_out_of_error_text(app: Any) -> None:
    """PostgreSQL quotes the value in a unique violation's DETAIL (``Key (key_hash)=(…)
    already exists``), which hide_parameters does not touch: the traceback of a failed INSERT
    of an API key's or refresh token's hash showed the hash."""
    text_logged = duplicate_key_error_text(app)
    assert "key_hash" in text_logged
    assert SECRET_HASH not in text_logged


def test_an_error_the_server_never_sent_keeps_its_text() -> None:
    """A driver error raised before any server answered (a refused connection) has no server
    message to keep: its text, the only account of what failed, stays whole (it was replaced
    by ``None`` if only the server's primary message were kept, whatever it was)."""
    import app.db_errors  # noqa: F401 (its listeners are on every engine)

    engine = create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none", hide_parameters=True)
    try:
        with pytest.raises(DBAPIError) as failure:
            engine.connect()
    finally:
        engine.dispose()
    assert failure.value.orig.diag.message_primary is None
    assert "127.0.0.1" in str(failure.value.orig)
    assert "127.0.0.1" in str(failure.value)


def test_the_debug_setting_shows_quoted_values(fresh_app: Callable[..., Any], backend: str) -> None:
    if backend == "sqlite":
        pytest.skip("SQLite quotes no value in its errors")
    text_logged = duplicate_key_error_text(fresh_app(DATABASE_SHOW_PARAMETERS=True))
    # the server's DETAIL itself: the bound parameters, shown too, also hold the hash
    assert f"Key (key_hash)=({SECRET_HASH}) already exists" in text_logged
