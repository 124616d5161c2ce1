"""The database floor: the same rows written by the driver alone, with no application code.

SQLite: stdlib ``sqlite3`` ``executemany`` of ``INSERT … ON CONFLICT DO UPDATE`` in one
``BEGIN IMMEDIATE`` transaction. PostgreSQL: raw psycopg 3, both ``executemany`` in pipeline
mode and one ``INSERT … SELECT FROM unnest(…) ON CONFLICT`` with binary parameters; the faster
of the two is the floor. Every floor includes its commit; values arrive already converted.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from bench.workload import DB_COLUMNS, HISTORY_COLUMNS

TABLE = "provider_cred_license"
KEY = DB_COLUMNS[0]
UPDATED_ON_CONFLICT = [c for c in DB_COLUMNS[1:] if c not in ("entry_date", "entry_user")]
PG_ARRAY_TYPES = {
    "provider_cred_license_key": "int4[]",
    "provider_cred_key": "int4[]",
    "cred_license_type_key": "int4[]",
    "effective_date": "timestamp[]",
    "term_date": "timestamp[]",
    "psv_date": "timestamp[]",
    "entry_date": "timestamp[]",
    "update_date": "timestamp[]",
}

_ON_CONFLICT = f"ON CONFLICT ({KEY}) DO UPDATE SET " + ", ".join(
    f"{c} = excluded.{c}" for c in UPDATED_ON_CONFLICT
)
SQLITE_UPSERT = (
    f"INSERT INTO {TABLE} ({', '.join(DB_COLUMNS)}) VALUES ({', '.join('?' * len(DB_COLUMNS))}) "
    + _ON_CONFLICT
)
PG_EXECUTEMANY = (
    f"INSERT INTO {TABLE} ({', '.join(DB_COLUMNS)}) "
    f"VALUES ({', '.join(['%s'] * len(DB_COLUMNS))}) " + _ON_CONFLICT
)
PG_UNNEST = (
    f"INSERT INTO {TABLE} ({', '.join(DB_COLUMNS)}) SELECT * FROM unnest("
    + ", ".join(f"%s::{PG_ARRAY_TYPES.get(c, 'text[]')}" for c in DB_COLUMNS)
    + ") "
    + _ON_CONFLICT
)


_HISTORY_INTO = "INSERT INTO license_change (" + ", ".join(
    f'"{c}"' if c == "user" else c for c in HISTORY_COLUMNS
)
SQLITE_HISTORY = f"{_HISTORY_INTO}) VALUES ({', '.join('?' * len(HISTORY_COLUMNS))})"
PG_HISTORY_EXECUTEMANY = f"{_HISTORY_INTO}) VALUES ({', '.join(['%s'] * len(HISTORY_COLUMNS))})"
PG_HISTORY_TYPES = ("int4[]", "int4[]", "text[]", "timestamp[]") + ("text[]",) * 3
# ``changes`` is jsonb on PostgreSQL (migration 0003): the text array's element is cast.
PG_HISTORY_UNNEST = (
    f"{_HISTORY_INTO}) SELECT k, p, a, t, u, n, c::jsonb FROM unnest("
    + ", ".join(f"%s::{t}" for t in PG_HISTORY_TYPES)
    + ") AS h(k, p, a, t, u, n, c)"
)
# The history as the application chains it (``app.history.chain``): each row with its hash,
# and each license's newest hash upserted into ``license_history_head``. Used by the HTTP
# floor (``bench/http_floor.py``), which writes everything the batch endpoint writes.
PG_SEALED_HISTORY_UNNEST = (
    f"{_HISTORY_INTO}, row_hash) SELECT k, p, a, t, u, n, c::jsonb, r FROM unnest("
    + ", ".join(f"%s::{t}" for t in (*PG_HISTORY_TYPES, "text[]"))
    + ") AS h(k, p, a, t, u, n, c, r)"
)
PG_HEADS_UNNEST = (
    f"INSERT INTO license_history_head ({KEY}, row_hash) "
    "SELECT * FROM unnest(%s::int4[], %s::text[]) "
    f"ON CONFLICT ({KEY}) DO UPDATE SET row_hash = excluded.row_hash"
)


def sqlite_value(value: Any) -> Any:
    """SQLAlchemy's SQLite storage form of a date-time, so both write the same bytes."""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    return value


Rows = Sequence[tuple[Any, ...]]


def sqlite_floor(connection: sqlite3.Connection, rows: Rows, history: Rows = ()) -> float:
    """Seconds to upsert ``rows`` (already in storage form), and insert ``history`` rows when
    given, in one transaction."""
    started = time.perf_counter()
    connection.execute("BEGIN IMMEDIATE")
    connection.executemany(SQLITE_UPSERT, rows)
    if history:
        connection.executemany(SQLITE_HISTORY, history)
    connection.execute("COMMIT")
    return time.perf_counter() - started


def pg_executemany_floor(connection: Any, rows: Rows, history: Rows = ()) -> float:
    started = time.perf_counter()
    with connection.pipeline(), connection.cursor() as cursor:
        cursor.executemany(PG_EXECUTEMANY, rows)
        if history:
            cursor.executemany(PG_HISTORY_EXECUTEMANY, history)
    connection.commit()
    return time.perf_counter() - started


def pg_unnest_floor(connection: Any, rows: Rows, history: Rows = ()) -> float:
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(PG_UNNEST, [list(c) for c in zip(*rows, strict=True)], binary=True)
        if history:
            columns = [list(c) for c in zip(*history, strict=True)]
            cursor.execute(PG_HISTORY_UNNEST, columns, binary=True)
    connection.commit()
    return time.perf_counter() - started
