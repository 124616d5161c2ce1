"""PostgreSQL: statements sent together, one network round trip for several of them.

psycopg 3's pipeline mode, on the driver connection SQLAlchemy hands out
(``Connection.connection.driver_connection``), public API on both sides. A statement is built
with SQLAlchemy Core as everywhere else, compiled once for the dialect (``Compiled.string`` and
``Compiled.construct_params``) and run on a psycopg cursor: SQLAlchemy cannot run a pipelined
``SELECT`` itself (its result would be read before the pipeline is synced). Errors are raised as
SQLAlchemy's (``DBAPIError.instance``), a connection that the error left unusable is
invalidated as ``app.db_errors`` does for SQLAlchemy's own statements.

psycopg sends an implicit ``BEGIN`` and waits for its answer before the transaction's first
statement, pipeline or not: one round trip of its own. ``explicit_transaction`` puts the
driver in autocommit mode and sends ``BEGIN`` itself, in the same pipeline as the first
statements, and restores the driver afterwards (``autocommit`` can only change outside a
transaction, so it rolls back whatever it leaves open; a connection given back to the pool is
restored there). ``read_outside_transaction`` runs one read with no transaction at all (a
single statement is atomic by itself).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from functools import lru_cache
from typing import Any

import psycopg
from psycopg.pq import TransactionStatus
from psycopg.rows import dict_row
from sqlalchemy import Dialect, Executable
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.compiler import Compiled

from app.db_errors import (
    COMMIT,
    HEALTHY_CONNECTION_STATES,
    hide_quoted_values,
    restore_driver_transactions,
)

#: One statement of a pipeline and its parameters.
Step = tuple[Executable, Mapping[str, Any]]


def is_postgresql(connection: Connection) -> bool:
    return connection.dialect.name == "postgresql"


def driver_of(connection: Connection) -> psycopg.Connection[Any]:
    driver = connection.connection.driver_connection
    assert isinstance(driver, psycopg.Connection), type(driver)
    return driver


def _idle(driver: psycopg.Connection[Any]) -> bool:
    return driver.info.transaction_status == TransactionStatus.IDLE


@lru_cache(maxsize=256)
def _compiled(statement: Executable, dialect: Dialect) -> Compiled:
    """Compiled once per statement: the batch's statements are built once and cached too."""
    return statement.compile(dialect=dialect)  # type: ignore[attr-defined,no-any-return]


def driver_sql(
    dialect: Dialect, statement: Executable, params: Mapping[str, Any]
) -> tuple[str, dict[str, Any]]:
    """The SQL text and parameters the driver is given for ``statement``."""
    compiled = _compiled(statement, dialect)
    return compiled.string, compiled.construct_params(params)


def run(
    connection: Connection,
    steps: Iterable[Step],
    *,
    begin: bool = False,
    commit: bool = False,
) -> list[list[dict[str, Any]]]:
    """Run ``steps`` in one round trip; each step's rows (as dicts by column name).

    Each statement is sent as soon as it is taken from ``steps``, and the server starts on it
    then: when ``steps`` is a generator, building a later step overlaps the server's work on
    the earlier ones (as far as the socket takes a large statement at once; the rest follows
    with the next). The round trip is the wait for every answer, after the last step. If
    taking a step raises, the statements already sent still run in the open transaction,
    ``COMMIT`` is not sent and the error is raised as it is: the caller rolls back. Outside a
    transaction (the driver in autocommit mode, no ``begin``) the steps are all built first,
    since the pipeline's end would commit what was sent before the failure.

    ``begin``: ``BEGIN`` goes first; ``commit``: ``COMMIT`` goes last (both only inside
    ``explicit_transaction``, where the driver sends neither itself). ``COMMIT`` only takes
    effect if every statement before it succeeded: a failed statement aborts the rest of the
    pipeline, and the transaction stays open and failed for the caller to roll back.
    """
    driver = driver_of(connection)
    if not begin and driver.autocommit and _idle(driver):
        steps = list(steps)
    cursors: list[psycopg.Cursor[dict[str, Any]]] = []
    sql = "BEGIN"
    failed: psycopg.Error | None = None
    try:
        # Leaving the block sends one Sync and reads every answer: the round trip.
        with driver.pipeline():
            try:
                if begin:
                    driver.execute(sql)
                for statement, params in steps:
                    sql, driver_params = driver_sql(connection.dialect, statement, params)
                    cursor = driver.cursor(row_factory=dict_row)
                    cursor.execute(sql, driver_params)
                    cursors.append(cursor)
                if commit:
                    sql = COMMIT  # from here on, a lost connection may follow a commit
                    driver.execute(sql)
            except psycopg.Error as error:
                # An earlier statement's error, back while steps were still being sent: kept
                # until the pipeline has ended, which it then does as aborted (leaving the
                # block with the error would make psycopg log that as a warning).
                failed = error
        if failed is None:
            return [cursor.fetchall() if cursor.description else [] for cursor in cursors]
    except psycopg.Error as error:
        failed = failed or error
    finally:
        for cursor in cursors:
            cursor.close()
    raise _translated(connection, sql, failed) from failed


def _translated(connection: Connection, sql: str, error: psycopg.Error) -> DBAPIError:
    """SQLAlchemy's exception for ``error``; a connection the error left unusable (it is
    closed, or the error is one of an unavailable server but for a statement or lock timeout)
    is invalidated, so it never returns to the pool."""
    unusable = driver_of(connection).closed or (
        isinstance(error, psycopg.OperationalError | psycopg.InterfaceError)
        and error.sqlstate not in HEALTHY_CONNECTION_STATES
    )
    if unusable:
        connection.invalidate(error)
    if connection.engine.hide_parameters:
        hide_quoted_values(error)
    return DBAPIError.instance(  # type: ignore[return-value]
        sql, None, error, psycopg.Error, connection_invalidated=unusable
    )


@contextmanager
def explicit_transaction(connection: Connection) -> Iterator[bool]:
    """Yields whether the caller must send ``BEGIN`` itself (``run(begin=True)``): true when
    no transaction is open on the connection yet; then the driver is in autocommit mode inside
    the block, and afterwards back as it was, the transaction rolled back if still open. When
    a transaction is already open (the caller read before writing), the block joins it."""
    driver = driver_of(connection)
    if driver.autocommit or not _idle(driver):
        yield False
        return
    driver.autocommit = True
    try:
        yield True
    finally:
        # A connection the session has given back was restored by the pool (app.db_errors)
        # and may already be another's.
        if not (connection.closed or connection.invalidated):
            with suppress(psycopg.Error):
                restore_driver_transactions(driver)


def read_outside_transaction(
    connection: Connection, statement: Executable, params: Mapping[str, Any]
) -> list[tuple[Any, ...]]:
    """The rows of ``statement``, read on the driver without opening a transaction for it when
    none is open (no ``BEGIN``: one round trip instead of two), else inside the open one."""
    driver = driver_of(connection)
    sql, driver_params = driver_sql(connection.dialect, statement, params)
    outside = not driver.autocommit and _idle(driver)
    try:
        if outside:
            driver.autocommit = True
        with driver.cursor() as cursor:
            return cursor.execute(sql, driver_params).fetchall()
    except psycopg.Error as error:
        raise _translated(connection, sql, error) from error
    finally:
        if outside:
            with suppress(psycopg.Error):
                restore_driver_transactions(driver)
