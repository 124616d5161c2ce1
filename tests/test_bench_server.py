"""The benchmark's bare route and HTTP floor exist only when the config asks for them, and
never in the app."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app import create_app
from bench.http_floor import floor_path
from bench.server import BARE_PATH
from bench.server import create_app as create_bench_app
from tests.conftest import TEST_SECRET


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FLASK_DATABASES", json.dumps({"main": f"sqlite:///{tmp_path / 'b.db'}"}))
    monkeypatch.setenv("FLASK_SECRET_KEY", TEST_SECRET)


@pytest.mark.parametrize(("setting", "status"), [(None, 404), ("false", 404), ("true", 200)])
def test_bare_route_is_opt_in(
    environment: None, monkeypatch: pytest.MonkeyPatch, setting: str | None, status: int
):
    if setting is not None:
        monkeypatch.setenv("FLASK_BENCH_ENDPOINTS", setting)
    response = create_bench_app().test_client().get(BARE_PATH)
    assert response.status_code == status
    if status == 200:
        assert response.get_json()["data"] == {"ok": True}
        assert response.headers["X-Activity-ID"]


def test_the_application_never_has_it(environment: None, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("FLASK_BENCH_ENDPOINTS", "true")
    client = create_app().test_client()
    assert client.get(BARE_PATH).status_code == 404
    assert client.put(floor_path(1), json=[]).status_code == 404
