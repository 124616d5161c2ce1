"""The per-API-key rate limit (SPEC section 7): 429 with Retry-After, in the envelope."""

from __future__ import annotations

from typing import Any

import pytest

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
