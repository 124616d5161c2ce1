"""Login (POST /user-authentication), token refresh, and what the tokens are good for."""

from __future__ import annotations

import base64
from datetime import timedelta
from typing import Any

import jwt
import pytest

from app.audit import utcnow
from app.auth import tokens
from tests.api_support import basic
from tests.conftest import TEST_SECRET
from tests.factories import license_item
from tests.helpers import BATCH_URL


@pytest.fixture
def login(client: Any, make_user: Any, make_api_key: Any) -> Any:
    make_user("alice", "correct horse")
    key = make_api_key()

    def _login(username: str = "alice", password: str = "correct horse", **headers: str) -> Any:
        sent = {
            "vbasoftware-database": "main",
            "x-api-key": key,
            "Authorization": basic(username, password),
            # Generated VBAPI clients send these, and a JSON content type on an empty POST.
            "vbasoftware-client-id": "client",
            "vbasoftware-client-code": "code",
            "Content-Type": "application/json",
        }
        sent.update({k.replace("_", "-"): v for k, v in headers.items()})
        return client.post("/user-authentication", headers={k: v for k, v in sent.items() if v})

    _login.api_key = key  # type: ignore[attr-defined]
    return _login


def test_login_returns_authentication_result(login: Any) -> None:
    response = login()
    assert response.status_code == 200
    result = response.get_json()["data"]["authenticationResult"]
    assert set(result) == {"idToken", "accessToken", "refreshToken", "expiresIn", "tokenType"}
    assert result["tokenType"] == "Bearer"
    assert result["expiresIn"] == 86400
    claims = jwt.decode(result["idToken"], TEST_SECRET, algorithms=["HS256"], issuer="credgrid")
    assert claims["sub"] == "alice"
    assert claims["db"] == "main"
    assert claims["exp"] - claims["iat"] == 86400


def test_token_lifetime_is_configurable(app: Any, login: Any) -> None:
    app.config["TOKEN_TTL_SECONDS"] = 60
    result = login().get_json()["data"]["authenticationResult"]
    claims = jwt.decode(result["idToken"], TEST_SECRET, algorithms=["HS256"], issuer="credgrid")
    assert claims["exp"] - claims["iat"] == 60 and result["expiresIn"] == 60


def test_login_token_works_on_the_batch(client: Any, login: Any, make_cred: Any) -> None:
    make_cred(1)
    token = login().get_json()["data"]["authenticationResult"]["idToken"]
    headers = {
        "vbasoftware-database": "main",
        "x-api-key": login.api_key,
        "Authorization": f"Bearer {token}",
    }
    response = client.put(BATCH_URL.format(cred=1), json=[license_item(1)], headers=headers)
    assert response.status_code == 207


@pytest.mark.parametrize(
    ("kwargs", "status", "detail"),
    [
        ({"password": "wrong password"}, 401, "Wrong username or password."),
        ({"username": "bob"}, 401, "Wrong username or password."),
        (
            {"Authorization": "Basic !!!"},
            401,
            "The Basic credentials are not valid base64 of user:password.",
        ),
        (
            {"Authorization": "Basic " + base64.b64encode(b"nocolon").decode()},
            401,
            "The Basic credentials are not valid base64 of user:password.",
        ),
        (  # a byte outside ASCII in the header was a 500
            {"Authorization": "Basic \xff\xfe"},
            401,
            "The Basic credentials are not valid base64 of user:password.",
        ),
        (  # valid base64, but of a Latin-1 "alice:pässword": said to be not base64
            {
                "Authorization": "Basic "
                + base64.b64encode("alice:p\xe4ssword".encode("latin-1")).decode()
            },
            401,
            "The Basic credentials are not UTF-8 text; encode user:password as UTF-8.",
        ),
        ({"Authorization": ""}, 401, "An Authorization: Basic <user:password> header is required."),
        ({"x_api_key": ""}, 401, "The x-api-key header is required."),
        ({"x_api_key": "cg_nope"}, 401, "The API key is not valid for this database."),
        ({"vbasoftware_database": ""}, 400, "The vbasoftware-database header is required."),
        ({"vbasoftware_database": "other"}, 401, "The API key is not valid for this database."),
    ],
)
def test_login_failures(login: Any, kwargs: dict[str, str], status: int, detail: str) -> None:
    response = login(**kwargs)
    assert response.status_code == status
    assert response.get_json()["error"]["detail"] == detail
    assert response.get_json()["data"] is None


