"""PostgreSQL's pipelined statements and the driver's transaction mode (``app.pg_pipeline``),
and the pool's check of idle connections without a round trip (``app.db_errors``)."""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg.pq import TransactionStatus
from sqlalchemy import Engine, create_engine, literal, select, text
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.pool import NullPool

from app import pg_pipeline


@pytest.fixture
def engine(backend: str, database_urls: dict[str, str]) -> Iterator[Engine]:
    if backend != "postgresql":
        pytest.skip("psycopg's pipeline mode")
    import app.db_errors  # noqa: F401 (its pool listeners)

    engine = create_engine(database_urls["main"], pool_size=1, max_overflow=0)
    try:
        yield engine
    finally:
        engine.dispose()


def status(connection: Any) -> TransactionStatus:
    return pg_pipeline.driver_of(connection).info.transaction_status


def backend_pid(connection: Any) -> int:
    return int(connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one())


def test_steps_run_together_and_answer_rows_by_name(engine: Engine) -> None:
    with engine.connect() as connection:
        rows = pg_pipeline.run(
            connection,
            [
                (select(literal(1).label("a")), {}),
                (text("SELECT CAST(:x AS integer) + 1 AS b").bindparams(x=41), {}),
            ],
        )
    assert rows == [[{"a": 1}], [{"b": 42}]]


def test_each_step_is_on_the_server_before_the_next_is_built(
    engine: Engine, database_urls: dict[str, str]
) -> None:
    """Steps taken from a generator are sent one by one: the server works on a step while
    the generator builds the next (a batch hashes its history while its rows are written)."""
    lock = 715517
    seen_by_the_server: list[bool] = []
    observer = create_engine(database_urls["main"], poolclass=NullPool)

    def held_by(other: Any, pid: int) -> bool:
        query = text(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = :lock "
            "AND pid = :pid AND granted"
        )
        for _ in range(60):  # the server takes it as soon as the statement arrives
            if other.execute(query, {"lock": lock, "pid": pid}).scalar_one():
                return True
            time.sleep(0.05)
        return False

    with engine.connect() as connection:
        pid = backend_pid(connection)

        def steps() -> Iterator[pg_pipeline.Step]:
            yield text("SELECT pg_advisory_xact_lock(:lock) AS locked"), {"lock": lock}
            with observer.connect() as other:
                seen_by_the_server.append(held_by(other, pid))
            yield select(literal(2).label("b")), {}

        rows = pg_pipeline.run(connection, steps())
        connection.rollback()
    observer.dispose()
    assert rows == [[{"locked": ""}], [{"b": 2}]]
    assert seen_by_the_server == [True]


def test_outside_a_transaction_a_failing_generator_of_steps_sends_nothing(
    engine: Engine,
) -> None:
    """In autocommit mode the pipeline's end would commit whatever was sent before a step
    failed to build, so there the steps are all built before any is sent."""
    with engine.connect() as setup:
        setup.exec_driver_sql("DROP TABLE IF EXISTS pipeline_probe")
        setup.exec_driver_sql("CREATE TABLE pipeline_probe (n integer)")
        setup.commit()

    def steps() -> Iterator[pg_pipeline.Step]:
        yield text("INSERT INTO pipeline_probe VALUES (:n)"), {"n": 1}
        raise RuntimeError("the second step could not be built")

    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            assert pg_pipeline.driver_of(connection).autocommit
            with pytest.raises(RuntimeError, match="could not be built"):
                pg_pipeline.run(connection, steps())
        with engine.connect() as check:
            assert check.exec_driver_sql("SELECT count(*) FROM pipeline_probe").scalar() == 0
    finally:
        with engine.connect() as cleanup:
            cleanup.exec_driver_sql("DROP TABLE pipeline_probe")
            cleanup.commit()


def test_an_explicit_transaction_commits_with_its_last_pipeline(engine: Engine) -> None:
    with engine.connect() as setup:
        setup.exec_driver_sql("DROP TABLE IF EXISTS pipeline_probe")
        setup.exec_driver_sql("CREATE TABLE pipeline_probe (n integer)")
        setup.commit()
    insert = text("INSERT INTO pipeline_probe VALUES (:n)")
    try:
        with engine.connect() as connection:
            with pg_pipeline.explicit_transaction(connection) as must_begin:
                assert must_begin
                pg_pipeline.run(connection, [(insert, {"n": 1})], begin=True)
                assert status(connection) == TransactionStatus.INTRANS
                pg_pipeline.run(connection, [(insert, {"n": 2})], commit=True)
                assert status(connection) == TransactionStatus.IDLE
            assert pg_pipeline.driver_of(connection).autocommit is False
            connection.rollback()  # SQLAlchemy's own transaction: nothing left to undo
        with engine.connect() as check:
            assert check.exec_driver_sql("SELECT n FROM pipeline_probe ORDER BY n").all() == [
                (1,),
                (2,),
            ]
    finally:
        with engine.connect() as cleanup:
            cleanup.exec_driver_sql("DROP TABLE pipeline_probe")
            cleanup.commit()


