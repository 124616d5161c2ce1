"""Two app servers on one PostgreSQL database and one Redis (issue 15 item 10).

Two gunicorn servers on free loopback ports, configured like two production nodes: the rate
limit and the login throttle hold across both; logout, revocation and a role change take
effect on both at once; an idempotent retry landing on the other node replays; a grid Save
re-posted to the other node writes nothing; a revoked API key is refused by both. Runs when
TEST_DATABASE_URL is set and Redis answers (as in ``.ci/run``); skipped otherwise.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from app.auth.keys import issue_api_key, revoke_api_key
from app.auth.users import create_user, set_disabled, set_role
from app.schema import upgrade_database
from tests.api_support import basic
from tests.conftest import postgres_url
from tests.factories import license_item, provider_cred_row
from tests.helpers import BATCH_URL
from tests.redis_support import REDIS_URL, redis_available, redis_prefix
from tests.ui.gridpage import GridPage, text_of

pytestmark = [
    pytest.mark.twonode,
    pytest.mark.skipif(
        not os.environ.get("TEST_DATABASE_URL") or not redis_available(),
        reason="needs TEST_DATABASE_URL (PostgreSQL) and Redis at 127.0.0.1:6379",
    ),
]

SCHEMA = "credgrid_two_nodes"
PASSWORD = "correct horse"
SECRET = "two-nodes-test-secret-key-0123456789"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: str

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Node:
    port: int
    cookies: dict[str, str] = field(default_factory=dict)

    def request(
        self, method: str, path: str, headers: dict[str, str] | None = None, body: Any = None
    ) -> Answer:
        sent = dict(headers or {})
        payload: bytes | None = None
        if isinstance(body, dict) and all(isinstance(v, str) for v in body.values()):
            from urllib.parse import urlencode

            payload = urlencode(body).encode()
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        elif body is not None:
            payload = json.dumps(body).encode()
            sent["Content-Type"] = "application/json"
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            connection.request(method, path, body=payload, headers=sent)
            response = connection.getresponse()
            answer = Answer(
                response.status,
                {k.lower(): v for k, v in response.getheaders()},
                response.read().decode(),
            )
        finally:
            connection.close()
        return answer


class Browser:
    """A person's browser: one session cookie, sent to whichever node it is pointed at."""

    def __init__(self) -> None:
        self.cookie = ""

    def get(self, node: Node, path: str) -> Answer:
        return self._remember(node.request("GET", path, self._headers()))

    def post(self, node: Node, path: str, form: dict[str, str]) -> Answer:
        return self._remember(node.request("POST", path, self._headers(), form))

    def csrf(self, node: Node, path: str) -> str:
        page = self.get(node, path)
        match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.body)
        assert match, page.body[:500]
        return match.group(1)

    def login(self, node: Node, username: str) -> Answer:
        token = self.csrf(node, "/ui/login")
        form = {"csrf_token": token, "username": username, "password": PASSWORD}
        return self.post(node, "/ui/login", {**form, "database": "main"})

    def _headers(self) -> dict[str, str]:
        return {"Cookie": self.cookie} if self.cookie else {}

    def _remember(self, answer: Answer) -> Answer:
        cookie = answer.headers.get("set-cookie")
        if cookie:
            self.cookie = cookie.split(";", 1)[0]
        return answer


@pytest.fixture(scope="module")
def database_url() -> Iterator[str]:
    admin = create_engine(postgres_url("public"))
    with admin.begin() as connection:
        connection.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
        connection.execute(text(f"CREATE SCHEMA {SCHEMA}"))
    url = postgres_url(SCHEMA)
    engine = create_engine(url)
    upgrade_database(engine)
    engine.dispose()
    yield url
    with admin.begin() as connection:
        connection.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
    admin.dispose()


@pytest.fixture(scope="module")
def db(database_url: str) -> Iterator[Any]:
    engine = create_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def population(db: Any) -> None:
    with Session(db) as session:
        session.add(provider_cred_row(1))
        for name in (
            "limits",
            "throttled",
            "leaver",
            "promoted",
            "revoked",
            "retrier",
            "saver",
            "revoked-key",
        ):
            create_user(session, name, PASSWORD)
        session.commit()


