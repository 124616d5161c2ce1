"""The per-API-key rate limit (SPEC section 7): 429 with Retry-After, in the envelope."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from limits.storage import MemoryStorage

from app.api.rate_limit import SweptMemoryStorage
from app.config import ConfigError
from tests.helpers import BATCH_URL


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    return {**app_config, "RATE_LIMIT": "3 per minute"}


def test_over_the_limit_is_429_per_api_key(
    client: Any, auth_headers: Any, make_cred: Any, make_api_key: Any
) -> None:
    make_cred(1)
    headers = auth_headers()
    url = BATCH_URL.format(cred=1)
    statuses = [client.put(url, json=[], headers=headers).status_code for _ in range(4)]
    assert statuses == [207, 207, 207, 429]
    response = client.put(url, json=[], headers=headers)
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) > 0
    body = response.get_json()
    assert body["data"] is None and body["error"]["status"] == 429
    # Another key has its own budget; health checks are never limited.
    other = client.put(url, json=[], headers={**headers, "x-api-key": make_api_key()})
    assert other.status_code != 429
    assert all(client.get("/healthz").status_code == 200 for _ in range(5))


def test_bad_rate_limit_is_a_config_error(app_config: dict[str, Any]) -> None:
    from app import create_app

    with pytest.raises(ConfigError, match="FLASK_RATE_LIMIT must be a rate"):
        create_app({**app_config, "RATE_LIMIT": "lots"})


def count_thread_starts(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    started: list[str] = []
    real_start = threading.Thread.start

    def start(thread: threading.Thread) -> None:
        started.append(thread.name)
        real_start(thread)

    monkeypatch.setattr(threading.Thread, "start", start)
    return started


@pytest.mark.parametrize(("storage_class", "threads"), [(MemoryStorage, True), (None, False)])
def test_the_default_counters_start_no_thread_per_hit(
    app: Any, monkeypatch: pytest.MonkeyPatch, storage_class: Any, threads: bool
) -> None:
    """limits' own memory storage starts a sweeping thread again and again under load; the
    default storage sweeps inline (the control row shows the test can tell them apart)."""
    from app.api.rate_limit import limiter

    assert isinstance(limiter.storage, SweptMemoryStorage)
    storage = (storage_class or SweptMemoryStorage)("memory://")
    time.sleep(0.05)  # the constructor's one-off timer is done
    started = count_thread_starts(monkeypatch)
    for _ in range(5):
        storage.incr("key", expiry=60)
        time.sleep(0.02)  # past the 10 ms timer of limits' storage
    assert bool(started) is threads
    assert storage.get("key") == 5


def test_expired_counters_are_swept_and_live_ones_kept() -> None:
    storage = SweptMemoryStorage("credgrid-memory://")
    time.sleep(0.05)  # the constructor's one-off timer is done
    storage.incr("gone", expiry=0.01)
    storage.incr("kept", expiry=60)
    time.sleep(0.02)
    storage.incr("kept", expiry=60)  # within the sweep interval: nothing swept yet
    assert "gone" in storage.storage
    storage._next_sweep = 0.0  # the interval has passed
    storage.incr("kept", expiry=60)
    assert "gone" not in storage.storage and "gone" not in storage.expirations
    assert storage.get("kept") == 3


class _DroppedMidSweep(dict):  # type: ignore[type-arg]
    """Expirations whose key another thread drops between the sweep's listing and reading."""

    def keys(self) -> Any:
        return ["dropped", *super().keys()]


def test_a_key_dropped_by_another_thread_mid_sweep_is_no_error() -> None:
    storage = SweptMemoryStorage("credgrid-memory://")
    time.sleep(0.05)
    storage.expirations = _DroppedMidSweep(storage.expirations)
    storage._next_sweep = 0.0
    assert storage.incr("key", expiry=60) == 1