def test_refresh_gives_new_tokens_once(client: Any, login: Any) -> None:
    result = login().get_json()["data"]["authenticationResult"]
    headers = {
        "vbasoftware-database": "main",
        "x-api-key": login.api_key,
        "expired-id-token": result["idToken"],
        "refresh-token": result["refreshToken"],
        "Content-Type": "application/json",
    }
    response = client.post("/user-refresh-tokens", headers=headers)
    assert response.status_code == 200
    fresh = response.get_json()["data"]["authenticationResult"]
    assert fresh["refreshToken"] != result["refreshToken"]
    assert jwt.decode(fresh["idToken"], TEST_SECRET, algorithms=["HS256"])["sub"] == "alice"
    replay = client.post("/user-refresh-tokens", headers=headers)
    assert replay.status_code == 401
    assert replay.get_json()["error"]["detail"] == (
        "The refresh token was already used; all tokens of this user are revoked."
    )


def test_refresh_rejects_foreign_tokens(client: Any, login: Any) -> None:
    result = login().get_json()["data"]["authenticationResult"]
    base = {"vbasoftware-database": "main", "x-api-key": login.api_key}
    missing = client.post("/user-refresh-tokens", headers=base)
    assert missing.status_code == 401
    forged = jwt.encode(
        {"sub": "alice", "db": "main", "iss": "credgrid", "exp": 1}, "x" * 40, algorithm="HS256"
    )
    response = client.post(
        "/user-refresh-tokens",
        headers={**base, "expired-id-token": forged, "refresh-token": result["refreshToken"]},
    )
    assert response.status_code == 401
    assert response.get_json()["error"]["detail"] == (
        "The expired-id-token is not a token of this database."
    )


def test_refresh_rejects_a_refresh_token_of_another_user(
    client: Any, login: Any, make_user: Any
) -> None:
    """A refresh token is redeemed only with an id token of its own user."""
    make_user("bob", "battery staple")
    alice = login().get_json()["data"]["authenticationResult"]
    bob = login("bob", "battery staple").get_json()["data"]["authenticationResult"]
    base = {"vbasoftware-database": "main", "x-api-key": login.api_key}

    def refresh(id_token: str, refresh_token: str) -> Any:
        headers = {**base, "expired-id-token": id_token, "refresh-token": refresh_token}
        return client.post("/user-refresh-tokens", headers=headers)

    response = refresh(bob["idToken"], alice["refreshToken"])
    assert response.status_code == 401
    assert response.get_json()["error"]["detail"] == "The refresh token is invalid or expired."
    assert refresh(alice["idToken"], alice["refreshToken"]).status_code == 200  # not spent


def test_passwords_are_stored_hashed(login: Any, session_for: Any) -> None:
    from sqlalchemy import select

    from app.auth.models import StaffUser

    with session_for() as session:
        stored = session.scalar(
            select(StaffUser.password_hash).where(StaffUser.username == "alice")
        )
    assert "correct horse" not in stored
    assert stored.startswith("$argon2id$")


def test_the_token_routes_ignore_query_parameters(client: Any, login: Any) -> None:
    """They take none (docs/api.md): a stray one neither fails nor changes the answer."""
    headers = {
        "vbasoftware-database": "main",
        "x-api-key": login.api_key,
        "Authorization": basic("alice", "correct horse"),
    }
    logged_in = client.post("/user-authentication?client=x&client=y", headers=headers)
    assert logged_in.status_code == 200
    result = logged_in.get_json()["data"]["authenticationResult"]
    refreshed = client.post(
        "/vbasoftware/user-refresh-tokens?client=x",
        headers={
            "vbasoftware-database": "main",
            "x-api-key": login.api_key,
            "expired-id-token": result["idToken"],
            "refresh-token": result["refreshToken"],
        },
    )
    assert refreshed.status_code == 200


def test_a_token_minted_on_a_node_whose_clock_is_ahead_works_at_once(
    client: Any, login: Any, make_cred: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nodes' clocks differ by a little, even under NTP; a token minted on one that is ahead is
    used on another at once (its ``iat`` then lies in that node's future). It was refused as
    "not yet valid" until the other node's clock caught up: an integration's first request
    after logging in was a 401 now and then."""
    make_cred(1)
    ahead = utcnow() + timedelta(seconds=5)
    monkeypatch.setattr(tokens, "utcnow", lambda: ahead)
    token = login().get_json()["data"]["authenticationResult"]["idToken"]
    monkeypatch.undo()
    headers = {
        "vbasoftware-database": "main",
        "x-api-key": login.api_key,
        "Authorization": f"Bearer {token}",
    }
    response = client.put(BATCH_URL.format(cred=1), json=[], headers=headers)
    assert response.status_code == 207, response.get_json()