@pytest.fixture
def api_key(db: Any, population: None) -> str:
    """An API key per test: each has its own rate-limit budget."""
    with Session(db) as session:
        key = issue_api_key(session, f"two-nodes-{os.urandom(4).hex()}")
        session.commit()
    return key


@pytest.fixture(scope="module")
def nodes(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Node]]:
    with redis_prefix() as prefix:
        instance = tmp_path_factory.mktemp("instance")
        env = {
            **os.environ,
            "CREDGRID_INSTANCE_PATH": str(instance),
            "FLASK_DATABASES": json.dumps({"main": database_url}),
            "FLASK_SECRET_KEY": SECRET,
            "FLASK_RATELIMIT_STORAGE_URI": REDIS_URL,
            "FLASK_RATELIMIT_KEY_PREFIX": prefix,
            "FLASK_RATE_LIMIT": "8 per minute",
            # Per address; the failure test below sends from an address of its own.
            "FLASK_AUTH_FAILURE_RATE_LIMIT": "10 per minute",
            "FLASK_TRUSTED_PROXIES": "1",
            "FLASK_LOGIN_FAILURE_DELAY_SECONDS": "8",
        }
        gunicorn = str(Path(sys.executable).with_name("gunicorn"))
        ports = [free_port(), free_port()]
        processes = [
            subprocess.Popen(
                [gunicorn, "-w", "1", "-b", f"127.0.0.1:{port}", "app:create_app()"],
                env=env,
                cwd=str(Path(__file__).resolve().parent.parent),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for port in ports
        ]
        try:
            started = [Node(port) for port in ports]
            deadline = time.monotonic() + 60
            for node in started:
                while True:
                    try:
                        if node.request("GET", "/healthz").status == 200:
                            break
                    except OSError:
                        pass
                    assert time.monotonic() < deadline, "a node did not start"
                    time.sleep(0.2)
            yield started
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                process.wait(timeout=30)


def api_login(node: Node, api_key: str, username: str, password: str = PASSWORD) -> Answer:
    return node.request(
        "POST",
        "/user-authentication",
        {
            "vbasoftware-database": "main",
            "x-api-key": api_key,
            "Authorization": basic(username, password),
        },
    )


def bearer(node: Node, api_key: str, username: str) -> dict[str, str]:
    answer = api_login(node, api_key, username)
    assert answer.status == 200, answer.body
    token = answer.json()["data"]["authenticationResult"]["idToken"]
    return {
        "vbasoftware-database": "main",
        "x-api-key": api_key,
        "Authorization": f"Bearer {token}",
    }


def batch(node: Node, headers: dict[str, str], items: list[Any] | None = None) -> Answer:
    return node.request("PUT", BATCH_URL.format(cred=1), headers, items or [])


def test_both_nodes_report_the_shared_storage(nodes: list[Node]) -> None:
    for node in nodes:
        assert node.request("GET", "/healthz").json()["data"]["rateLimitStorage"] == "ok"


def test_the_rate_limit_holds_across_both_nodes(nodes: list[Node], api_key: str, db: Any) -> None:
    first, second = nodes
    headers = bearer(first, api_key, "limits")  # the login itself is one request of the 8
    statuses = [batch(nodes[i % 2], headers).status for i in range(8)]
    assert statuses.count(429) >= 1 and statuses[-1] == 429, statuses
    assert statuses[:6] == [207] * 6, statuses


def test_the_login_throttle_holds_across_both_nodes(nodes: list[Node], api_key: str) -> None:
    first, second = nodes
    answer = api_login(first, api_key, "throttled", "wrong password")
    assert answer.status == 401
    refused = api_login(second, api_key, "throttled")
    assert refused.status == 429
    assert "Too many failed logins" in refused.json()["error"]["detail"]


def test_the_failed_authentication_budget_holds_across_both_nodes(nodes: list[Node]) -> None:
    """Made-up API keys, alternating between the nodes, from one address (as the proxy in
    front of both tells it): the eleventh is refused by either node."""
    address = f"203.0.113.{secrets.randbelow(250) + 1}"
    statuses = [
        nodes[i % 2]
        .request(
            "PUT",
            BATCH_URL.format(cred=1),
            {
                "vbasoftware-database": "main",
                "x-api-key": secrets.token_urlsafe(32),
                "X-Forwarded-For": address,
            },
            [],
        )
        .status
        for i in range(12)
    ]
    assert statuses == [401] * 10 + [429, 429], statuses


def test_logout_on_one_node_ends_the_session_on_both(nodes: list[Node]) -> None:
    first, second = nodes
    browser, copy = Browser(), Browser()
    assert browser.login(first, "leaver").status == 302
    copy.cookie = browser.cookie  # a copy of the cookie, taken before logout
    assert copy.get(second, "/ui/credentials").status == 200
    token = browser.csrf(first, "/ui/credentials")
    assert browser.post(first, "/ui/logout", {"csrf_token": token}).status == 302
    assert copy.get(second, "/ui/credentials").status == 302
    assert copy.get(first, "/ui/credentials").status == 302


def test_a_role_change_takes_effect_on_both_nodes(nodes: list[Node], api_key: str, db: Any) -> None:
    first, second = nodes
    browser = Browser()
    assert browser.login(first, "promoted").status == 302
    headers = bearer(second, api_key, "promoted")
    assert batch(first, headers).status == 207
    with Session(db) as session:
        set_role(session, "promoted", "viewer")
        session.commit()
    for node in nodes:
        assert browser.get(node, "/ui/credentials").status == 302
        assert batch(node, headers).status == 401
    viewer = bearer(first, api_key, "promoted")
    assert batch(second, viewer).status == 403


def test_revocation_takes_effect_on_both_nodes(nodes: list[Node], api_key: str, db: Any) -> None:
    headers = bearer(nodes[0], api_key, "revoked")
    assert [batch(node, headers).status for node in nodes] == [207, 207]
    with Session(db) as session:
        set_disabled(session, "revoked", True)
        session.commit()
    assert [batch(node, headers).status for node in nodes] == [401, 401]
    # The refused login counts as a failure: the other node then throttles the account.
    assert [api_login(node, api_key, "revoked").status for node in nodes] == [401, 429]


def test_an_idempotent_retry_on_the_other_node_replays(nodes: list[Node], api_key: str) -> None:
    first, second = nodes
    headers = {**bearer(first, api_key, "retrier"), "Idempotency-Key": "two-nodes-1"}
    items = [license_item(101, cred=1)]
    original = batch(first, headers, items)
    assert original.status == 207, original.body
    retry = batch(second, headers, items)
    assert retry.status == 207
    assert retry.headers.get("idempotent-replayed") == "true"
    assert retry.json()["data"] == original.json()["data"]


def test_a_revoked_api_key_is_refused_on_both_nodes(nodes: list[Node], db: Any) -> None:
    label = f"two-nodes-revoked-{os.urandom(4).hex()}"
    with Session(db) as session:
        key = issue_api_key(session, label)
        session.commit()
    headers = bearer(nodes[0], key, "revoked-key")
    assert [batch(node, headers).status for node in nodes] == [207, 207]
    with Session(db) as session:
        assert revoke_api_key(session, label)
        session.commit()
    assert [batch(node, headers).status for node in nodes] == [401, 401]
    assert [api_login(node, key, "revoked-key").status for node in nodes] == [401, 401]


def test_a_grid_save_posted_again_to_the_other_node_writes_nothing(
    nodes: list[Node], db: Any
) -> None:
    """The login form of one node is accepted by the other (its CSRF token and cookie), and a
    Save's id claimed on one node is claimed on both."""
    first, second = nodes
    browser = Browser()
    token = browser.csrf(second, "/ui/login")
    form = {"csrf_token": token, "username": "saver", "password": PASSWORD, "database": "main"}
    assert browser.post(first, "/ui/login", form).status == 302
    page = GridPage(None, 1, browser.get(second, "/ui/credentials/1/licenses").body)
    page.set(page.blank_rows()[0], license_Name="Saved on two nodes", state="TX")
    assert browser.post(first, "/ui/credentials/1/licenses", page.fields).status == 303
    assert browser.post(second, "/ui/credentials/1/licenses", page.fields).status == 303
    shown = text_of(browser.get(second, "/ui/credentials/1/licenses").body)  # its flash
    assert "This Save was processed before, so nothing was written again." in shown
    with db.connect() as connection:
        query = "SELECT count(*) FROM provider_cred_license WHERE license_name = :name"
        count = connection.execute(text(query), {"name": "Saved on two nodes"}).scalar()
    assert count == 1
