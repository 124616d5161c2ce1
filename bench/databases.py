"""The benchmark's own databases: a fresh SQLite file (WAL) and, when given, PostgreSQL schemas.

Each is migrated with the application's migrations and holds one ProviderCred, the license
types, a user and an API key. The PostgreSQL database named on the command line only gets the
schemas ``credgrid_bench`` (in process) and ``credgrid_bench_http`` (over HTTP: fresh tables
for the bulk load, autovacuum off), dropped and recreated; nothing else in it is touched.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, insert, text
from sqlalchemy.engine import make_url

from app.audit import utcnow
from app.schema import upgrade_database
from bench.workload import CRED_KEY, DB_COLUMNS, LICENSE_TYPES, db_row

PG_SCHEMA = "credgrid_bench"
#: The HTTP measurements' own tables, fresh when the bulk load starts (issue 12).
PG_HTTP_SCHEMA = "credgrid_bench_http"
USERNAME = "bench"
PASSWORD = "bench-password"


@dataclass
class BenchDatabase:
    name: str  # the configured database name (the vbasoftware-database header)
    backend: str  # "sqlite" or "postgresql"
    url: str  # SQLAlchemy URL
    path: Path | None = None  # the SQLite file
    libpq: str | None = None  # the PostgreSQL conninfo for raw psycopg
    schema: str | None = None  # the PostgreSQL schema


def sqlite_database(directory: Path, filename: str = "bench.db") -> BenchDatabase:
    path = directory / filename
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return BenchDatabase("sqlite", "sqlite", f"sqlite:///{path}", path=path)


def postgres_database(url: str, name: str = "postgresql", schema: str = PG_SCHEMA) -> BenchDatabase:
    base = make_url(url).set(drivername="postgresql+psycopg")
    _drop_schema(url, schema, create=True)
    scoped = base.update_query_dict({"options": f"-csearch_path={schema}"})
    libpq = base.set(drivername="postgresql").render_as_string(hide_password=False)
    return BenchDatabase(
        name,
        "postgresql",
        scoped.render_as_string(hide_password=False),
        libpq=libpq,
        schema=schema,
    )


def _drop_schema(url: str, schema: str, create: bool = False) -> None:
    admin = create_engine(make_url(url).set(drivername="postgresql+psycopg"))
    with admin.begin() as connection:
        connection.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        if create:
            connection.execute(text(f"CREATE SCHEMA {schema}"))
    admin.dispose()


def remove(database: BenchDatabase) -> None:
    """Drop what the run wrote: the PostgreSQL schema (the SQLite file stays for inspection)."""
    if database.backend == "postgresql" and database.libpq and database.schema:
        _drop_schema(database.libpq, database.schema)


def _schema_tables(connection: Any, schema: str) -> list[str]:
    found = connection.execute(
        text("SELECT tablename FROM pg_tables WHERE schemaname = :schema ORDER BY tablename"),
        {"schema": schema},
    )
    return [f"{schema}.{name}" for (name,) in found]


def analyse(database: BenchDatabase) -> None:
    """``ANALYZE`` every table of the PostgreSQL schema: the statistics autovacuum would have
    gathered sooner or later, gathered now."""
    assert database.schema is not None
    engine = create_engine(database.url)
    with engine.begin() as connection:
        for table in _schema_tables(connection, database.schema):
            connection.execute(text(f"ANALYZE {table}"))
    engine.dispose()


def prepare(database: BenchDatabase, autovacuum: bool = True) -> None:
    """Migrate, then add the ProviderCred and the license types the workload refers to.

    ``autovacuum=False`` (PostgreSQL) switches autovacuum off on every table of the schema
    before a row is written, so no statistics exist until ``analyse``: the state of tables
    right after a bulk load, which autovacuum's ANALYZE would otherwise end at a moment of its
    choosing. The schema is dropped at the end of the run, and the setting with it.
    """
    engine = create_engine(database.url)
    upgrade_database(engine)
    if not autovacuum:
        assert database.schema is not None
        with engine.begin() as connection:
            for table in _schema_tables(connection, database.schema):
                connection.execute(text(f"ALTER TABLE {table} SET (autovacuum_enabled = off)"))
    from app.credentials.models import ProviderCred
    from app.license_types.models import CredLicenseType

    now = utcnow()
    with engine.begin() as connection:
        connection.execute(
            insert(ProviderCred.__table__),  # type: ignore[arg-type]
            [
                {
                    "provider_cred_key": CRED_KEY,
                    "provider_id": "PRVBENCH",
                    "cred_type_key": 1,
                    "effective_date": datetime(2020, 1, 1),
                    "entry_date": now,
                    "update_date": now,
                }
            ],
        )
        connection.execute(
            insert(CredLicenseType.__table__),  # type: ignore[arg-type]
            [
                {
                    "cred_license_type_key": k,
                    "display": f"T{k}",
                    "entry_date": now,
                    "update_date": now,
                }
                for k in LICENSE_TYPES
            ],
        )
    engine.dispose()


class Seeder:
    """Writes the pre-existing rows of a batch, untimed, outside the code being measured.

    With ``checkpoint``, on SQLite it then checkpoints the WAL, so that every timed run (the
    service's, each floor's) starts from the same state. SQLite checkpoints in the commit that
    takes the WAL past 1,000 pages; a round of the phases' runs writes about that many, so
    without this the checkpoint fell on the same run every round (the whole request's), which
    the median then counted in full and the other runs never.
    """

    def __init__(self, database: BenchDatabase, *, checkpoint: bool = False) -> None:
        self.engine = create_engine(database.url)
        self.checkpoint = checkpoint and database.backend == "sqlite"
        from app.licenses.models import ProviderCredLicense

        self.table = ProviderCredLicense.__table__

    def seed(self, wire_items: list[dict[str, Any]]) -> None:
        if wire_items:
            now = utcnow()
            rows = [dict(zip(DB_COLUMNS, db_row(w, now), strict=True)) for w in wire_items]
            with self.engine.begin() as connection:
                connection.execute(insert(self.table), rows)  # type: ignore[arg-type]
        if self.checkpoint:
            with self.engine.connect() as connection:
                connection.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")

    def close(self) -> None:
        self.engine.dispose()


def sqlite_connect(path: Path) -> sqlite3.Connection:
    """A stdlib connection tuned exactly as the application tunes its own by default (WAL,
    ``synchronous=NORMAL``, SQLite's own automatic checkpoints), so both pay the same
    checkpoints in their commits."""
    from app.tenancy import SQLITE_JOURNAL_SIZE_LIMIT

    connection = sqlite3.connect(path, isolation_level=None, timeout=10)
    connection.execute("PRAGMA foreign_keys = ON")
    connection.execute("PRAGMA journal_mode = WAL")
    connection.execute("PRAGMA synchronous = NORMAL")
    connection.execute(f"PRAGMA journal_size_limit = {SQLITE_JOURNAL_SIZE_LIMIT}")
    return connection
