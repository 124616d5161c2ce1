"""``Retry-After`` and Flask-Limiter's ``X-RateLimit-Retry-After`` say the same wait, in whole
seconds and at least 1 on a refusal (RFC 9110 delta-seconds): on the rate limit's 429, on the
login throttle's 429s (API and UI), and on other answers.

Flask-Limiter rounded its header down, past the answer's own ``Retry-After``: a 429 saying
``Retry-After: 1`` carried ``X-RateLimit-Retry-After: 0``, every other one a second less.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import pytest

from app.auth.throttle import EXTENSION_KEY
from tests.helpers import BATCH_URL
from tests.login_support import PASSWORD, api_login

LIMITER_HEADER = "X-RateLimit-Retry-After"


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    return {
        **app_config,
        "RATE_LIMIT": "2 per 3 seconds",
        "AUTH_FAILURE_RATE_LIMIT": "60 per minute",
    }


def assert_one_wait(response: Any) -> int:
    """The wait both headers say, whole seconds, at least 1."""
    wait = response.headers["Retry-After"]
    assert response.headers[LIMITER_HEADER] == wait
    assert wait.isdigit() and int(wait) >= 1
    return int(wait)


def test_the_rate_limits_429_says_one_wait_in_both_headers(
    client: Any, auth_headers: Callable[..., dict[str, str]], make_cred: Callable[..., int]
) -> None:
    make_cred(1)
    headers, url = auth_headers(), BATCH_URL.format(cred=1)
    assert [client.put(url, json=[], headers=headers).status_code for _ in range(2)] == [207, 207]
    refusals = 0
    deadline = time.monotonic() + 4
    while time.monotonic() < deadline:  # through the window, to its last fraction of a second
        response = client.put(url, json=[], headers=headers)
        if response.status_code != 429:
            break
        refusals += 1
        wait = assert_one_wait(response)
        assert wait <= 4  # the 3 s window, rounded up, past Flask-Limiter's whole reset second
        assert f"Try again in {wait} second" in response.get_json()["error"]["detail"]
        time.sleep(0.2)
    assert refusals >= 5


def test_an_answer_that_is_not_refused_says_the_wait_for_its_window_rounded_up(
    client: Any, auth_headers: Callable[..., dict[str, str]], make_cred: Callable[..., int]
) -> None:
    make_cred(1)
    response = client.put(BATCH_URL.format(cred=1), json=[], headers=auth_headers())
    assert response.status_code == 207
    assert "Retry-After" not in response.headers
    reset = int(response.headers["X-RateLimit-Reset"])
    assert int(response.headers[LIMITER_HEADER]) in {
        math.ceil(reset - time.time()),
        math.ceil(reset - time.time()) + 1,  # a second that ended since the answer
    }


@pytest.fixture
def throttled(app: Any) -> Any:
    throttle = app.extensions[EXTENSION_KEY]
    throttle.base_delay, throttle.max_delay, throttle.address_free_failures = 2.0, 60.0, 100
    return throttle


def test_the_api_login_throttles_429_says_one_wait_in_both_headers(
    client: Any,
    make_user: Callable[..., str],
    make_api_key: Callable[..., str],
    throttled: Any,
) -> None:
    make_user("alice", PASSWORD)
    key = make_api_key()
    assert api_login(client, key, "wrong password").status_code == 401
    refused = api_login(client, key, PASSWORD)
    assert refused.status_code == 429
    assert assert_one_wait(refused) == 2


def test_the_ui_login_throttles_429_says_one_wait_in_both_headers(
    client: Any, make_user: Callable[..., str], throttled: Any
) -> None:
    make_user("alice", PASSWORD)
    form = {"username": "alice", "password": "wrong password", "database": "main"}
    assert client.post("/ui/login", data=form).status_code == 200
    refused = client.post("/ui/login", data={**form, "password": PASSWORD})
    assert refused.status_code == 429
    assert assert_one_wait(refused) == 2
