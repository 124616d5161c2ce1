"""A forged ``Host`` (or ``X-Forwarded-Host`` through a trusted proxy) never reaches what the
app writes or answers: links in files are paths, or under ``FLASK_PUBLIC_URL``.

The integrity review's CSV linked each finding with ``url_for(..., _external=True)``, so the
file a reviewer downloads and clicks through later pointed at whatever host the request named.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any

import pytest

from app.audit import utcnow

FORGED = "evil.example"
PUBLIC = "https://credgrid.example.org"


@pytest.fixture
def finding(make_cred: Any, put_licenses: Callable[..., Any]) -> str:
    """A PSV date moved backwards on license 5: one finding. Returns today's review query."""
    make_cred(1)
    put_licenses(1, {"providerCredLicense_Key": 5, "psV_Date": "2025-06-01"})
    put_licenses(1, {"providerCredLicense_Key": 5, "psV_Date": "2025-01-01"})
    today = utcnow().strftime("%Y-%m-%d")
    return f"since={today}&until={today}"


def history_links(response: Any) -> list[str]:
    assert response.status_code == 200 and response.mimetype == "text/csv", response.data
    return [row["history"] for row in csv.DictReader(io.StringIO(response.get_data(as_text=True)))]


def assert_not_written(response: Any, what: str) -> None:
    for name, value in response.headers.items():
        assert FORGED not in value.lower(), (what, name, value)
    assert FORGED.encode() not in response.get_data().lower(), (what, response.data[:300])


def forged_requests(query: str, api: dict[str, str]) -> list[tuple[str, str, dict[str, str]]]:
    """(method, path, headers) of answers that could carry a host: the CSV, redirects
    (the review's parts, the login form's, the UI's root), pages, API answers and errors."""
    return [
        ("GET", f"/ui/integrity/csv?{query}", {}),
        ("GET", f"/ui/integrity/csv?{query}&from=x", {}),
        ("GET", f"/ui/integrity?{query}", {}),
        ("GET", "/ui", {}),
        ("GET", "/ui/", {}),
        ("GET", "/ui/licenses/5/history", {}),
        ("GET", "/", {}),
        ("GET", "/provider-credentialing/1/licenses", api),
        ("GET", "/provider-credentialing/1/licenses/", api),
        ("GET", "/vbasoftware/provider-credentialing/1/licenses", api),
        ("PATCH", "/provider-credentialing/1/licenses", api),
        ("GET", "/provider-credentialing/1/licenses", {}),
        ("GET", "/openapi.json", {}),
        ("GET", "/healthz", {}),
    ]


@pytest.mark.parametrize("through", ["Host", "X-Forwarded-Host"])
def test_a_forged_host_is_in_no_answer(
    fresh_app: Callable[..., Any],
    finding: str,
    auth_headers: Callable[..., dict[str, str]],
    make_user: Callable[..., str],
    through: str,
) -> None:
    """By ``Host`` directly, or by ``X-Forwarded-Host`` from behind a proxy the app trusts
    (``FLASK_TRUSTED_PROXIES``: ProxyFix takes the host from it)."""
    app = fresh_app(TRUSTED_PROXIES=1)
    make_user("reviewer", "correct horse", role="viewer")
    client = app.test_client()
    forged = {through: FORGED, "X-Forwarded-For": "192.0.2.1"}
    login = {"username": "reviewer", "password": "correct horse", "database": "main"}
    answer = client.post("/ui/login", data=login, headers=forged)
    assert answer.status_code == 302
    assert_not_written(answer, "login")
    requests = forged_requests(finding, auth_headers())
    for method, path, headers in requests:
        answer = client.open(path, method=method, headers=headers | forged)
        assert_not_written(answer, f"{method} {path}")
    assert history_links(client.get(f"/ui/integrity/csv?{finding}", headers=forged)) == [
        "/ui/licenses/5/history"
    ]
    slash = client.get("/ui?x=1", headers=forged)  # Werkzeug's redirect to the slash
    assert (slash.status_code, slash.headers["Location"]) == (308, "/ui/?x=1")


def test_a_configured_public_url_makes_the_links_absolute_whatever_the_host(
    fresh_app: Callable[..., Any], finding: str, make_user: Callable[..., str]
) -> None:
    app = fresh_app(PUBLIC_URL=PUBLIC)
    make_user("reviewer", "correct horse", role="viewer")
    client = app.test_client()
    login = {"username": "reviewer", "password": "correct horse", "database": "main"}
    forged = {"Host": FORGED}  # the test client keeps the session cookie per host
    assert client.post("/ui/login", data=login, headers=forged).status_code == 302
    answer = client.get(f"/ui/integrity/csv?{finding}", headers=forged)
    assert history_links(answer) == [f"{PUBLIC}/ui/licenses/5/history"]
    cli = app.test_cli_runner().invoke(
        args=["integrity-report", "--since", finding[6:16], "--format", "csv"]
    )
    assert cli.exit_code == 1, cli.output  # a finding
    (row,) = csv.DictReader(io.StringIO(cli.output))
    assert row["history"] == f"{PUBLIC}/ui/licenses/5/history"


@pytest.mark.parametrize(
    "host",
    [
        "xn--bcher-kva.example",  # an IDNA host: request.host_url spells it otherwise
        "EVIL.example:8080",
        "[2001:db8::1]:8443",
    ],
)
def test_the_slash_redirect_is_a_path_however_the_host_is_spelled(client: Any, host: str) -> None:
    """Werkzeug's redirect to the slash is built on the request's host. Cut down to a path
    only when it began with ``request.host_url``, which spells an IDNA host otherwise, it
    went out absolute, on the forged host."""
    for scheme in ("http", "https"):
        answer = client.get("/ui?x=1", headers={"Host": host}, base_url=f"{scheme}://localhost")
        assert (answer.status_code, answer.headers["Location"]) == (308, "/ui/?x=1"), scheme
        assert host.split(":")[0].lower().strip("[]") not in answer.get_data(as_text=True)
