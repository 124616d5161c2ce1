"""An API route answers with one trailing slash as without it (ASP.NET's routing, which VBAPI
runs on, does): the same view, status, body and headers, never a redirect."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.api_support import basic
from tests.factories import license_item
from tests.helpers import BATCH_URL, results

LICENSES = "/provider-credentialing/1/licenses"
#: Headers that differ between any two answers: the request's id, the limit's countdown, and
#: the length of an error, whose ``instance`` is the path as sent.
PER_REQUEST_HEADERS = {
    "X-Activity-ID",
    "Content-Length",
    "Date",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
    "X-RateLimit-Retry-After",
}
UNROUTED = (
    "No route of this API has this path (a key in a path is an int32); the routes are listed "
    "in /openapi.json."
)


@pytest.fixture
def stored_license(client: Any, auth_headers: Any, make_cred: Any, make_license_type: Any) -> None:
    make_cred(1)
    make_license_type(1)
    items = [license_item(1), license_item(2), license_item(3)]
    stored = client.put(BATCH_URL.format(cred=1), json=items, headers=auth_headers())
    assert [status for _, status, _ in results(stored)] == [201] * 3


def comparable(response: Any) -> tuple[int, Any, dict[str, str]]:
    """Status, body and headers, without what names the request itself (its activity id, the
    ``instance`` of an error: the path as sent) and the rate limit's countdown."""
    body = response.get_json(silent=True)
    if isinstance(body, dict) and isinstance(body.get("debug"), dict):
        body["debug"].pop("activityID", None)
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        body["error"].pop("instance", None)
    headers = {k: v for k, v in response.headers.items() if k not in PER_REQUEST_HEADERS}
    return response.status_code, body if body is not None else response.get_data(), headers


#: (method, path, JSON body or None, headers' role: "editor", or None for no credentials)
SAME_ANSWERS = [
    ("GET", LICENSES, None, "editor"),  # a list
    ("GET", f"{LICENSES}/2", None, "editor"),  # one record
    ("GET", f"{LICENSES}/9", None, "editor"),  # the view's own 404, naming the record
    ("GET", f"{LICENSES}/2/history", None, "editor"),
    ("GET", "/vbasoftware/credentialing-license-types", None, "editor"),
    ("PUT", BATCH_URL.format(cred=1) + "?dryRun=true", [license_item(4)], "editor"),
    ("PUT", BATCH_URL.format(cred=1), {"not": "a list"}, "editor"),  # the view's 400
    ("DELETE", BATCH_URL.format(cred=1), None, "editor"),  # 405 with Allow
    ("PATCH", f"{LICENSES}/2", None, "editor"),  # 405 with Allow
    ("GET", LICENSES, None, None),  # 401
    ("GET", LICENSES, None, "viewer"),
    ("DELETE", f"{LICENSES}/2", None, "viewer"),  # 403
    ("GET", "/healthz", None, None),
    ("GET", "/openapi.json", None, None),  # cacheable, unlike every other API answer
    ("OPTIONS", LICENSES, None, None),  # 204 with Allow
]


@pytest.mark.parametrize(("method", "path", "body", "role"), SAME_ANSWERS)
def test_a_trailing_slash_is_answered_as_the_route(
    client: Any,
    auth_headers: Any,
    stored_license: None,
    method: str,
    path: str,
    body: Any,
    role: str | None,
) -> None:
    headers = auth_headers(role=role) if role else {}
    route, _, query = path.partition("?")
    slashed = route + "/" + (f"?{query}" if query else "")

    def send(to: str) -> Any:
        return client.open(to, method=method, headers=headers, json=body)

    without, with_slash = send(path), send(slashed)
    assert with_slash.status_code not in (301, 302, 307, 308, 404) or without.status_code == 404
    assert comparable(with_slash) == comparable(without)


def test_the_415_of_a_body_that_is_not_json_is_the_same(
    client: Any, auth_headers: Any, make_cred: Any
) -> None:
    make_cred(1)
    url = BATCH_URL.format(cred=1)
    headers = {**auth_headers(), "Content-Type": "text/plain"}
    without = client.put(url, data="[]", headers=headers)
    assert without.status_code == 415
    assert comparable(client.put(url + "/", data="[]", headers=headers)) == comparable(without)


def test_writes_through_a_trailing_slash(
    client: Any, auth_headers: Any, make_cred: Any, make_license_type: Any
) -> None:
    """A batch PUT and a DELETE with the slash write what they would without it."""
    make_cred(1)
    make_license_type(1)
    headers = auth_headers()
    created = client.put(BATCH_URL.format(cred=1) + "/", json=[license_item(1)], headers=headers)
    assert results(created) == [("1", 201, "Created")]
    assert client.get(f"{LICENSES}/1", headers=headers).status_code == 200
    deleted = client.delete(f"{LICENSES}/1/", headers=headers)
    assert deleted.status_code == 204, deleted.get_data()
    assert client.get(f"{LICENSES}/1", headers=headers).status_code == 404


