"""Faults to inject into a test database: a held lock, a write that hangs, a read-only file."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

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
