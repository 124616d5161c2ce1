"""Every statement of the batch path uses its index however stale the statistics (PostgreSQL).

The same freshly loaded, never analysed database as ``tests/test_read_plans.py`` (30,000
licenses, autovacuum off): a small and a large batch into an existing ProviderCred and a
delete run through the app while their statements are recorded, and each statement is then
explained with the parameters it ran with (those sent in a pipeline, ``app.pg_pipeline``, as
the driver got them). No plan may read the license, history or heads
table sequentially.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import event, text

from app import pg_pipeline
from tests.factories import license_item
from tests.test_read_plans import api_headers, loaded  # noqa: F401 (the module's fixture)

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
        for statement, params in steps:
            recorded.append(pg_pipeline.driver_sql(connection.dialect, statement, params))
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
    with engine.connect() as connection:
        cursor = connection.connection.driver_connection.cursor()
        for statement, parameters in recorded:
            cursor.execute("EXPLAIN " + statement, parameters)
            plan = [row[0] for row in cursor.fetchall()]
            scans = [
                line.strip()
                for line in plan
                if "Seq Scan" in line and any(f" on {t}" in line for t in BATCH_TABLES)
            ]
            if scans:
                offenders.append((statement[:120], scans))
        analysed = connection.execute(
            text("SELECT count(*) FROM pg_stats WHERE schemaname = current_schema()")
        ).scalar()
    assert analysed == 0  # still never analysed
    assert offenders == []
