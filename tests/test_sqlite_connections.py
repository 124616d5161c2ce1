"""How requests use SQLite connections: the auth lookup needs no transaction, and the pool
hands out the connection used last (whose page cache is still valid)."""

from __future__ import annotations

from typing import Any

import pytest

from app.api.requests import _API_KEY_AND_ROLE
from app.tenancy import engine_for, read_one_row, session_scope


@pytest.fixture
def sqlite_only(backend: str) -> None:
    if backend != "sqlite":
        pytest.skip("SQLite connection handling")


def test_the_auth_lookup_is_one_statement_without_begin_or_rollback(
    app: Any, sqlite_only: None, count_statements: Any
) -> None:
    with app.app_context(), session_scope("main") as session:
        with count_statements() as counter:
            row = read_one_row(session, _API_KEY_AND_ROLE, {"key_hash": "x", "username": "y"})
        assert tuple(row) == (None, None)
        assert not session.in_transaction()  # the session's own work starts clean
    assert len(counter.statements) == 1 and counter.statements[0].startswith("SELECT")


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
