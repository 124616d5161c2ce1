"""``python -m bench.compare``: checkouts side by side in interleaved HTTP rounds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app import create_app
from bench.compare import prepare_checkout, summary
from bench.workload import CRED_KEY

ROOT = Path(__file__).resolve().parent.parent


def test_the_share_is_the_median_of_each_rounds_own_share() -> None:
    rounds = {
        "a": [
            {"bare_rps": 1000.0, "batch_rps": 300.0, "cpu_ms": 4.0},
            {"bare_rps": 2000.0, "batch_rps": 500.0, "cpu_ms": 5.0},
            {"bare_rps": 1500.0, "batch_rps": 600.0, "cpu_ms": 3.0},
        ]
    }
    figures = summary(rounds)["a"]
    assert figures["share"] == pytest.approx(0.3)  # of 0.3, 0.25, 0.4; medians' ratio: 1/3
    assert (figures["bare_rps"], figures["batch_rps"], figures["cpu_ms"]) == (1500, 500, 4.0)


def test_a_checkout_prepares_its_database_with_its_own_code(tmp_path: Path) -> None:
    if not (ROOT / ".venv" / "bin" / "python").exists():
        pytest.skip("the checkout's .venv is what runs its code")
    setup = prepare_checkout(ROOT, tmp_path / "db")
    app = create_app(
        {"DATABASES": setup["databases"], "SECRET_KEY": setup["secret"], "TESTING": True}
    )
    headers = {"vbasoftware-database": setup["name"], **setup["headers"]}
    path = f"/provider-credentialing/{CRED_KEY}/licenses"
    response = app.test_client().get(path, headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert json.loads(response.get_data())["data"] == []  # the benchmark's empty ProviderCred
