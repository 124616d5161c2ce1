"""The benchmark's seeder: on SQLite, for the phases, it leaves the WAL checkpointed, so no
timed run pays a checkpoint that the runs before it made due (bench/databases.py)."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from bench.databases import Seeder, prepare, sqlite_database
from bench.workload import batch


@pytest.mark.parametrize("checkpoint", [False, True])
def test_the_seeder_checkpoints_the_wal_when_asked(
    backend: str, tmp_path: Path, checkpoint: bool
) -> None:
    if backend != "sqlite":
        pytest.skip("SQLite's write-ahead log")
    database = sqlite_database(tmp_path)
    prepare(database)
    assert database.path is not None
    seeder = Seeder(database, checkpoint=checkpoint)
    try:
        seeder.seed(batch(1_000_000, 10).items)
        # The database file alone, without its WAL: it holds the rows once checkpointed.
        alone = tmp_path / "alone.db"
        shutil.copyfile(database.path, alone)
    finally:
        seeder.close()
    with sqlite3.connect(alone) as connection:
        (count,) = connection.execute(
            "SELECT count(*) FROM provider_cred_license WHERE provider_cred_license_key >= ?",
            (1_000_000,),
        ).fetchone()
    assert count == (10 if checkpoint else 0)
