"""``python -m bench --scale N`` runs end to end (PostgreSQL, a small N, in process only): the
build, the login it measures the UI with, and every read answering 200 in both phases."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def test_the_scale_benchmark_measures_every_read(backend: str, tmp_path: Path) -> None:
    if backend != "postgresql":
        pytest.skip("the scale benchmark runs on PostgreSQL")
    from bench import scale

    result = scale.main(os.environ["TEST_DATABASE_URL"], 2_000, tmp_path, with_http=False)

    assert result["scale"]["licenses"] == 2_000
    assert set(result["phases"]) == {"as loaded", "after VACUUM ANALYZE"}
    for phase, reads in result["phases"].items():
        assert len(reads) > 10, phase
        failed = {name: m["status"] for name, m in reads.items() if m["status"] != 200}
        assert failed == {}, phase
        assert all(m["bytes"] > 0 for m in reads.values()), phase