def test_a_failed_statement_skips_the_commit_and_the_transaction_is_rolled_back(
    engine: Engine,
) -> None:
    with engine.connect() as connection:
        with pytest.raises(DataError), pg_pipeline.explicit_transaction(connection):
            pg_pipeline.run(connection, [(text("SELECT 1"), {})], begin=True)
            pg_pipeline.run(connection, [(text("SELECT CAST('x' AS integer)"), {})], commit=True)
        driver = pg_pipeline.driver_of(connection)
        assert (driver.autocommit, status(connection)) == (False, TransactionStatus.IDLE)
        assert not connection.invalidated  # a data error: the connection is still good
        assert connection.exec_driver_sql("SELECT 7").scalar() == 7


def test_a_failure_seen_before_the_last_step_raises_it_without_psycopgs_warning(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    """A statement's error can come back while later steps are still being sent (a batch
    building its history after its licenses' statement failed on a key another writer just
    took): it is raised as that statement's error, once the pipeline has ended, and psycopg
    logs nothing about an aborted pipeline (a routine, handled race is not a warning)."""

    def steps() -> Iterator[pg_pipeline.Step]:
        yield text("SELECT CAST('x' AS integer)"), {}
        time.sleep(0.2)  # the error is back before the next step goes
        yield select(literal(1)), {}

    with engine.connect() as connection:
        with (
            caplog.at_level(logging.WARNING),
            pytest.raises(DataError, match="invalid input syntax"),
            pg_pipeline.explicit_transaction(connection),
        ):
            pg_pipeline.run(connection, steps(), begin=True, commit=True)
        assert status(connection) == TransactionStatus.IDLE
        assert connection.exec_driver_sql("SELECT 7").scalar() == 7
    assert [r.getMessage() for r in caplog.records if r.name.startswith("psycopg")] == []


def test_an_open_transaction_is_joined_not_begun(engine: Engine) -> None:
    with engine.connect() as connection:
        connection.exec_driver_sql("SELECT 1")  # the caller read first
        with pg_pipeline.explicit_transaction(connection) as must_begin:
            assert not must_begin
            assert pg_pipeline.driver_of(connection).autocommit is False
        assert status(connection) == TransactionStatus.INTRANS
        connection.rollback()


def test_a_read_outside_a_transaction_leaves_none_open(engine: Engine) -> None:
    with engine.connect() as connection:
        rows = pg_pipeline.read_outside_transaction(connection, select(literal(5)), {})
        assert rows == [(5,)]
        assert status(connection) == TransactionStatus.IDLE
        assert pg_pipeline.driver_of(connection).autocommit is False


def test_the_pool_gives_back_the_driver_its_own_transactions(engine: Engine) -> None:
    with engine.connect() as connection:
        driver = pg_pipeline.driver_of(connection)
        driver.autocommit = True  # as an interrupted explicit transaction could leave it
        driver.execute("BEGIN")
    with engine.connect() as again:
        assert pg_pipeline.driver_of(again) is driver  # the pool's one connection
        assert (driver.autocommit, status(again)) == (False, TransactionStatus.IDLE)


def test_an_idle_connection_the_server_closed_is_replaced_before_use(engine: Engine) -> None:
    with engine.connect() as connection:
        pid = backend_pid(connection)
        connection.rollback()
    url = engine.url
    with psycopg.connect(
        host=url.host, port=url.port, user=url.username, dbname=url.database, autocommit=True
    ) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])
        admin.execute("SELECT pg_sleep(0.2)")  # the goodbye reaches the client's socket
    with engine.connect() as connection:  # no error, no ping: a fresh connection
        assert backend_pid(connection) != pid


def test_a_pipelined_statements_error_quotes_no_value_when_parameters_are_hidden(
    database_urls: dict[str, str], backend: str
) -> None:
    """The server's ``DETAIL`` (``Key (k)=(…) already exists``) was in the text of a
    pipelined statement's error, on an engine that hides its bound parameters (the app's)."""
    if backend != "postgresql":
        pytest.skip("psycopg's pipeline mode")
    import app.db_errors  # noqa: F401 (its listeners)

    secret = "5ec7e7-hash-of-a-key"
    engine = create_engine(database_urls["main"], poolclass=NullPool, hide_parameters=True)
    insert = text("INSERT INTO quoted (k) VALUES (:k)").bindparams(k=secret)
    try:
        with (
            engine.connect() as connection,
            pytest.raises(IntegrityError) as failure,
            pg_pipeline.explicit_transaction(connection) as begin,
        ):
            steps = [(text("CREATE TEMPORARY TABLE quoted (k text UNIQUE)"), {})]
            pg_pipeline.run(connection, [*steps, (insert, {}), (insert, {})], begin=begin)
    finally:
        engine.dispose()
    logged = "".join(traceback.format_exception(failure.value))
    assert "duplicate key" in logged
    assert secret not in logged
