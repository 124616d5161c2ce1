"""Tokens bound to the user (issue 15 item 4) and the shared login throttle on the API."""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from app.audit import utcnow
from app.auth import users
from app.auth.login_check import seconds_wording
from app.auth.models import RefreshToken, StaffUser
from app.auth.throttle import EXTENSION_KEY
from app.auth.users import (
    create_user,
    delete_user,
    set_disabled,
    set_password,
    set_role,
)
from tests.api_support import basic
from tests.helpers import BATCH_URL


@pytest.fixture
def api(client: Any, make_user: Any, make_api_key: Any) -> Any:
    """``api.login()`` → authenticationResult; ``api.batch(result)`` → status of a batch."""
    make_user("alice", "correct horse")
    key = make_api_key()

    class Api:
        api_key = key

        def login(self, username: str = "alice", password: str = "correct horse") -> Any:
            return client.post(
                "/user-authentication",
                headers={
                    "vbasoftware-database": "main",
                    "x-api-key": key,
                    "Authorization": basic(username, password),
                },
            )

        def tokens(self) -> dict[str, Any]:
            response = self.login()
            assert response.status_code == 200, response.data
            return response.get_json()["data"]["authenticationResult"]

        def batch(self, result: dict[str, Any]) -> int:
            return client.put(
                BATCH_URL.format(cred=1),
                json=[],
                headers={
                    "vbasoftware-database": "main",
                    "x-api-key": key,
                    "Authorization": f"Bearer {result['idToken']}",
                },
            ).status_code

        def refresh(self, result: dict[str, Any]) -> Any:
            return client.post(
                "/user-refresh-tokens",
                headers={
                    "vbasoftware-database": "main",
                    "x-api-key": key,
                    "expired-id-token": result["idToken"],
                    "refresh-token": result["refreshToken"],
                },
            )

    return Api()


@pytest.mark.parametrize(
    "change",
    [
        lambda s: set_role(s, "alice", "viewer"),
        lambda s: set_password(s, "alice", "a new password"),
        lambda s: set_disabled(s, "alice", True),
        lambda s: delete_user(s, "alice"),
    ],
    ids=["role", "password", "disable", "delete"],
)
def test_a_user_change_revokes_access_and_refresh_tokens(
    api: Any, make_cred: Any, session_for: Any, change: Any
) -> None:
    make_cred(1)
    result = api.tokens()
    assert api.batch(result) == 207
    with session_for() as session:
        change(session)
        session.commit()
    assert api.batch(result) == 401
    assert api.refresh(result).status_code == 401


@pytest.mark.parametrize(
    "change",
    [
        lambda s: set_password(s, "alice", "a new password"),
        lambda s: set_role(s, "alice", "viewer"),
    ],
    ids=["password", "role"],
)
def test_a_user_change_during_the_login_check_gives_no_tokens(
    api: Any,
    make_cred: Any,
    session_for: Any,
    monkeypatch: pytest.MonkeyPatch,
    change: Any,
) -> None:
    """The change commits (on another node, say) while the old password is being verified:
    the login issued tokens under the new stamp, which outlived the change meant to end them.
    The check holds no transaction (tests/test_login_hashing_outside_transaction.py), so on
    SQLite too the change commits during it."""
    make_cred(1)
    verify = users.verify_password

    def verify_then_change(stored: str | None, password: str) -> bool:
        ok = verify(stored, password)
        with session_for() as session:
            change(session)
            session.commit()
        return ok

    monkeypatch.setattr(users, "verify_password", verify_then_change)
    response = api.login()
    assert response.status_code == 401, response.get_json()
    assert "changed while this login was checked" in response.get_json()["error"]["detail"]
    monkeypatch.setattr(users, "verify_password", verify)
    with session_for() as session:  # nothing the refused login did outlived the change
        assert not session.scalars(select(RefreshToken)).all()


