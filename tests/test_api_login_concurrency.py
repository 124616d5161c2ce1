"""Concurrent logins each write a refresh token; none may fail with "database is locked"."""

from __future__ import annotations

import base64
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

LOGINS = 16


def test_concurrent_logins_all_succeed(
    app: Any, make_user: Callable[..., str], make_api_key: Callable[..., str]
) -> None:
    make_user("alice", "correct horse")
    key = make_api_key()
    basic = base64.b64encode(b"alice:correct horse").decode()
    headers = {
        "vbasoftware-database": "main",
        "x-api-key": key,
        "Authorization": f"Basic {basic}",
    }

    def login(_: int) -> int:
        return app.test_client().post("/user-authentication", headers=headers).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(login, range(LOGINS)))
    assert statuses == [200] * LOGINS
