"""Faults to inject into a test database: a held lock, a write that hangs, a read-only file,
an answer lost after a commit."""

from __future__ import annotations

import contextlib
import shutil
import socket
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import make_url

from app.tenancy import engine_for

#: Rows of the SQLite burn table: a trigger counting its cube runs for many seconds.
SQLITE_BURN_ROWS = 700


def sqlite_file(url: str) -> str | None:
    parsed = make_url(url)
    return parsed.database if parsed.get_backend_name() == "sqlite" else None


@contextmanager
def held_write_lock(url: str) -> Iterator[None]:
    """Another client holds the write lock the batch needs, until the block ends.

    SQLite: ``BEGIN IMMEDIATE`` on the file. PostgreSQL: ``LOCK TABLE ... ACCESS EXCLUSIVE``
    on the licenses.
    """
    path = sqlite_file(url)
    if path is not None:
        connection = sqlite3.connect(path, isolation_level=None)
        connection.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            connection.execute("ROLLBACK")
            connection.close()
        return
    engine = create_engine(url)
    try:
        with engine.connect() as connection, connection.begin():
            connection.execute(text("LOCK TABLE provider_cred_license IN ACCESS EXCLUSIVE MODE"))
            yield
    finally:
        engine.dispose()


@contextmanager
def hanging_history_writes(url: str, seconds: int = 30) -> Iterator[None]:
    """Every insert into the license history hangs (inside the batch's transaction, after
    the licenses were written) for about ``seconds``, until the block ends."""
    engine = create_engine(url)
    sqlite = sqlite_file(url) is not None
    if sqlite:
        setup = [
            "CREATE TABLE fault_burn (x INTEGER)",
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c "
            f"WHERE x < {SQLITE_BURN_ROWS}) INSERT INTO fault_burn (x) SELECT x FROM c",
            "CREATE TRIGGER fault_hang BEFORE INSERT ON license_change BEGIN "
            "SELECT count(*) FROM fault_burn a, fault_burn b, fault_burn c; END",
        ]
        teardown = ["DROP TRIGGER fault_hang", "DROP TABLE fault_burn"]
    else:
        setup = [
            "CREATE FUNCTION fault_hang() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN PERFORM pg_sleep({seconds}); RETURN NULL; END $$",
            "CREATE TRIGGER fault_hang BEFORE INSERT ON license_change "
            "FOR EACH STATEMENT EXECUTE FUNCTION fault_hang()",
        ]
        teardown = ["DROP TRIGGER fault_hang ON license_change", "DROP FUNCTION fault_hang()"]
    try:
        with engine.begin() as connection:
            for statement in setup:
                connection.exec_driver_sql(statement)
        yield
    finally:
        with engine.begin() as connection:
            for statement in teardown:
                connection.exec_driver_sql(statement)
        engine.dispose()


@contextmanager
def immutable_file(path: str) -> Iterator[None]:
    """The file cannot be opened for writing, even by root (``chattr +i``): SQLite opens it
    read-only. Skips the test where the file system or privileges do not allow it."""
    if shutil.which("chattr") is None:
        pytest.skip("chattr is not installed")
    if subprocess.run(["chattr", "+i", path], capture_output=True).returncode != 0:
        pytest.skip("chattr +i is not permitted here")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", path], check=True)


class AnswerLostAfterCommit:
    """A TCP port in front of PostgreSQL that, once armed, loses the connection of the first
    transaction that writes ``table`` right after sending its ``COMMIT`` on: the server commits,
    the client never hears so (a network cut, a proxy or a server crash at that instant)."""

    def __init__(self, target: tuple[str, int], table: bytes) -> None:
        self.target = target
        self.table = table
        self.armed = False
        self.cut = False
        self.sockets: list[socket.socket] = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self.listener.close()
        for end in self.sockets:
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)
            end.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            self.sockets += [client, upstream]
            silenced = threading.Event()
            threading.Thread(
                target=self._to_server, args=(client, upstream, silenced), daemon=True
            ).start()
            threading.Thread(
                target=self._to_client, args=(upstream, client, silenced), daemon=True
            ).start()

    def _to_server(self, client: socket.socket, server: socket.socket, silenced: Any) -> None:
        writes = False
        try:
            while data := client.recv(65536):
                writes = writes or (self.armed and self.table in data)
                if writes and b"COMMIT" in data:
                    self.armed, self.cut = False, True
                    silenced.set()  # the server's answers are dropped from now on
                    server.sendall(data)
                    time.sleep(0.5)  # the server commits meanwhile
                    for end in (client, server):
                        with contextlib.suppress(OSError):
                            end.shutdown(socket.SHUT_RDWR)
                    return
                server.sendall(data)
        except OSError:
            pass

    @staticmethod
    def _to_client(server: socket.socket, client: socket.socket, silenced: Any) -> None:
        try:
            while data := server.recv(65536):
                if not silenced.is_set():
                    client.sendall(data)
        except OSError:
            pass


@contextmanager
def answer_store_fails(app: Any, backend: str, times: int) -> Iterator[list[str]]:
    """The first ``times`` statements storing an answer lose their connection (after the batch
    committed): on PostgreSQL the server ends the backend, on SQLite the driver fails as on an
    I/O error. Yields the statements that failed."""
    with app.app_context():
        engine = engine_for("main")
    failed: list[str] = []

    def lose_connection(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if not statement.startswith("UPDATE idempotency_record") or len(failed) >= times:
            return
        failed.append(statement)
        if backend == "sqlite":
            raise sqlite3.OperationalError("disk I/O error")
        with engine.connect() as other:
            pid = conn.connection.driver_connection.info.backend_pid
            other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})

    event.listen(engine, "before_cursor_execute", lose_connection)
    try:
        yield failed
    finally:
        event.remove(engine, "before_cursor_execute", lose_connection)


@contextmanager
def app_losing_a_commit(config: dict[str, Any], url: str) -> Iterator[tuple[Any, Any]]:
    """The app, its one database ``main`` at ``url`` (PostgreSQL) reached through an
    ``AnswerLostAfterCommit`` on the history table's writes (armed by the caller)."""
    from app import create_app
    from tests.helpers import dispose_engines

    real = make_url(url)
    proxy = AnswerLostAfterCommit((real.host or "127.0.0.1", real.port or 5432), b"license_change")
    proxied = real.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    application = create_app(config | {"DATABASES": {"main": proxied}})
    try:
        yield application, proxy
    finally:
        dispose_engines(application)
        proxy.close()