def test_a_user_disabled_by_hand_during_the_login_check_gives_no_tokens(
    api: Any, make_cred: Any, session_for: Any, monkeypatch: pytest.MonkeyPatch, backend: str
) -> None:
    """An UPDATE run by hand disables the user, its stamp unchanged, while the password is
    verified: the login reads ``disabled`` itself again, as the tokens' check does."""
    if backend == "sqlite":
        pytest.skip("the login holds SQLite's write lock while it checks the password")
    make_cred(1)
    verify = users.verify_password

    def verify_then_disable(stored: str | None, password: str) -> bool:
        ok = verify(stored, password)
        with session_for() as session:
            session.execute(update(StaffUser).values(disabled=True))
            session.commit()
        return ok

    monkeypatch.setattr(users, "verify_password", verify_then_disable)
    response = api.login()
    assert response.status_code == 401, response.get_json()
    assert response.get_json()["error"]["detail"] == "Wrong username or password."
    with session_for() as session:
        assert not session.scalars(select(RefreshToken)).all()


def test_re_creating_a_user_name_does_not_revive_the_old_tokens(
    api: Any, make_cred: Any, session_for: Any
) -> None:
    make_cred(1)
    result = api.tokens()
    with session_for() as session:
        delete_user(session, "alice")
        session.commit()
        # Same name, and on SQLite even the same id (the highest deleted id is reused).
        create_user(session, "alice", "correct horse")
        session.commit()
    assert api.batch(result) == 401
    assert api.refresh(result).status_code == 401
    assert api.batch(api.tokens()) == 207


def test_a_disabled_user_cannot_log_in_and_enabling_revives_no_token(
    api: Any, make_cred: Any, session_for: Any
) -> None:
    make_cred(1)
    result = api.tokens()
    with session_for() as session:
        set_disabled(session, "alice", True)
        session.commit()
    assert api.login().status_code == 401
    with session_for() as session:
        set_disabled(session, "alice", False)
        session.commit()
    assert api.batch(result) == 401
    assert api.login().status_code == 200


def test_a_user_marked_disabled_is_refused_even_with_its_stamp_unchanged(
    api: Any, make_cred: Any, session_for: Any
) -> None:
    """The tokens' check reads ``disabled`` itself, not only the stamp that ``set_disabled``
    renews: a user disabled by an UPDATE run by hand is refused at once too."""
    make_cred(1)
    result = api.tokens()
    with session_for() as session:
        session.execute(update(StaffUser).values(disabled=True))
        session.commit()
    assert api.batch(result) == 401
    assert api.refresh(result).status_code == 401


def test_an_expired_refresh_token_gives_no_tokens(api: Any, session_for: Any) -> None:
    result = api.tokens()
    with session_for() as session:
        session.execute(update(RefreshToken).values(expires_at=utcnow() - timedelta(seconds=1)))
        session.commit()
    assert api.refresh(result).status_code == 401


def test_a_reused_refresh_token_revokes_the_token_it_was_rotated_into(
    api: Any, make_cred: Any, session_for: Any
) -> None:
    make_cred(1)
    first = api.tokens()
    rotated = api.refresh(first).get_json()["data"]["authenticationResult"]
    assert api.batch(rotated) == 207
    assert api.refresh(first).status_code == 401  # the copy is presented again
    assert api.batch(rotated) == 401
    assert api.refresh(rotated).status_code == 401
    with session_for() as session:
        assert session.scalars(select(RefreshToken)).all() == []


def test_refresh_tokens_of_one_family_chain(api: Any, session_for: Any) -> None:
    first = api.tokens()
    second = api.refresh(first).get_json()["data"]["authenticationResult"]
    third = api.refresh(second).get_json()["data"]["authenticationResult"]
    assert third["refreshToken"] not in (first["refreshToken"], second["refreshToken"])
    with session_for() as session:
        families = set(session.scalars(select(RefreshToken.family)))
        alice = session.scalars(select(StaffUser.id)).one()
        owners = set(session.scalars(select(RefreshToken.user_id)))
    assert len(families) == 1 and owners == {alice}


@pytest.fixture
def throttled(app: Any) -> Any:
    """The app's login throttle with a 2 s base wait and 3 free failures per address."""
    throttle = app.extensions[EXTENSION_KEY]
    throttle.base_delay, throttle.address_free_failures = 2.0, 3
    return throttle


