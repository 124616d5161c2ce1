"""UI fixtures: a logged-in test client, the grid page as a form, licenses written by others."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from argon2 import PasswordHasher
from gridpage import GridPage

from app.auth import passwords
from app.licenses.service import upsert_licenses
from app.tenancy import session_scope
from tests.factories import grid_license

PASSWORD = "correct horse"


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Argon2 with minimal cost: UI tests log in often and test pages, not hashing."""
    monkeypatch.setattr(passwords, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024))
    yield


@pytest.fixture
def login(client: Any, make_user: Callable[..., str]) -> Callable[..., Any]:
    """``login("alice", role="viewer", database="main")``: create the user, log the client in."""

    def _login(username: str = "alice", role: str = "editor", database: str = "main") -> Any:
        make_user(username, PASSWORD, role=role, database=database)
        response = client.post(
            "/ui/login", data={"username": username, "password": PASSWORD, "database": database}
        )
        assert response.status_code == 302, response.data
        return client

    return _login


@pytest.fixture
def open_grid(client: Any) -> Callable[[int], GridPage]:
    def _open(provider_cred_key: int, viewer: Any = None) -> GridPage:
        response = (viewer or client).get(f"/ui/credentials/{provider_cred_key}/licenses")
        assert response.status_code == 200, response.data
        return GridPage(viewer or client, provider_cred_key, response.get_data(as_text=True))

    return _open


@pytest.fixture
def put_licenses(app: Any) -> Callable[..., list[Any]]:
    """Write licenses through the service, as another user or the API would."""

    def _put(
        provider_cred_key: int,
        *items: dict[str, Any],
        actor: str = "bob",
        database: str = "main",
        activity_id: str = "test-activity",
    ) -> list[Any]:
        full = [{"providerCred_Key": provider_cred_key, **item} for item in items]
        with app.app_context(), session_scope(database) as session:
            outcomes = upsert_licenses(
                session, provider_cred_key, full, actor=actor, activity_id=activity_id
            )
        assert all(o.ok for o in outcomes), outcomes
        return outcomes

    return _put


@pytest.fixture
def one_license_cred(make_cred: Any, put_licenses: Any) -> int:
    """ProviderCred 1 with one license, ``grid_license()`` (key 11)."""
    make_cred(1)
    put_licenses(1, grid_license())
    return 1
