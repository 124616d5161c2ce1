"""``flask --app app purge`` reads only what it deletes, through an index, on both engines.

The purge runs daily on tables that keep a day's or a month's rows: refresh tokens live 30
days (never deleted when used), idempotency records 24 hours. A DELETE that reads the whole
table to find the expired rows costs in proportion to the live ones, and on SQLite it holds the
one write lock all that time. Each purge statement is recorded as it runs and then explained
with its parameters: no plan may read either table whole (PostgreSQL: a ``Seq Scan``, with
statistics taken, as a table that has been live for a while has them; SQLite: a ``SCAN``).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import event, insert, text

from app.audit import utcnow
from app.auth.models import RefreshToken
from app.auth.retention import purge_expired_refresh_tokens
from app.idempotency.models import IdempotencyRecord
from app.idempotency.store import RETENTION, purge_expired
from app.tenancy import begin_write, engine_for, session_scope

TABLES = ("refresh_token", "idempotency_record")
LIVE, EXPIRED = 10_000, 50
#: A stored batch answer of 2 KB, as docs/operations.md's figures (random: not compressible).
ANSWER = secrets.token_hex(1024)


def fill(app: Any) -> None:
    """``LIVE`` rows of each table that the purge keeps and ``EXPIRED`` it deletes; analysed."""
    now = utcnow()
    with app.app_context(), session_scope("main") as session:
        session.execute(
            insert(RefreshToken),
            [
                {
                    "token_hash": f"{n:064x}",
                    "username": "ann",
                    "expires_at": now + timedelta(days=30 if n >= EXPIRED else -1),
                    "created_at": now,
                }
                for n in range(LIVE + EXPIRED)
            ],
        )
        session.execute(
            insert(IdempotencyRecord),
            [
                {
                    "api_key_id": 1,
                    "username": "ann",
                    "idempotency_key": f"k{n}",
                    "request_hash": "h",
                    "status": 207,
                    "response_body": ANSWER,
                    "created_at": now - (RETENTION * 2 if n < EXPIRED else timedelta(hours=1)),
                }
                for n in range(LIVE + EXPIRED)
            ],
        )
        session.commit()
        session.execute(text("ANALYZE"))
        session.commit()


def purge() -> tuple[int, int]:
    """What the ``purge`` command runs."""
    with session_scope("main") as session:
        answers = purge_expired(session)
    with session_scope("main") as session:
        begin_write(session)
        tokens = purge_expired_refresh_tokens(session)
        session.commit()
    return answers, tokens


def whole_table_reads(app: Any, statements: Callable[[], Any]) -> list[tuple[str, list[str]]]:
    """Each statement ``statements`` ran that reads one of ``TABLES`` whole, with its plan."""
    with app.app_context():
        engine = engine_for("main")
        ran: list[tuple[str, Any]] = []

        def record(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
            if statement.lstrip().upper().startswith(("SELECT", "DELETE")):
                ran.append((statement, parameters))

        event.listen(engine, "before_cursor_execute", record)
        try:
            statements()
        finally:
            event.remove(engine, "before_cursor_execute", record)
        assert ran
        offenders = []
        with engine.connect() as connection:
            sqlite = connection.dialect.name == "sqlite"
            for statement, parameters in ran:
                prefix = "EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN "
                rows = connection.exec_driver_sql(prefix + statement, parameters).all()
                plan = [row[3] if sqlite else row[0] for row in rows]
                whole = [
                    line
                    for line in plan
                    for table in TABLES
                    if line.startswith(f"SCAN {table}")  # SQLite, with or without an index
                    or f"Seq Scan on {table}" in line  # PostgreSQL
                ]
                if whole:
                    offenders.append((statement, plan))
    return offenders


def test_the_purge_reads_only_the_expired_rows(app: Any) -> None:
    fill(app)
    deleted: list[tuple[int, int]] = []
    with app.app_context():
        offenders = whole_table_reads(app, lambda: deleted.append(purge()))
    assert deleted == [(EXPIRED, EXPIRED)]
    assert offenders == [], "\n\n".join(f"{s}\n" + "\n".join(p) for s, p in offenders)


def test_the_check_would_see_the_refresh_tokens_read_whole(app: Any) -> None:
    """Not vacuous: without the expiry index (dropped, as before migration 0016) the refresh
    tokens' purge reads the whole table, and the check says so."""
    fill(app)
    with app.app_context():
        with engine_for("main").begin() as connection:
            connection.execute(text("DROP INDEX ix_refresh_token_expires_at"))
        offenders = whole_table_reads(app, purge)
    assert [s for s, _ in offenders if "refresh_token" in s]
    assert not [s for s, _ in offenders if "idempotency_record" in s]