def test_the_api_login_is_throttled_per_account_and_logged(
    api: Any, throttled: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="credgrid.login")
    assert api.login(password="wrong password").status_code == 401
    refused = api.login()  # the right password, inside the wait: not even checked
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "2"  # what the detail says
    assert refused.get_json()["error"]["detail"] == (
        "Too many failed logins. Try again in 2 seconds."
    )
    lines = [r.getMessage() for r in caplog.records if r.name == "credgrid.login"]
    assert re.fullmatch(
        "login failed via=api user='alice' database=main client=127.0.0.1 activity=[0-9a-f-]{36}",
        lines[0],
    )
    assert lines[1].startswith("login throttled via=api user='alice'")
    assert not any("wrong password" in line or "correct horse" in line for line in lines)


def test_a_long_attempted_username_is_cut_in_the_log(
    api: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="credgrid.login")
    assert api.login(username="x" * 5000, password="wrong").status_code == 401
    lines = [r.getMessage() for r in caplog.records if r.name == "credgrid.login"]
    (line,) = lines
    assert line.startswith(
        f"login failed via=api user='{'x' * 40}'…(5000 characters) database=main client=127.0.0.1"
        " activity="
    )


def test_the_ui_and_the_api_share_one_throttle(api: Any, throttled: Any, client: Any) -> None:
    client.post(
        "/ui/login",
        data={"username": "Alice", "password": "wrong password", "database": "main"},
    )
    assert api.login().status_code == 429


def test_one_address_spraying_accounts_is_slowed_after_its_free_failures(
    api: Any, throttled: Any
) -> None:
    for name in ("u1", "u2", "u3"):
        assert api.login(name, "wrong password").status_code == 401
    assert api.login("u4", "wrong password").status_code == 401  # 4th: the address waits now
    assert api.login("u5", "wrong password").status_code == 429


@pytest.mark.parametrize("path", ["/user-authentication", "/ui/login"])
def test_login_routes_are_rate_limited_per_address_before_hashing(
    fresh_app: Any, path: str, monkeypatch: pytest.MonkeyPatch, make_api_key: Any
) -> None:
    """Each attempt is a complete one (the API's headers, the page's form), so the first two
    reach the password check; the third is refused before it."""
    from app.auth import users

    hashed: list[str] = []
    monkeypatch.setattr(users, "verify_password", lambda h, p: hashed.append(p) or False)
    key = make_api_key()
    app = fresh_app(LOGIN_RATE_LIMIT="2 per minute")
    client = app.test_client()

    def attempt(i: int) -> Any:
        if path == "/ui/login":
            return client.post(
                path, data={"username": f"u{i}", "password": "pw", "database": "main"}
            )
        headers = {
            "vbasoftware-database": "main",
            "x-api-key": key,
            "Authorization": basic(f"u{i}", "pw"),
        }
        return client.post(path, headers=headers)

    answers = [attempt(i) for i in range(3)]
    statuses = [answer.status_code for answer in answers]
    assert statuses == [200 if path == "/ui/login" else 401] * 2 + [429]
    assert hashed == ["pw", "pw"]  # the first two were checked, the third never was
    # What happened and how long to wait, not the limit's own notation ("2 per 1 minute").
    wait = int(answers[2].headers["Retry-After"])
    told = f"Too many login attempts from this address. Try again in {seconds_wording(wait)}."
    assert told in answers[2].get_data(as_text=True)


LOGIN_ROUTES = (
    "/user-authentication",
    "/vbasoftware/user-authentication",
    "/user-refresh-tokens",
    "/vbasoftware/user-refresh-tokens",
    "/ui/login",
)


def test_the_login_routes_share_one_limit_per_address(fresh_app: Any) -> None:
    """Attempts spread over every login route count once: 5 per minute is 5 in all."""
    client = fresh_app(LOGIN_RATE_LIMIT="5 per minute").test_client()
    form = {"username": "u", "password": "pw", "database": "main"}

    def post(route: str, address: str = "192.0.2.1") -> int:
        return client.post(route, data=form, environ_base={"REMOTE_ADDR": address}).status_code

    first_round = [post(route) for route in LOGIN_ROUTES]
    assert 429 not in first_round
    assert [post(route) for route in LOGIN_ROUTES] == [429] * len(LOGIN_ROUTES)
    assert post(LOGIN_ROUTES[0], address="192.0.2.2") != 429  # another address: its own count
