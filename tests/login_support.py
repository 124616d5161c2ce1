"""Alice's logins through the API and the staff UI, and the Argon2 parameters the password
tests hash with (cheap, so the tests stay fast; ``OLDER`` is what a stored hash may predate)."""

from __future__ import annotations

from typing import Any

from argon2 import PasswordHasher

from tests.api_support import basic

PASSWORD = "correct horse"
#: Today's parameters in these tests (cheap, but not ``OLDER``'s).
TODAYS = PasswordHasher(time_cost=2, memory_cost=2048, parallelism=1)
#: Parameters a stored hash may have been made with (weaker: fewer passes, less memory).
OLDER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


def api_login(client: Any, api_key: str, password: str, username: str = "alice") -> Any:
    """``POST /user-authentication`` with Basic credentials, as a VBAPI client logs in."""
    headers = {
        "vbasoftware-database": "main",
        "x-api-key": api_key,
        "Authorization": basic(username, password),
    }
    return client.post("/user-authentication", headers=headers)


def ui_login(client: Any, password: str, username: str = "alice") -> Any:
    """The staff UI's login form, posted."""
    data = {"username": username, "password": password, "database": "main"}
    return client.post("/ui/login", data=data)
