"""The per-address budget of failed API authentications (``FLASK_AUTH_FAILURE_RATE_LIMIT``).

Every API key has its own request budget, so without this a client inventing a new key per
request was never limited: each guess cost a lookup and answered 401, forever.
"""

from __future__ import annotations

import secrets
from typing import Any

import pytest

from app.auth.addresses import counted_address
from app.config import ConfigError
from tests.helpers import BATCH_URL

ATTACKER = {"REMOTE_ADDR": "198.51.100.7"}
NEIGHBOUR = {"REMOTE_ADDR": "198.51.100.8"}


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    return {**app_config, "AUTH_FAILURE_RATE_LIMIT": "3 per minute"}


def guess(client: Any, headers: dict[str, str], address: dict[str, str]) -> Any:
    """A batch with a made-up API key (otherwise the client's own headers)."""
    made_up = {**headers, "x-api-key": secrets.token_urlsafe(32)}
    return client.put(BATCH_URL.format(cred=1), json=[], headers=made_up, environ_base=address)


def test_an_address_that_keeps_failing_is_refused_whatever_key_it_sends(
    client: Any, auth_headers: Any, make_cred: Any
) -> None:
    make_cred(1)
    headers = auth_headers()
    assert [guess(client, headers, ATTACKER).status_code for _ in range(3)] == [401] * 3
    refused = guess(client, headers, ATTACKER)
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 61
    error = refused.get_json()["error"]
    assert error["status"] == 429
    assert "Too many failed authentications from this address" in error["detail"]
    # The budget is the address's: its valid key waits too, another address does not.
    url = BATCH_URL.format(cred=1)
    assert client.put(url, json=[], headers=headers, environ_base=ATTACKER).status_code == 429
    assert client.put(url, json=[], headers=headers, environ_base=NEIGHBOUR).status_code == 207
    assert guess(client, headers, NEIGHBOUR).status_code == 401


def test_only_failed_authentications_count(client: Any, auth_headers: Any, make_cred: Any) -> None:
    make_cred(1)
    headers = auth_headers()
    url = BATCH_URL.format(cred=1)
    answers = [client.put(url, json=[], headers=headers, environ_base=ATTACKER) for _ in range(6)]
    assert [a.status_code for a in answers] == [207] * 6
    # A refusal of another kind (a bad body, 400) is not a failed authentication either.
    bad = client.put(
        url, data="[", headers=headers, content_type="application/json", environ_base=ATTACKER
    )
    assert bad.status_code == 400
    assert [guess(client, headers, ATTACKER).status_code for _ in range(3)] == [401] * 3
    assert guess(client, headers, ATTACKER).status_code == 429


def test_a_bad_bearer_token_counts_and_open_routes_never_wait(
    client: Any, auth_headers: Any, make_cred: Any
) -> None:
    make_cred(1)
    headers = {**auth_headers(), "Authorization": "Bearer not-a-token"}
    url = BATCH_URL.format(cred=1)
    statuses = [
        client.put(url, json=[], headers=headers, environ_base=ATTACKER).status_code
        for _ in range(4)
    ]
    assert statuses == [401, 401, 401, 429]
    for path in ("/healthz", "/openapi.json", "/vbasoftware/healthz"):
        assert client.get(path, environ_base=ATTACKER).status_code == 200


def test_the_staff_ui_is_not_the_apis_budget(client: Any, auth_headers: Any) -> None:
    headers = auth_headers()
    assert [guess(client, headers, ATTACKER).status_code for _ in range(3)] == [401] * 3
    assert client.get("/ui/login", environ_base=ATTACKER).status_code == 200
    assert guess(client, headers, ATTACKER).status_code == 429  # the budget was spent


def test_a_bad_setting_is_a_config_error(app_config: dict[str, Any]) -> None:
    from app import create_app

    with pytest.raises(ConfigError, match="FLASK_AUTH_FAILURE_RATE_LIMIT must be a rate"):
        create_app({**app_config, "AUTH_FAILURE_RATE_LIMIT": "sometimes"})


def test_an_ipv6_client_is_counted_by_its_64_network(
    client: Any, auth_headers: Any, make_cred: Any
) -> None:
    """A host picks new addresses in its /64 at will: a budget per address would be no budget."""
    make_cred(1)
    headers = auth_headers()
    same_network = [{"REMOTE_ADDR": f"2001:db8:1:2::{n}"} for n in (1, 2, 3, 4)]
    statuses = [guess(client, headers, address).status_code for address in same_network]
    assert statuses == [401, 401, 401, 429]
    other_network = {"REMOTE_ADDR": "2001:db8:1:3::1"}
    assert guess(client, headers, other_network).status_code == 401


def test_a_client_whose_proxy_writes_its_port_has_one_budget(
    fresh_app: Any, auth_headers: Any, make_cred: Any
) -> None:
    """Some proxies (Azure's gateways among them) write ``address:port`` in X-Forwarded-For,
    and each connection of a client has a new port: counted as written, every connection had
    a budget of its own."""
    make_cred(1)
    headers = auth_headers()
    client = fresh_app(TRUSTED_PROXIES=1, AUTH_FAILURE_RATE_LIMIT="3 per minute").test_client()
    statuses = [
        guess(client, {**headers, "X-Forwarded-For": f"198.51.100.7:{port}"}, ATTACKER).status_code
        for port in (50001, 50002, 50003, 50004)
    ]
    assert statuses == [401, 401, 401, 429]


@pytest.mark.parametrize(
    ("address", "counted"),
    [
        ("198.51.100.7", "198.51.100.7"),
        ("2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::/64"),
        ("::ffff:198.51.100.7", "198.51.100.7"),  # an IPv4 client seen through IPv6
        ("fe80::1%eth0", "fe80::/64"),
        ("198.51.100.7:50123", "198.51.100.7"),  # a proxy that writes the client's port
        ("[2001:db8:1:2::1]:50123", "2001:db8:1:2::/64"),
        ("[2001:db8:1:2::1]", "2001:db8:1:2::/64"),
        ("not an address", "not an address"),
        (None, "unknown"),
    ],
)
def test_counted_address(address: str | None, counted: str) -> None:
    assert counted_address(address) == counted
