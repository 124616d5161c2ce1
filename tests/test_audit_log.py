"""What an auditor reads in the log after an incident: who did what, when, from where.

Each request's line (``credgrid.access``) names the client address and, once the request got
that far, the database and who it acted as (the user and, on the API, the API key's label,
never the key or the token); a login's or a refresh token's own line (``credgrid.login``)
carries the request's activity id; each change an operator makes with the CLI is a line of
``credgrid.admin`` naming the OS user and host. All of them run in subprocesses, as a server
or an operator's shell does: the test suite's own log capture would hide a missing handler.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import REPOSITORY, flask_environment, run_flask

TIMESTAMP = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}"
ACTIVITY = r"[0-9a-f-]{36}"

REQUESTS = """
import base64, re, sys
from app import create_app
key, password = sys.argv[1:]
client = create_app().test_client()
api = {"vbasoftware-database": "demo", "x-api-key": key}
def basic(secret):
    return "Basic " + base64.b64encode(f"demo:{secret}".encode()).decode()
def step(name):
    print(f"== {name}", file=sys.stderr, flush=True)
step("api login failed")
client.post("/user-authentication", headers={**api, "Authorization": basic("wrong password")})
step("api login")
answer = client.post("/user-authentication", headers={**api, "Authorization": basic(password)})
tokens = answer.get_json()["data"]["authenticationResult"]
bearer = {**api, "Authorization": "Bearer " + tokens["idToken"]}
step("license write")
client.put(
    "/provider-credentialing/1001/licenses-batch",
    headers=bearer,
    json=[{"providerCredLicense_Key": 900001, "providerCred_Key": 1001,
           "credLicenseType_Key": 1, "license_Number": "MD-NY-123456", "state": "NY",
           "effective_Date": "2024-01-01", "term_Date": "2027-01-01"}],
)
step("bad token")
client.get("/provider-credentialing/1001/licenses", headers={**bearer, "Authorization": "Bearer x"})
refresh = {**api, "expired-id-token": tokens["idToken"], "refresh-token": tokens["refreshToken"]}
step("refresh")
client.post("/user-refresh-tokens", headers=refresh)
step("refresh reused")
client.post("/user-refresh-tokens", headers=refresh)
step("ui login")
page = client.get("/ui/login").get_data(as_text=True)
csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
client.post("/ui/login", data={"database": "demo", "username": "demo", "password": password,
                               "csrf_token": csrf})
step("ui page")
client.get("/ui/credentials")
step("ui logout without csrf")
client.post("/ui/logout")
step("ui logout with a forged csrf")
client.post("/ui/logout", data={"csrf_token": "forged-csrf-token-0123"})
"""


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, str], str, str]:
    """The environment of a demo database, its user's password and its API key."""
    env = flask_environment(
        tmp_path_factory.mktemp("audit") / "instance", FLASK_LOGIN_FAILURE_DELAY_SECONDS="0"
    )
    made = run_flask(env, "demo")
    assert made.returncode == 0, made.stderr
    password = re.search(r"password '([^']+)'", made.stdout)
    key = re.search(r"x-api-key: (cg_\S+)'", made.stdout)
    assert password and key, made.stdout
    return env, password.group(1), key.group(1)


def steps(stderr: str) -> dict[str, list[str]]:
    """The log lines written during each ``== step`` of a script."""
    found: dict[str, list[str]] = {}
    current: list[str] = []
    for line in stderr.splitlines():
        if line.startswith("== "):
            current = found.setdefault(line[3:], [])
        else:
            current.append(line)
    return found


