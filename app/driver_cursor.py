"""Statements run on the DBAPI cursor of a SQLAlchemy ``Connection``, for the hot SQLite path.

``Connection.exec_driver_sql`` costs ~12-25 µs per statement in Python around a SQLite call
that itself takes a few (execution context, parameter lists, a ``CursorResult`` whose metadata
is built from the cursor description on every SELECT). A 5-item batch runs four statements,
so that was ~5 % of its request. ``execute`` does what that path does that matters here and no
more:

- the connection's ``before_cursor_execute`` / ``after_cursor_execute`` listeners see the
  statement, exactly as SQLAlchemy calls them (``retval`` listeners may rewrite it; the
  context argument is ``None``, which the event's documentation allows), so statement
  counters and loggers keep working;
- a driver error is raised as SQLAlchemy's own wrapper (``DBAPIError.instance``: an
  ``IntegrityError`` stays an ``IntegrityError``), so callers catch ``SQLAlchemyError`` as
  before;
- it runs inside the connection's transaction like any statement (it is the same DBAPI
  connection), beginning it first if none is open, as SQLAlchemy's own execution does.

Values go to the driver as they are: callers convert them first (``app.batch.bulk`` uses the
dialect's processors).

What it leaves out, on purpose, for the SQLite batch path only: ``handle_error`` listeners,
disconnect detection and invalidation (a local file does not disconnect), ``echo`` logging,
and the check that the transaction is still active (the engine owns the transaction and ends it
on every error).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError


def execute(
    connection: Connection,
    sql: str,
    parameters: Sequence[Any] = (),
    *,
    many: bool = False,
    fetch: bool = False,
    autobegin: bool = True,
) -> list[Any]:
    """Run ``sql`` (``executemany`` when ``many``) on ``connection``'s DBAPI cursor; the rows
    when ``fetch``, else ``[]``. ``autobegin=False`` is for a ``begin`` event listener, which
    runs while the transaction is being begun."""
    if autobegin and not connection.in_transaction():
        connection.begin()
    dialect = connection.dialect
    cursor = connection.connection.cursor()
    dispatch = connection.dispatch
    try:
        if dispatch.before_cursor_execute:
            for listener in dispatch.before_cursor_execute:
                sql, parameters = listener(connection, cursor, sql, parameters, None, many)
        try:
            if many:
                cursor.executemany(sql, parameters)
            else:
                cursor.execute(sql, parameters)
            # Right after the execution, before any fetch, as SQLAlchemy calls it.
            if dispatch.after_cursor_execute:
                for listener in dispatch.after_cursor_execute:
                    listener(connection, cursor, sql, parameters, None, many)
            rows = cursor.fetchall() if fetch else []
        except dialect.loaded_dbapi.Error as error:
            raise DBAPIError.instance(
                sql, parameters, error, dialect.loaded_dbapi.Error, dialect=dialect, ismulti=many
            ) from error
    finally:
        cursor.close()
    return rows
