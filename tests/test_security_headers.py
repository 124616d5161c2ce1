"""Security headers on every response, HSTS over HTTPS, ProxyFix with trusted proxies."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from app import create_app
from app.config import ConfigError

PASSWORD = "correct horse"


@pytest.mark.parametrize(
    "path",
    ["/", "/ui/login", "/ui/no-such-page", "/static/ui/ui.css", "/healthz", "/no-such-api"],
)
def test_every_response_has_the_security_headers(client: Any, path: str) -> None:
    response = client.get(path)
    response.close()
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "Strict-Transport-Security" not in response.headers  # plain HTTP


def test_api_errors_have_them_too(client: Any) -> None:
    response = client.put("/provider-credentialing/1/licenses-batch", json=[])
    assert response.status_code in (400, 401)
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_hsts_over_https(client: Any) -> None:
    response = client.get("/ui/login", base_url="https://credgrid.example")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")


def test_hsts_and_secure_cookie_when_forced(fresh_app: Any, make_user: Any) -> None:
    app = fresh_app(SESSION_COOKIE_SECURE=True)
    make_user("alice", PASSWORD)
    response = app.test_client().post(
        "/ui/login", data={"username": "alice", "password": PASSWORD, "database": "main"}
    )
    assert "Secure" in response.headers["Set-Cookie"]
    assert "Strict-Transport-Security" in response.headers


def test_signed_in_pages_and_token_answers_are_not_stored(client: Any, make_user: Any) -> None:
    assert "no-store" not in client.get("/ui/login").headers.get("Cache-Control", "")
    make_user("alice", PASSWORD)
    client.post("/ui/login", data={"username": "alice", "password": PASSWORD, "database": "main"})
    assert client.get("/ui/credentials").headers["Cache-Control"] == "no-store"
    refused = client.post("/user-authentication", headers={"vbasoftware-database": "main"})
    assert refused.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("prefix", ["", "/vbasoftware"])
def test_token_answers_are_not_stored_under_either_base_path(
    client: Any, make_user: Any, make_api_key: Any, prefix: str
) -> None:
    make_user("alice", PASSWORD)
    headers = {"vbasoftware-database": "main", "x-api-key": make_api_key()}
    basic = base64.b64encode(f"alice:{PASSWORD}".encode()).decode()
    login = client.post(
        f"{prefix}/user-authentication", headers={**headers, "Authorization": f"Basic {basic}"}
    )
    assert login.status_code == 200
    assert login.headers["Cache-Control"] == "no-store"
    tokens = login.get_json()["data"]["authenticationResult"]
    refreshed = client.post(
        f"{prefix}/user-refresh-tokens",
        headers={
            **headers,
            "expired-id-token": tokens["idToken"],
            "refresh-token": tokens["refreshToken"],
        },
    )
    assert refreshed.status_code == 200
    assert refreshed.headers["Cache-Control"] == "no-store"
    assert "no-store" not in client.get(f"{prefix}/openapi.json").headers.get("Cache-Control", "")


API_READS = (
    "/provider-credentialing/1/licenses",
    "/provider-credentialing/1/licenses/5",
    "/provider-credentialing/1/licenses/5/history",
    "/licenses/expirables",
    "/licenses/monitoring-runs",
    "/providers/P1/credentialing",
    "/providers/P1/credentialing/1",
    "/credentialing-license-types",
    "/credentialing-license-types/1",
    "/provider-credentialing/1/licenses/6",  # a 404 problem
    "/no-such-route",
    "/healthz",
)


@pytest.mark.parametrize("prefix", ["", "/vbasoftware"])
def test_every_api_answer_is_not_stored(
    client: Any,
    auth_headers: Any,
    make_cred: Any,
    make_license_type: Any,
    prefix: str,
) -> None:
    """Licenses, credentials, history, the expirables, errors: a shared proxy or a browser
    cache must keep none of them (only the token answers were no-store)."""
    make_cred(1)
    make_license_type(1)
    headers = auth_headers()
    batch = client.put(
        f"{prefix}/provider-credentialing/1/licenses-batch",
        json=[{"providerCredLicense_Key": 5, "providerCred_Key": 1, "license_Number": "N-5"}],
        headers=headers,
    )
    assert batch.status_code == 207
    answers = {"batch": batch}
    answers |= {path: client.get(prefix + path, headers=headers) for path in API_READS}
    answers["401"] = client.get(
        f"{prefix}/licenses/expirables", headers={**headers, "x-api-key": "x"}
    )
    answers["delete 204"] = client.delete(
        f"{prefix}/provider-credentialing/1/licenses/5", headers=headers
    )
    statuses = {name: response.status_code for name, response in answers.items()}
    assert statuses["/provider-credentialing/1/licenses/5"] == 200, statuses
    assert {statuses["401"], statuses["/no-such-route"], statuses["delete 204"]} == {401, 404, 204}
    not_stored = {name: r.headers.get("Cache-Control") for name, r in answers.items()}
    assert not_stored == dict.fromkeys(answers, "no-store")


def test_signed_in_pages_are_not_stored_static_files_are(client: Any, make_user: Any) -> None:
    make_user("alice", PASSWORD)
    client.post("/ui/login", data={"username": "alice", "password": PASSWORD, "database": "main"})
    for page in ("/ui/credentials", "/ui/licenses/expiring", "/ui/licenses/expiring.csv"):
        assert client.get(page).headers["Cache-Control"] == "no-store", page
    static = client.get("/static/ui/ui.css")
    static.close()
    assert "no-store" not in static.headers.get("Cache-Control", "")


def forwarded(client: Any, hops: str) -> Any:
    return client.get(
        "/ui/login",
        headers={"X-Forwarded-For": hops, "X-Forwarded-Proto": "https"},
        environ_base={"REMOTE_ADDR": "10.0.0.2"},
    )


def test_forwarded_headers_are_ignored_without_trusted_proxies(client: Any) -> None:
    response = forwarded(client, "203.0.113.9")
    assert "Strict-Transport-Security" not in response.headers


def test_one_trusted_proxy_gives_the_client_address_and_scheme(fresh_app: Any) -> None:
    app = fresh_app(TRUSTED_PROXIES=1)
    seen: list[str] = []

    @app.get("/whoami")
    def whoami() -> str:
        from flask import request

        seen.append(request.remote_addr or "")
        return ""

    client = app.test_client()
    response = forwarded(client, "203.0.113.9")
    assert "Strict-Transport-Security" in response.headers
    # A client cannot prepend an address of its choice: only the proxy's own hop counts.
    client.get(
        "/whoami",
        headers={"X-Forwarded-For": "6.6.6.6, 203.0.113.9"},
        environ_base={"REMOTE_ADDR": "10.0.0.2"},
    )
    assert seen == ["203.0.113.9"]


@pytest.mark.parametrize("value", [-1, 11, "two", True])
def test_trusted_proxies_must_be_a_small_count(app_config: dict[str, Any], value: Any) -> None:
    with pytest.raises(ConfigError, match="FLASK_TRUSTED_PROXIES"):
        create_app({**app_config, "TRUSTED_PROXIES": value})


def test_an_answer_that_sets_the_session_cookie_is_not_stored(fresh_app: Any) -> None:
    """The login page sets a fresh session (its CSRF secret) before anyone signs in, and was
    cacheable: a shared cache could give one visitor's session cookie to the next."""
    client = fresh_app(WTF_CSRF_ENABLED=True).test_client()
    page = client.get("/ui/login")
    assert "session=" in page.headers["Set-Cookie"]
    assert page.headers.get("Cache-Control") == "no-store"
    assert "Set-Cookie" not in client.get("/ui/login").headers  # the same session: cacheable
