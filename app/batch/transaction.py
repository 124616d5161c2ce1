"""The batch engine's write transaction: on SQLite a connection of its own, elsewhere the
session's.

The engine writes with set-wise statements on a ``Connection`` and never loads ORM objects,
so on SQLite it does not need the session's transaction around that connection: the ORM's
bookkeeping (a ``SessionTransaction``, its state machine, the flush check at commit) doubled
the cost of beginning and committing (~80 → ~40 µs, about 3 % of a 5-item batch request).
It still begins exactly as ``tenancy.begin_write`` does (``BEGIN IMMEDIATE``, after the
writers' queue) and refuses to run beside an open transaction of the caller's session, whose
snapshot would not see the write.

On PostgreSQL the write goes on in the session's transaction: the request's authentication
read has begun it on the session's connection, and a second connection would cost a second
checkout and pre-ping.

Every path ends the transaction: ``commit`` or ``rollback`` (either may be called again, or
both, harmlessly), and on SQLite the connection goes back to the pool with it, releasing the
writers' queue.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from app.tenancy import WRITE_OPTION, begin_write


class WriteTransaction:
    """A write transaction: its ``connection``, ``commit``, ``rollback`` and ``savepoint``."""

    connection: Connection

    def commit(self) -> None:
        raise NotImplementedError

    def rollback(self) -> None:
        raise NotImplementedError

    def savepoint(self) -> AbstractContextManager[Any]:
        raise NotImplementedError


class SessionWrite(WriteTransaction):
    """The session's write transaction (PostgreSQL, or any bind that is not an engine)."""

    def __init__(self, session: Session) -> None:
        begin_write(session)
        self.session = session
        self.connection = session.connection()

    def commit(self) -> None:
        self.session.commit()

    def rollback(self) -> None:
        self.session.rollback()

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        with self.session.begin_nested():
            # The session emits SAVEPOINT only when its connection is next asked for; the
            # engine writes on ``self.connection`` directly, so ask now.
            self.session.connection()
            yield


class OwnConnectionWrite(WriteTransaction):
    """SQLite: ``BEGIN IMMEDIATE`` on a pooled connection of the engine's, not the session's."""

    def __init__(self, engine: Engine) -> None:
        connection = engine.connect().execution_options(**{WRITE_OPTION: True})
        try:
            connection.begin()
        except BaseException:
            connection.close()
            raise
        self.connection = connection

    def commit(self) -> None:
        self._end(self.connection.commit)

    def rollback(self) -> None:
        self._end(self.connection.rollback)

    def savepoint(self) -> AbstractContextManager[Any]:
        return self.connection.begin_nested()

    def _end(self, finish: Callable[[], None]) -> None:
        """Commit or roll back, then give the connection back (once; later calls do nothing)."""
        if self.connection.closed:
            return
        try:
            finish()
        finally:
            self.connection.close()


def begin(session: Session) -> WriteTransaction:
    """Begin the engine's write transaction for ``session``'s database."""
    bind = session.get_bind()
    if bind.dialect.name == "sqlite" and isinstance(bind, Engine):
        if session.in_transaction() or session.new or session.dirty or session.deleted:
            raise RuntimeError(
                "The batch engine must start the write transaction; commit or roll back the "
                "session's open transaction (and its pending changes) first."
            )
        return OwnConnectionWrite(bind)
    return SessionWrite(session)
