"""How requests use SQLite connections: the auth lookup needs no transaction, and the pool
hands out the connection used last (whose page cache is still valid)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import bindparam, event, literal_column, select
from sqlalchemy.exc import MultipleResultsFound, NoResultFound, OperationalError

from app.api.requests import _API_KEY_AND_ROLE
from app.auth.models import ApiKey
from app.tenancy import engine_for, read_one_row, session_scope


@pytest.fixture
def sqlite_only(backend: str) -> None:
    if backend != "sqlite":
        pytest.skip("SQLite connection handling")


def traced(engine: Any) -> list[str]:
    """Every statement SQLite itself runs on ``engine``'s connections from now on (its trace
    callback sees what SQLAlchemy's events cannot: DBAPI-level work, implicit ROLLBACKs)."""
    seen: list[str] = []
    engine.dispose()  # new connections, each traced from the start

    @event.listens_for(engine, "connect")
    def _trace(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.set_trace_callback(seen.append)

    return seen


def test_the_auth_lookup_is_one_statement_without_begin_or_rollback(
    app: Any, sqlite_only: None, count_statements: Any
) -> None:
    with app.app_context(), session_scope("main") as session:
        seen = traced(engine_for("main"))
        session.connection().exec_driver_sql("SELECT 1").all()  # open the pool's connection
        session.commit()
        seen.clear()
        with count_statements() as counter:
            row = read_one_row(session, _API_KEY_AND_ROLE, {"key_hash": "x", "username": "y"})
        assert tuple(row) == (None, None)
        assert not session.in_transaction()  # the session's own work starts clean
    assert len(seen) == 1 and seen[0].startswith("SELECT"), seen
    assert counter.count == 0  # on the DBAPI connection directly, not through SQLAlchemy


def test_a_lookup_whose_columns_need_conversion_goes_through_sqlalchemy(
    app: Any, sqlite_only: None, count_statements: Any
) -> None:
    """Dates are stored as text on SQLite: such a row is read through SQLAlchemy's result
    processing (and its events see the statement), never returned raw."""
    statement = select(ApiKey.created_at).where(ApiKey.key_hash == bindparam("key_hash"))
    with app.app_context(), session_scope("main") as session:
        session.add(ApiKey(label="x", key_hash="h", created_at=datetime(2024, 1, 2, 3, 4, 5)))
        session.commit()
        with count_statements() as counter:
            (created,) = read_one_row(session, statement, {"key_hash": "h"})
    assert created == datetime(2024, 1, 2, 3, 4, 5)
    assert len(counter.statements) == 1


def test_no_row_or_several_rows_is_an_error(app: Any, sqlite_only: None) -> None:
    statement = select(literal_column("1")).where(bindparam("flag") == 1)
    with app.app_context(), session_scope("main") as session:
        with pytest.raises(NoResultFound):
            read_one_row(session, statement, {"flag": 0})
        several = select(ApiKey.id).where(ApiKey.key_hash != bindparam("key_hash"))
        session.add_all([ApiKey(label=f"k{i}", key_hash=f"h{i}") for i in range(2)])
        session.commit()
        with pytest.raises(MultipleResultsFound):
            read_one_row(session, several, {"key_hash": ""})


def test_a_batch_request_begins_only_its_write_transaction(
    client: Any, auth_headers: Any, make_cred: Any, sqlite_only: None, count_statements: Any
) -> None:
    make_cred(1)
    headers = auth_headers()
    with count_statements() as counter:
        response = client.put(
            "/provider-credentialing/1/licenses-batch",
            json=[{"providerCredLicense_Key": 1, "providerCred_Key": 1}],
            headers=headers,
        )
    assert response.status_code == 207
    begins = [s for s in counter.statements if s.startswith("BEGIN")]
    assert begins == ["BEGIN IMMEDIATE"], counter.statements


def test_the_pool_hands_out_the_connection_returned_last(app: Any, sqlite_only: None) -> None:
    with app.app_context():
        engine = engine_for("main")
    first, second = engine.connect(), engine.connect()
    first_driver = first.connection.driver_connection
    second_driver = second.connection.driver_connection
    second.close()
    first.close()  # returned last
    with engine.connect() as again:
        assert again.connection.driver_connection is first_driver
    assert first_driver is not second_driver


@pytest.mark.parametrize(
    "statement",
    [
        select(ApiKey.id).where(ApiKey.id.in_([1, 2])),  # an expanding IN: rendered at execution
        select(ApiKey.id).where(ApiKey.id == bindparam("k", callable_=lambda: 1)),
    ],
    ids=["expanding IN", "callable default"],
)
def test_statements_rendered_at_execution_go_through_sqlalchemy(
    app: Any, sqlite_only: None, statement: Any
) -> None:
    with app.app_context(), session_scope("main") as session:
        session.add(ApiKey(label="one", key_hash="h1"))
        session.commit()
        (found,) = read_one_row(session, statement, {})
    assert found == 1


def test_a_driver_error_on_the_direct_read_is_sqlalchemys(app: Any, sqlite_only: None) -> None:
    statement = select(literal_column("x")).select_from(ApiKey.__table__)  # no such column
    with app.app_context(), session_scope("main") as session, pytest.raises(OperationalError):
        read_one_row(session, statement, {})
