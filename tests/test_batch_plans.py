"""Every statement of the batch path uses its index however stale the statistics (PostgreSQL).

The same freshly loaded, never analysed database as ``tests/test_read_plans.py`` (30,000
licenses, autovacuum off): a small and a large batch into an existing ProviderCred and a
delete run through the app while their statements are recorded, and each statement is then
explained with the parameters it ran with (those sent in a pipeline, ``app.pg_pipeline``, as
the driver got them). No plan may read the license, history or heads
table sequentially.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import create_engine, event, text

from app import pg_pipeline
from app.schema import upgrade_database
from tests.conftest import postgres_url
from tests.factories import license_item
from tests.test_read_plans import SCHEMA, api_headers, loaded  # noqa: F401 (the fixture)

BATCH_TABLES = ("provider_cred_license", "license_change", "license_history_head")


def test_the_batch_path_uses_its_indexes_on_unanalysed_tables(
    loaded: tuple[Any, str],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app, database = loaded
    from app.tenancy import engine_for

    with app.app_context():
        engine = engine_for(database)
    with engine.connect() as connection:
        owned = connection.execute(
            text(
                "SELECT provider_cred_license_key FROM provider_cred_license "
                "WHERE provider_cred_key = 1 ORDER BY 1"
            )
        ).scalars()
        existing = list(owned)
        first_free = connection.execute(
            text("SELECT max(provider_cred_license_key) + 1 FROM provider_cred_license")
        ).scalar_one()
        # Every license with history has a head in production; the generator writes none
        # (placeholder hashes: only the plans are checked here, not the chain).
        connection.execute(
            text(
                "INSERT INTO license_history_head (provider_cred_license_key, row_hash) "
                "SELECT provider_cred_license_key, md5(provider_cred_license_key::text) "
                "FROM provider_cred_license ON CONFLICT DO NOTHING"
            )
        )
        connection.commit()
    assert existing

    recorded: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_args: Any) -> None:
        if not statement.lstrip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK")):
            recorded.append((statement, parameters))

    headers = api_headers(app, database)
    client = app.test_client()
    small = [license_item(k, state="TX") for k in existing[:2]]
    small += [license_item(first_free + i) for i in range(3)]
    large = [license_item(first_free + 3 + i) for i in range(1000)]
    real_run = pg_pipeline.run

    def pipelined(connection: Any, steps: Any, **options: Any) -> Any:
        steps = list(steps)  # taken here: under this spy the history is built before the rows go
        for statement, params in steps:
            sql, driver_params = pg_pipeline.driver_sql(connection.dialect, statement, params)
            if not sql.upper().startswith("SET "):  # a setting has no plan
                recorded.append((sql, driver_params))
        return real_run(connection, steps, **options)

    monkeypatch.setattr(pg_pipeline, "run", pipelined)
    event.listen(engine, "before_cursor_execute", record)
    try:
        for items in (small, large):
            response = client.put(
                "/provider-credentialing/1/licenses-batch", json=items, headers=headers
            )
            assert response.status_code == 207, response.get_data(as_text=True)[:300]
        response = client.delete(
            f"/provider-credentialing/1/licenses/{first_free}", headers=headers
        )
        assert response.status_code in (200, 204), response.get_data(as_text=True)[:300]
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert any(s.startswith("WITH write_") for s, _ in recorded)  # the write was recorded

    offenders = []
    with engine.connect() as connection, small_copy(connection) as small:
        cursor = connection.connection.driver_connection.cursor()
        # Custom plans (the parameters' values) and generic ones, which a prepared statement
        # (psycopg prepares a statement run five times) may switch to; on the loaded tables
        # and on a small copy, where a scan costs less than a hundred index probes (the
        # planner's guess for a set-returning function without statistics).
        for schema in (SCHEMA, small):
            cursor.execute(f"SET search_path = {schema}")
            for mode in ("force_custom_plan", "force_generic_plan"):
                cursor.execute(f"SET plan_cache_mode = {mode}")
                for statement, parameters in recorded:
                    cursor.execute("EXPLAIN " + statement, parameters)
                    plan = [row[0] for row in cursor.fetchall()]
                    scans = [
                        line.strip()
                        for line in plan
                        if "Seq Scan" in line and any(f" on {t}" in line for t in BATCH_TABLES)
                    ]
                    if scans:
                        offenders.append((schema, mode, statement[:120], scans))
        cursor.execute(f"SET search_path = {SCHEMA}")
        analysed = connection.execute(
            text("SELECT count(*) FROM pg_stats WHERE schemaname = current_schema()")
        ).scalar()
    assert analysed == 0  # still never analysed
    assert offenders == []


SMALL_SCHEMA, SMALL_LICENSES = f"{SCHEMA}_small", 5_000


@contextmanager
def small_copy(connection: Any) -> Iterator[str]:
    """A schema of the same tables holding the first 5,000 licenses (and what they refer to),
    never analysed, autovacuum off: as a table loaded through the API looks to the planner."""
    connection.execute(text(f"DROP SCHEMA IF EXISTS {SMALL_SCHEMA} CASCADE"))
    connection.execute(text(f"CREATE SCHEMA {SMALL_SCHEMA}"))
    connection.commit()
    small_engine = create_engine(postgres_url(SMALL_SCHEMA))
    upgrade_database(small_engine)
    small_engine.dispose()
    try:
        for table in BATCH_TABLES:
            connection.execute(
                text(f"ALTER TABLE {SMALL_SCHEMA}.{table} SET (autovacuum_enabled = false)")
            )
        for table, condition in (
            ("cred_license_type", "true"),
            ("provider_cred", "true"),
            ("provider_cred_license", f"provider_cred_license_key <= {SMALL_LICENSES}"),
            ("license_history_head", f"provider_cred_license_key <= {SMALL_LICENSES}"),
        ):
            connection.execute(
                text(
                    f"INSERT INTO {SMALL_SCHEMA}.{table} "
                    f"SELECT * FROM {SCHEMA}.{table} WHERE {condition}"
                )
            )
        connection.commit()
        yield SMALL_SCHEMA
    finally:
        connection.rollback()
        connection.execute(text(f"DROP SCHEMA IF EXISTS {SMALL_SCHEMA} CASCADE"))
        connection.commit()
