"""A login hashes its password with no database transaction open, through the API and the
staff UI, right or wrong password, and when it hashes the password again with today's
parameters.

A login is a POST, so its session is a writer's: on SQLite its first read (the API key, the
user) began with ``BEGIN IMMEDIATE`` and held the database's one write lock through the
Argon2 check, about half a second in production, so every batch, grid Save and other login
of every worker waited for it (eight workers logging in at once took up to 13 s each); on
PostgreSQL the transaction sat idle in transaction as long.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import g
from sqlalchemy import update

from app.auth import passwords, users
from app.auth.models import StaffUser
from tests import login_support
from tests.login_support import OLDER, PASSWORD, TODAYS, ui_login


def open_transactions() -> list[str]:
    """The request's database sessions that have a transaction open."""
    return [name for name, session in g.get("db_sessions", {}).items() if session.in_transaction()]


@pytest.fixture
def hashed_inside(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The databases with a transaction open while a password was hashed (one entry per
    hashing with any open); the hashing itself runs as usual."""
    seen: list[str] = []
    monkeypatch.setattr(passwords, "_hasher", TODAYS)

    def watched(hashing: Callable[..., Any]) -> Callable[..., Any]:
        def _hash(*args: Any) -> Any:
            seen.extend(open_transactions())
            return hashing(*args)

        return _hash

    monkeypatch.setattr(users, "verify_password", watched(passwords.verify_password))
    monkeypatch.setattr(users, "rehashed", watched(passwords.rehashed))
    yield seen


@pytest.fixture
def alice(make_user: Callable[..., str]) -> str:
    return make_user("alice", PASSWORD)


@pytest.fixture
def api_login(client: Any, make_api_key: Callable[..., str]) -> Callable[[str], Any]:
    key = make_api_key()
    return lambda password: login_support.api_login(client, key, password)


@pytest.mark.parametrize(("password", "status"), [(PASSWORD, 200), ("wrong horse", 401)])
def test_an_api_login_hashes_with_no_transaction_open(
    alice: str,
    api_login: Callable[[str], Any],
    hashed_inside: list[str],
    password: str,
    status: int,
) -> None:
    assert api_login(password).status_code == status
    assert hashed_inside == []


@pytest.mark.parametrize(("password", "status"), [(PASSWORD, 302), ("wrong horse", 200)])
def test_a_ui_login_hashes_with_no_transaction_open(
    alice: str, client: Any, hashed_inside: list[str], password: str, status: int
) -> None:
    assert ui_login(client, password).status_code == status
    assert hashed_inside == []


def test_a_login_that_upgrades_the_hash_hashes_with_no_transaction_open(
    alice: str,
    api_login: Callable[[str], Any],
    client: Any,
    session_for: Callable[..., Any],
    hashed_inside: list[str],
) -> None:
    for login in (api_login, lambda password: ui_login(client, password)):
        with session_for() as session:
            session.execute(
                update(StaffUser)
                .where(StaffUser.username == "alice")
                .values(password_hash=OLDER.hash(PASSWORD))
            )
            session.commit()
        assert login(PASSWORD).status_code in (200, 302)
    assert hashed_inside == []