def test_a_login_through_a_trailing_slash(client: Any, make_user: Any, make_api_key: Any) -> None:
    make_user("alice", "correct horse")
    headers = {
        "vbasoftware-database": "main",
        "x-api-key": make_api_key(),
        "Authorization": basic("alice", "correct horse"),
    }
    for route in ("/user-authentication/", "/vbasoftware/user-authentication/"):
        response = client.post(route, headers=headers)
        assert response.status_code == 200, response.get_json()
        assert response.get_json()["data"]["authenticationResult"]["tokenType"] == "Bearer"
    wrong = client.post(
        "/user-authentication/", headers={**headers, "Authorization": basic("alice", "nope")}
    )
    assert wrong.status_code == 401
    assert wrong.headers["WWW-Authenticate"].startswith("Basic")


def test_a_retry_with_a_trailing_slash_replays_the_idempotent_answer(
    client: Any, auth_headers: Any, make_cred: Any
) -> None:
    """The slash does not make it another request: the same key replays, and it is still told
    apart from a request that differs."""
    make_cred(1)
    headers = {**auth_headers(), "Idempotency-Key": "slash-1"}
    url = BATCH_URL.format(cred=1)
    first = client.put(url, json=[license_item(1)], headers=headers)
    assert results(first) == [("1", 201, "Created")]
    for retry in (url + "/", "/vbasoftware" + url + "/"):
        replay = client.put(retry, json=[license_item(1)], headers=headers)
        assert replay.status_code == 207, replay.get_json()
        assert replay.headers["Idempotent-Replayed"] == "true"
        assert replay.get_json() == first.get_json()
    other = client.put(url + "/", json=[license_item(2)], headers=headers)
    assert other.status_code == 422


@pytest.fixture
def limited_app(fresh_app: Callable[..., Any]) -> Any:
    return fresh_app(RATE_LIMIT="3 per minute", AUTH_FAILURE_RATE_LIMIT="60 per minute")


def test_both_spellings_count_in_one_rate_limit(
    limited_app: Any, auth_headers: Any, make_cred: Any
) -> None:
    make_cred(1)
    client = limited_app.test_client()
    headers = auth_headers()
    url = BATCH_URL.format(cred=1)
    spellings = [url, url + "/", "/vbasoftware" + url + "/", url + "/"]
    statuses = [client.put(to, json=[], headers=headers).status_code for to in spellings]
    assert statuses == [207, 207, 207, 429]
    # Health checks and the OpenAPI document stay outside the limit, with the slash too.
    for path in ("/healthz/", "/vbasoftware/healthz/", "/openapi.json/"):
        assert all(client.get(path).status_code == 200 for _ in range(4)), path


def test_two_slashes_are_not_the_cacheable_route(client: Any) -> None:
    """Only one trailing slash is the route's: ``/openapi.json//`` is a 404, not stored like
    every API answer but the OpenAPI document."""
    unknown = client.get("/openapi.json//")
    assert unknown.status_code == 404
    assert "no-store" in unknown.headers["Cache-Control"]
    assert "no-store" not in client.get("/openapi.json/").headers.get("Cache-Control", "")


def test_the_login_limit_counts_both_spellings_once(
    fresh_app: Callable[..., Any], make_api_key: Any
) -> None:
    client = fresh_app(LOGIN_RATE_LIMIT="2 per minute").test_client()
    headers = {
        "vbasoftware-database": "main",
        "x-api-key": make_api_key(),
        "Authorization": basic("nobody", "pw"),
    }
    routes = ("/user-authentication", "/user-authentication/", "/user-authentication/")
    assert [client.post(r, headers=headers).status_code for r in routes] == [401, 401, 429]


@pytest.mark.parametrize(
    "path",
    [
        f"{LICENSES}//",  # two slashes: only one is the route's
        f"{LICENSES}/2//",
        "/provider-credentialing//1/licenses",  # a slash in the middle
        "/provider-credentialing/1//licenses/",
        "/healthz//",
        "/vbasoftware//healthz",
    ],
)
def test_more_than_one_slash_is_still_no_route(client: Any, auth_headers: Any, path: str) -> None:
    response = client.get(path, headers=auth_headers())
    assert response.status_code == 404
    assert response.get_json()["error"]["detail"] == UNROUTED


def test_the_ui_keeps_its_own_spelling(client: Any) -> None:
    """Only API routes take the slash: the UI still redirects ``/ui`` to ``/ui/`` and has no
    ``/ui/login/``."""
    redirected = client.get("/ui")
    assert redirected.status_code in (301, 308)
    assert redirected.headers["Location"] == "/ui/"
    assert client.get("/ui/login/").status_code == 404
    assert client.get("/ui/login").status_code == 200


def test_the_openapi_document_names_each_path_once_without_the_slash(client: Any) -> None:
    paths = list(client.get("/openapi.json").get_json()["paths"])
    assert paths and not [path for path in paths if path.endswith("/")]
    assert len({path.rstrip("/") for path in paths}) == len(paths)
