"""A request's authentication read happens outside the transaction its writes take, on both
engines (``tenancy.first_read``): the write lock is taken when the request writes."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest
from sqlalchemy import literal, select
from sqlalchemy.engine import make_url

from app.tenancy import first_read, open_session


def test_the_first_read_of_a_writer_leaves_no_transaction_open(app: Any) -> None:
    with app.app_context():
        session = open_session("main", write=True)
        try:
            assert first_read(session, select(literal(7)), {}) == [(7,)]
            if session.get_bind().dialect.name == "sqlite":
                assert not session.in_transaction()
            else:
                from app import pg_pipeline

                driver = pg_pipeline.driver_of(session.connection())
                assert driver.info.transaction_status == 0  # IDLE: no BEGIN was sent
        finally:
            session.close()


def test_sqlite_takes_no_write_lock_for_the_first_read(
    app: Any, backend: str, database_urls: dict[str, str]
) -> None:
    if backend != "sqlite":
        pytest.skip("SQLite's write lock (PostgreSQL: the test above)")
    path = make_url(database_urls["main"]).database
    with app.app_context():
        session = open_session("main", write=True)
        try:
            first_read(session, select(literal(1)), {})
            other = sqlite3.connect(path, timeout=0, isolation_level=None)
            try:
                other.execute("BEGIN IMMEDIATE")  # "database is locked" if the read held it
                other.execute("ROLLBACK")
            finally:
                other.close()
            # The session's next transaction is a writer's, as before.
            session.connection()
            other = sqlite3.connect(path, timeout=0, isolation_level=None)
            try:
                try:
                    other.execute("BEGIN IMMEDIATE")
                    raise AssertionError("the writer's transaction should hold the lock")
                except sqlite3.OperationalError as error:
                    assert "locked" in str(error)
            finally:
                other.close()
        finally:
            session.close()


def test_a_read_inside_an_open_transaction_stays_in_it(app: Any) -> None:
    with app.app_context():
        session = open_session("main", write=True)
        try:
            session.connection()
            assert first_read(session, select(literal(3)), {}) == [(3,)]
            assert session.in_transaction()
        finally:
            session.close()
