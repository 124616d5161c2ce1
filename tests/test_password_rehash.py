"""A password hashed with older Argon2 parameters is hashed again on its next successful login,
through the API and through the staff UI; a failed login never rewrites it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import select, update

from app.auth import passwords, users
from app.auth.models import StaffUser
from tests import login_support
from tests.login_support import OLDER, PASSWORD, TODAYS, ui_login


@pytest.fixture(autouse=True)
def todays_hasher(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(passwords, "_hasher", TODAYS)
    yield


@pytest.fixture
def stored_hash(session_for: Callable[..., Any]) -> Callable[[], str]:
    def _read() -> str:
        with session_for() as session:
            return session.scalar(
                select(StaffUser.password_hash).where(StaffUser.username == "alice")
            )

    return _read


@pytest.fixture
def old_hash(make_user: Callable[..., str], session_for: Callable[..., Any]) -> str:
    """Alice, whose stored hash was made with the older parameters."""
    make_user("alice", PASSWORD)
    made = OLDER.hash(PASSWORD)
    with session_for() as session:
        session.execute(
            update(StaffUser).where(StaffUser.username == "alice").values(password_hash=made)
        )
        session.commit()
    return made


@pytest.fixture
def api_login(client: Any, make_api_key: Callable[..., str]) -> Callable[[str], Any]:
    key = make_api_key()
    return lambda password: login_support.api_login(client, key, password)


def assert_upgraded(stored: str, old: str) -> None:
    assert stored != old
    assert not TODAYS.check_needs_rehash(stored)
    assert TODAYS.verify(stored, PASSWORD)


def test_an_api_login_stores_the_hash_with_todays_parameters(
    old_hash: str, api_login: Callable[[str], Any], stored_hash: Callable[[], str]
) -> None:
    assert api_login(PASSWORD).status_code == 200
    upgraded = stored_hash()
    assert_upgraded(upgraded, old_hash)
    assert api_login(PASSWORD).status_code == 200
    assert stored_hash() == upgraded  # a current hash is not made again


def test_a_failed_api_login_never_rewrites_the_hash(
    old_hash: str, api_login: Callable[[str], Any], stored_hash: Callable[[], str]
) -> None:
    assert api_login("wrong horse").status_code == 401
    assert stored_hash() == old_hash


def test_a_ui_login_stores_the_hash_with_todays_parameters(
    old_hash: str, client: Any, stored_hash: Callable[[], str]
) -> None:
    assert ui_login(client, PASSWORD).status_code == 302
    upgraded = stored_hash()
    assert_upgraded(upgraded, old_hash)
    client.post("/ui/logout")
    assert ui_login(client, PASSWORD).status_code == 302
    assert stored_hash() == upgraded
    assert client.get("/ui/credentials").status_code == 200


def test_a_failed_ui_login_never_rewrites_the_hash(
    old_hash: str, client: Any, stored_hash: Callable[[], str]
) -> None:
    response = ui_login(client, "wrong horse")
    assert response.status_code == 200
    assert b"not correct" in response.data
    assert stored_hash() == old_hash


def test_a_password_set_meanwhile_is_not_replaced_by_the_old_ones_upgrade(
    old_hash: str, session_for: Callable[..., Any], stored_hash: Callable[[], str]
) -> None:
    with session_for() as session:
        user = session.scalars(select(StaffUser)).one()
        upgrade = users.password_upgrade(user, PASSWORD)
    assert upgrade is not None
    with session_for() as session:
        users.set_password(session, "alice", "a new password")
        session.commit()
    with session_for() as session:
        users.store_password_upgrade(session, upgrade)
        session.commit()
    assert TODAYS.verify(stored_hash(), "a new password")


def test_a_current_hash_needs_no_upgrade(
    make_user: Callable[..., str], session_for: Callable[..., Any]
) -> None:
    make_user("alice", PASSWORD)
    with session_for() as session:
        assert users.password_upgrade(session.scalars(select(StaffUser)).one(), PASSWORD) is None