def test_each_request_line_names_the_client_the_database_and_the_actor(
    demo: tuple[dict[str, str], str, str],
) -> None:
    env, password, key = demo
    run = subprocess.run(
        [sys.executable, "-c", REQUESTS, key, password],
        cwd=REPOSITORY,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    lines = steps(run.stderr)
    label = r"'quickstart-[^']+'"

    def access(method: str, path: str, status: str, actor: str) -> str:
        return (
            f"{TIMESTAMP} INFO activity=({ACTIVITY}) method={method} path={path} "
            rf"status={status} duration_ms=[\d.]+ client=127\.0\.0\.1{actor}"
        )

    # The write's line says who wrote, with which key (its label), in which database.
    (write,) = lines["license write"]
    assert re.fullmatch(
        access(
            "PUT",
            "/provider-credentialing/1001/licenses-batch",
            "207",
            f" database=demo user='demo' api_key={label}",
        ),
        write,
    ), write
    (refused,) = lines["bad token"]
    assert re.fullmatch(
        access("GET", "/provider-credentialing/1001/licenses", "401", " database=demo"),
        refused,
    ), refused
    # A login's and a refresh's own line and its request's line share the activity id.
    who = "user='demo' database=demo"
    for step, path, status, own_line in (
        ("api login failed", "user-authentication", "401", f"WARNING login failed via=api {who}"),
        ("api login", "user-authentication", "200", f"INFO login succeeded via=api {who}"),
        ("refresh", "user-refresh-tokens", "200", f"INFO tokens refreshed {who}"),
        (
            "refresh reused",
            "user-refresh-tokens",
            "401",
            f"WARNING refresh token reused: every token of {who} revoked",
        ),
    ):
        own, request = lines[step]
        matched = re.fullmatch(
            access("POST", f"/{path}", status, f" database=demo api_key={label}"), request
        )
        assert matched, request
        assert re.fullmatch(
            f"{TIMESTAMP} {own_line} client=127.0.0.1 activity={matched.group(1)}", own
        ), own
    (signed_in,) = [line for line in lines["ui login"] if " via=ui " in line]
    assert re.fullmatch(
        f"{TIMESTAMP} INFO login succeeded via=ui user='demo' database=demo client=127.0.0.1 "
        f"activity={ACTIVITY}",
        signed_in,
    ), signed_in
    # The UI: the signed-in user's page, and a logout refused for its missing CSRF token
    # (refused before the UI's own hooks ran: the user is named all the same).
    (page,) = lines["ui page"]
    assert re.fullmatch(
        access("GET", "/ui/credentials", "200", " database=demo user='demo'"), page
    ), page
    # The reason of a CSRF refusal (it was status=400 alone: an expired form and a forged
    # one read the same), never the token.
    for step, reason in (
        ("ui logout without csrf", "The CSRF token is missing."),
        ("ui logout with a forged csrf", "The CSRF token is invalid."),
    ):
        (logout,) = lines[step]
        assert re.fullmatch(
            access("POST", "/ui/logout", "400", f" database=demo user='demo' reason='{reason}'"),
            logout,
        ), logout
    assert "forged-csrf-token-0123" not in run.stderr
    # Never a secret: the password, the API key, a token.
    assert password not in run.stderr and key not in run.stderr
    assert "eyJ" not in run.stderr and "Bearer" not in run.stderr


def test_a_forged_client_address_is_quoted(tmp_path: Path) -> None:
    """Behind a proxy, ``X-Forwarded-For`` is the client's word for its address: text that is
    no address is quoted, so ``user='root'`` in it cannot pass for a field of the line."""
    script = (
        "from app import create_app\n"
        "create_app().test_client().get('/healthz',"
        " headers={'X-Forwarded-For': \"10.0.0.1 user='root'\"})\n"
    )
    env = flask_environment(tmp_path / "instance", FLASK_TRUSTED_PROXIES="1")
    run = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPOSITORY,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    (line,) = [line for line in run.stderr.splitlines() if "path=/healthz" in line]
    assert line.endswith(" client=\"10.0.0.1 user='root'\""), line


def test_an_error_line_has_its_time(tmp_path: Path) -> None:
    """``credgrid.errors`` (a 503, a 500's traceback) had no handler: Python's last resort
    printed its warnings without a time, and an auditor could not place them."""
    script = (
        "from app import create_app\n"
        "create_app().test_client().post('/user-authentication',"
        " headers={'vbasoftware-database': 'demo', 'x-api-key': 'cg_x'})\n"
    )
    env = flask_environment(  # a database nobody answers at: 503
        tmp_path / "instance",
        FLASK_DATABASES='{"demo": {"url": "postgresql://nobody@127.0.0.1:9/none"}}',
    )
    run = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPOSITORY,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    access, error = (
        re.search(rf"activity=({ACTIVITY}) method=POST .* status=503 ", run.stderr),
        re.search(
            rf"^({TIMESTAMP}) WARNING activity=({ACTIVITY}) .*database unavailable",
            run.stderr,
            re.M,
        ),
    )
    assert access and error, run.stderr
    assert error.group(2) == access.group(1)
