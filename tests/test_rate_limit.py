"""The per-API-key rate limit (SPEC section 7): 429 with Retry-After, in the envelope."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest

from app.config import ConfigError
from tests.helpers import BATCH_URL


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    # The failure budget at its default: the headers then describe the per-key limit.
    return {**app_config, "RATE_LIMIT": "3 per minute", "AUTH_FAILURE_RATE_LIMIT": "60 per minute"}


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
    assert 1 <= int(response.headers["Retry-After"]) <= 61  # the window, in whole seconds
    body = response.get_json()
    assert body["data"] is None and body["error"]["status"] == 429
    wait = int(response.headers["Retry-After"])
    assert body["error"]["detail"] == (
        f"Too many requests for this API key (3 per minute). Try again in {wait} second"
        + ("s." if wait != 1 else ".")
    )
    # Another key has its own budget; health checks are never limited.
    other = client.put(url, json=[], headers={**headers, "x-api-key": make_api_key()})
    assert other.status_code != 429
    assert all(client.get("/healthz").status_code == 200 for _ in range(5))
    assert all(client.get("/vbasoftware/healthz").status_code == 200 for _ in range(5))
    assert all(client.get("/vbasoftware/openapi.json").status_code == 200 for _ in range(5))


def access_lines(caplog: pytest.LogCaptureFixture, requests: Callable[[], None]) -> list[str]:
    logger = logging.getLogger("credgrid.access")
    logger.addHandler(caplog.handler)
    try:
        requests()
    finally:
        logger.removeHandler(caplog.handler)
    return [r.getMessage() for r in caplog.records if r.name == "credgrid.access"]


def test_a_429_line_names_the_database_user_and_key_as_the_others_do(
    client: Any,
    auth_headers: Any,
    make_cred: Any,
    make_api_key: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A request refused by the rate limit is refused before it is authenticated: its line
    named the client address alone, not the database nor the user whose budget it spent. It
    names them as the key's other lines do (the token's user; the key's label only the
    database knows), without a query and never the key or the token."""
    make_cred(1)
    headers = auth_headers()
    url = BATCH_URL.format(cred=1)
    lines = access_lines(
        caplog, lambda: [client.put(url, json=[], headers=headers) for _ in range(4)]
    )
    allowed, refused = lines[0], lines[3]
    assert " status=207 " in allowed and " status=429 " in refused
    actor = allowed[allowed.index(" database=") :]
    assert "user='editor-main'" in actor and " api_key='key-" in actor, actor
    assert refused.endswith(actor[: actor.index(" api_key=")]), refused
    unknown = {**headers, "x-api-key": "cg_made_up_key"}
    caplog.clear()
    lines = access_lines(
        caplog, lambda: [client.get("/licenses/monitoring-runs", headers=unknown) for _ in range(4)]
    )
    assert " status=429 " in lines[3]
    assert lines[3].endswith(" database=main user='editor-main'"), lines[3]
    for secret in (headers["x-api-key"], headers["Authorization"][7:], "cg_made_up_key"):
        assert secret not in caplog.text


def test_requests_without_an_api_key_are_counted_and_told_per_address(client: Any) -> None:
    url = BATCH_URL.format(cred=1)
    statuses = [client.put(url, json=[]).status_code for _ in range(4)]
    assert statuses[3] == 429 and 429 not in statuses[:3]
    detail = client.put(url, json=[]).get_json()["error"]["detail"]
    assert detail.startswith("Too many requests from this address (3 per minute). Try again in")


def test_bad_rate_limit_is_a_config_error(app_config: dict[str, Any]) -> None:
    from app import create_app

    with pytest.raises(ConfigError, match="FLASK_RATE_LIMIT must be a rate"):
        create_app({**app_config, "RATE_LIMIT": "lots"})


def test_only_a_refusal_carries_retry_after(client: Any, auth_headers: Any, make_cred: Any) -> None:
    """Flask-Limiter's own header goes under its own name: Retry-After is an answer's, only on
    a 429 or 503 (a 207 with one would tell a client to wait for nothing)."""
    make_cred(1)
    response = client.put(BATCH_URL.format(cred=1), json=[], headers=auth_headers())
    assert response.status_code == 207
    assert "Retry-After" not in response.headers
    assert response.headers["X-RateLimit-Limit"] == "3"


def test_a_429_survives_a_storage_that_fails_while_it_is_answered(
    app: Any, monkeypatch: Any, caplog: Any
) -> None:
    """Retry-After reads the limit's storage again: if that fails now, the answer is still
    the 429 (waiting a second), never a 500."""
    from app.api import rate_limit

    class Window:
        @property
        def reset_at(self) -> int:  # read from the storage (limits' get_window_stats)
            raise ConnectionError("redis went away")

    class Failing:
        current_limit = Window()

    monkeypatch.setattr(rate_limit, "limiter", Failing())
    with app.test_request_context("/provider-credentialing/1/licenses-batch"):
        assert rate_limit.retry_after_seconds() == 1
    assert "rate limit storage unreadable" in caplog.text
