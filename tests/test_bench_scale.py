"""``python -m bench --scale N`` runs end to end (PostgreSQL, a small N, in process only): the
build, the login it measures the UI with, and every read answering 200 in both phases."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest


def test_the_scale_benchmark_measures_every_read(backend: str, tmp_path: Path) -> None:
    if backend != "postgresql":
        pytest.skip("the scale benchmark runs on PostgreSQL")
    from bench import scale

    access = logging.getLogger("credgrid.access")
    level = access.level
    result = scale.main(os.environ["TEST_DATABASE_URL"], 2_000, tmp_path, with_http=False)

    # It silences the access lines while it measures, and gives them back: the tests after it
    # (in one process) read those lines.
    assert access.level == level
    assert result["scale"]["licenses"] == 2_000
    assert set(result["phases"]) == {"as loaded", "after VACUUM ANALYZE"}
    for phase, reads in result["phases"].items():
        assert len(reads) > 10, phase
        expected = {name: 207 if name == scale.BATCH else 200 for name in reads}
        assert {name: m["status"] for name, m in reads.items()} == expected, phase
        assert all(m["bytes"] > 0 for m in reads.values()), phase
    phases = result["phases"].values()
    # The batches of the first phase leave the second phase's reads the same data to answer.
    first, second = ({n: m["bytes"] for n, m in p.items() if n != scale.BATCH} for p in phases)
    assert first == second


def test_the_build_loads_without_foreign_keys_or_indexes_and_restores_them(
    backend: str, tmp_path: Path
) -> None:
    """The set-wise load runs with the loaded tables' foreign keys and secondary indexes
    dropped, and leaves them exactly as the migrations made them, enforced."""
    if backend != "postgresql":
        pytest.skip("the scale benchmark runs on PostgreSQL")
    from foundation_support import empty_database
    from sqlalchemy import create_engine, event, text
    from sqlalchemy.exc import IntegrityError

    from app.schema import upgrade_database
    from bench.scale_data import LOADED_TABLES, build

    catalog = text(
        """
        SELECT 'index', pg_get_indexdef(i.indexrelid), true
        FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid
        WHERE t.relnamespace = current_schema()::regnamespace AND t.relname = ANY(:tables)
        UNION ALL
        SELECT 'foreign key', c.conname || ' ' || pg_get_constraintdef(c.oid), c.convalidated
        FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid
        WHERE c.contype = 'f' AND t.relnamespace = current_schema()::regnamespace
          AND t.relname = ANY(:tables)
        ORDER BY 1, 2
        """
    )
    with empty_database(backend, tmp_path) as url:
        engine = create_engine(url)
        try:
            upgrade_database(engine)
            with engine.connect() as connection:
                before = connection.execute(catalog, {"tables": list(LOADED_TABLES)}).all()
            statements: list[str] = []
            event.listen(
                engine,
                "before_cursor_execute",
                lambda conn, cursor, statement, *args: statements.append(statement.strip()),
            )
            with engine.begin() as connection:
                build(connection, 1_000)
            with engine.connect() as connection:
                after = connection.execute(catalog, {"tables": list(LOADED_TABLES)}).all()
            assert after == before
            kinds = [kind for kind, _, _ in before]
            assert kinds.count("foreign key") == 2 and kinds.count("index") >= 10
            assert any("gin_trgm_ops" in definition for _, definition, _ in before)

            def positions(*starts: str, containing: str = "") -> list[int]:
                return [
                    n for n, s in enumerate(statements) if s.startswith(starts) and containing in s
                ]

            dropped = positions("DROP INDEX") + positions("ALTER TABLE", containing=" DROP ")
            made = positions("CREATE INDEX") + positions("ALTER TABLE", containing=" ADD ")
            loads = positions("INSERT INTO provider_cred", "INSERT INTO license_change")
            secondary = [d for kind, d, _ in before if kind == "index" and "UNIQUE" not in d]
            assert len(dropped) == len(made) == len(secondary) + 2  # and the two foreign keys
            assert len(loads) == 3
            assert max(dropped) < min(loads) and max(loads) < min(made)

            with pytest.raises(IntegrityError), engine.begin() as connection:
                connection.execute(
                    text(
                        "INSERT INTO provider_cred_license (provider_cred_license_key, "
                        "provider_cred_key, entry_date, update_date) "
                        "VALUES (9999999, 9999999, now(), now())"
                    )
                )
        finally:
            engine.dispose()


def test_the_builds_history_holds_its_hash_chains(backend: str, tmp_path: Path) -> None:
    """The load hashes each history row in SQL as the service does in Python: the chain
    check (``flask verify-history``) finds no break, and the heads are the rows' hashes."""
    if backend != "postgresql":
        pytest.skip("the scale benchmark runs on PostgreSQL")
    from foundation_support import empty_database
    from sqlalchemy import create_engine, text
    from sqlalchemy.orm import Session

    from app.history.verification import chain_breaks
    from app.schema import upgrade_database
    from bench.scale_data import build

    with empty_database(backend, tmp_path) as url:
        engine = create_engine(url)
        try:
            upgrade_database(engine)
            with engine.begin() as connection:
                build(connection, 300)
            with Session(engine) as session:
                assert list(chain_breaks(session)) == []
                heads = session.execute(text("SELECT count(*) FROM license_history_head"))
                assert heads.scalar() == 300
                session.execute(text("UPDATE license_change SET \"user\" = 'x' WHERE id = 7"))
                assert [b.license_key for b in chain_breaks(session)] == [7]
        finally:
            engine.dispose()


def test_the_scale_benchmark_runs_on_sqlite(backend: str, tmp_path: Path) -> None:
    """Without ``--postgres`` it builds the same spread of licenses in a SQLite file (the
    one-node size, bench/README.md) and measures every read, as loaded and after ANALYZE."""
    if backend != "sqlite":
        pytest.skip("once, on SQLite")
    from bench import scale

    result = scale.main(None, 2_000, tmp_path, with_http=False)
    assert result["scale"] == {"licenses": 2_000, "provider_creds": 400, "history": 2_000}
    assert set(result["phases"]) == {"as loaded", "after ANALYZE"}
    for phase, reads in result["phases"].items():
        expected = {name: 207 if name == scale.BATCH else 200 for name in reads}
        assert {name: m["status"] for name, m in reads.items()} == expected, phase
    assert (tmp_path / "sqlite" / "scale.db").exists()


def test_the_sqlite_builds_history_holds_its_hash_chains(backend: str, tmp_path: Path) -> None:
    """Each license's history row is sealed by the application's own chain: no break."""
    if backend != "sqlite":
        pytest.skip("the SQLite build")
    from sqlalchemy import create_engine, text
    from sqlalchemy.orm import Session

    from app.history.verification import chain_breaks
    from app.schema import upgrade_database
    from bench.scale_sqlite import build

    engine = create_engine(f"sqlite:///{tmp_path / 'built.db'}")
    try:
        upgrade_database(engine)
        with engine.begin() as connection:
            assert build(connection, 300)["licenses"] == 300
        with Session(engine) as session:
            assert list(chain_breaks(session)) == []
            expired = session.execute(
                text("SELECT count(*) FROM provider_cred_license WHERE term_date < :now"),
                {"now": "2026-01-01"},
            )
            assert 0 < expired.scalar() < 300
    finally:
        engine.dispose()
