"""Statements on the DBAPI cursor (app/driver_cursor.py): still inside the connection's
transaction, still seen by its cursor events, driver errors still SQLAlchemy's."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from app import driver_cursor


@pytest.fixture
def engine() -> Any:
    engine = create_engine("sqlite://")
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT NOT NULL)")
    yield engine
    engine.dispose()


def test_rows_are_written_and_read_in_the_connections_transaction(engine: Engine) -> None:
    with engine.connect() as connection:
        driver_cursor.execute(
            connection, "INSERT INTO t VALUES (?, ?)", [(1, "a"), (2, "b")], many=True
        )
        rows = driver_cursor.execute(connection, "SELECT k, v FROM t ORDER BY k", fetch=True)
        assert [tuple(r) for r in rows] == [(1, "a"), (2, "b")]
        connection.rollback()
        assert connection.exec_driver_sql("SELECT count(*) FROM t").scalar() == 0


def test_cursor_listeners_see_each_statement_and_may_rewrite_it(engine: Engine) -> None:
    seen: list[tuple[str, str, Any, bool]] = []

    def before(_conn: Any, _cursor: Any, sql: str, parameters: Any, _ctx: Any, many: bool) -> Any:
        if sql != "BEGIN":  # the transaction's own (app.tenancy begins SQLite transactions)
            seen.append(("before", sql, parameters, many))
        return sql.replace("'old'", "'new'"), parameters

    def after(_conn: Any, _cursor: Any, sql: str, parameters: Any, _ctx: Any, many: bool) -> None:
        if sql != "BEGIN":
            seen.append(("after", sql, parameters, many))

    event.listen(engine, "before_cursor_execute", before, retval=True)
    event.listen(engine, "after_cursor_execute", after)
    with engine.begin() as connection:
        driver_cursor.execute(connection, "INSERT INTO t VALUES (?, 'old')", (1,))
        stored = connection.exec_driver_sql("SELECT v FROM t").scalar()
    assert stored == "new"
    assert seen[:2] == [
        ("before", "INSERT INTO t VALUES (?, 'old')", (1,), False),
        ("after", "INSERT INTO t VALUES (?, 'new')", (1,), False),
    ]


def test_a_driver_error_is_sqlalchemys_own(engine: Engine) -> None:
    with engine.connect() as connection:
        driver_cursor.execute(connection, "INSERT INTO t VALUES (1, 'a')")
        with pytest.raises(IntegrityError) as raised:
            driver_cursor.execute(
                connection, "INSERT INTO t VALUES (?, ?)", [(2, "b"), (1, "again")], many=True
            )
        assert "UNIQUE constraint failed" in str(raised.value.orig)
        assert raised.value.statement == "INSERT INTO t VALUES (?, ?)"
