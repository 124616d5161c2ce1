"""Shared rate-limit and throttle storage (issue 15 item 1, issue 16 item 7).

With Redis the counters are shared between app instances (nodes); with Redis unreachable the
app still starts and answers, counts per process, says so in the log once a minute, and
``/healthz`` shows the storage's state (200: degraded, not down).
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from limits.storage import RedisStorage

from app.auth.log_limit import OncePerMinute
from app.auth.shared_counters import SharedCounters, storage_options
from app.auth.throttle import EXTENSION_KEY, Attempt
from app.config import shown_uri
from tests.api_support import basic
from tests.helpers import BATCH_URL
from tests.redis_support import (
    REDIS_DB,
    REDIS_HOST,
    REDIS_PORT,
    REDIS_URL,
    redis_available,
    redis_prefix,
)

needs_redis = pytest.mark.skipif(not redis_available(), reason="Redis is not running")


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def unreachable_app(fresh_app: Any) -> Any:
    return fresh_app(
        RATELIMIT_STORAGE_URI=f"redis://127.0.0.1:{closed_port()}/0", RATE_LIMIT="2 per minute"
    )


def test_unreachable_storage_still_starts_and_answers(
    unreachable_app: Any, auth_headers: Any, make_cred: Any
) -> None:
    make_cred(1)
    client = unreachable_app.test_client()
    headers = auth_headers()
    statuses = [
        client.put(BATCH_URL.format(cred=1), json=[], headers=headers).status_code for _ in range(3)
    ]
    assert statuses == [207, 207, 429]  # the limit still holds, counted in this process
    health = client.get("/healthz")
    assert health.status_code == 200
    state = health.get_json()["data"]["rateLimitStorage"]
    assert state.startswith("unavailable") and "per process" in state


def test_unreachable_storage_keeps_the_login_throttle_per_process(
    unreachable_app: Any,
) -> None:
    throttle = unreachable_app.extensions[EXTENSION_KEY]
    throttle.base_delay = 4
    attempt = Attempt("main", "alice", "192.0.2.1")
    throttle.record_failure(attempt)
    assert throttle.wait_seconds(attempt) >= 3


def test_unreachable_storage_is_retried_and_logged_once_a_minute(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [0.0]
    counters = SharedCounters(f"redis://127.0.0.1:{closed_port()}/0", clock=lambda: now[0])
    caplog.set_level(logging.WARNING, logger="credgrid.shared_storage")

    def warnings() -> int:
        return sum(1 for r in caplog.records if r.name == "credgrid.shared_storage")

    assert counters.incr("k", 60) == 1  # counted in memory
    assert warnings() == 1
    now[0] += 31  # past the retry interval: the storage is tried again, fails again
    assert counters.incr("k", 60) == 2
    assert warnings() == 1  # but not logged again within the minute
    now[0] += 61
    counters.incr("k", 60)
    assert warnings() == 2


@needs_redis
def test_healthz_says_when_redis_answers_but_refuses_writes(
    redis_nodes: tuple[Any, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Redis that answers PING but refuses every write (a read-only replica after a
    failover; ``maxmemory`` reached with ``noeviction``): every limit and login throttle
    counts per process, and ``/healthz`` must say so, not "ok"."""
    node, _ = redis_nodes
    client = node.test_client()
    assert client.get("/healthz").get_json()["data"]["rateLimitStorage"] == "ok"

    def read_only(*_args: Any, **_kwargs: Any) -> int:
        raise redis.exceptions.ReadOnlyError("You can't write against a read only replica.")

    monkeypatch.setattr(RedisStorage, "incr", read_only)
    health = client.get("/healthz")
    assert health.status_code == 200  # degraded, not down
    assert health.get_json()["data"]["rateLimitStorage"] == (
        "unavailable (ReadOnlyError): limits and login throttles are per process"
    )


def test_log_filter_lets_a_message_through_once_a_minute() -> None:
    now = [0.0]
    once = OncePerMinute(clock=lambda: now[0])
    record = logging.LogRecord("x", logging.WARNING, "f", 1, "storage down", None, None)
    assert [once.filter(record) for _ in range(3)] == [True, False, False]
    now[0] = 61.0
    assert once.filter(record) is True


@pytest.fixture
def redis_nodes(fresh_app: Any) -> Iterator[tuple[Any, Any]]:
    """Two app instances ("nodes") on the same databases and the same Redis key space."""
    with redis_prefix() as prefix:
        config = {
            "RATELIMIT_STORAGE_URI": REDIS_URL,
            "RATELIMIT_KEY_PREFIX": prefix,
            "RATE_LIMIT": "3 per minute",
        }
        yield fresh_app(**config), fresh_app(**config)


@needs_redis
def test_redis_shares_the_login_throttle_between_nodes(
    redis_nodes: tuple[Any, Any], make_user: Any, make_api_key: Any
) -> None:
    first, second = redis_nodes
    for node in redis_nodes:
        node.extensions[EXTENSION_KEY].base_delay = 4
    make_user("alice", "correct horse")
    key = make_api_key()

    def login(node: Any, password: str) -> int:
        headers = {
            "vbasoftware-database": "main",
            "x-api-key": key,
            "Authorization": basic("alice", password),
        }
        return node.test_client().post("/user-authentication", headers=headers).status_code

    assert login(first, "wrong password") == 401
    assert login(second, "correct horse") == 429
    assert first.test_client().get("/healthz").get_json()["data"]["rateLimitStorage"] == "ok"


@needs_redis
def test_the_login_throttle_uses_the_storage_options_the_limiter_uses(fresh_app: Any) -> None:
    """FLASK_RATELIMIT_STORAGE_OPTIONS reached Flask-Limiter's storage only: the throttle built
    its own from the URI alone, so with the database number (or a password, TLS settings) in
    the options it counted in another Redis database than the limiter (or in none, per
    process). Options given keep the short timeouts unless they set their own."""
    unnamed_db = f"redis://{REDIS_HOST}:{REDIS_PORT}"
    with redis_prefix() as prefix:
        node = fresh_app(
            RATELIMIT_STORAGE_URI=unnamed_db,
            RATELIMIT_STORAGE_OPTIONS={"db": REDIS_DB, "socket_timeout": 2},
            RATELIMIT_KEY_PREFIX=prefix,
        )
        node.extensions[EXTENSION_KEY].record_failure(Attempt("main", "alice", "192.0.2.1"))
        default_db = redis.Redis(REDIS_HOST, REDIS_PORT, db=0)
        try:
            misplaced = list(default_db.scan_iter(match=f"*{prefix}*"))
            configured_db = redis.Redis(REDIS_HOST, REDIS_PORT, db=REDIS_DB)
            assert len(list(configured_db.scan_iter(match=f"*{prefix}*"))) == 2
            configured_db.close()
            assert misplaced == []
            assert node.config["RATELIMIT_STORAGE_OPTIONS"] == {
                "db": REDIS_DB,
                "socket_connect_timeout": 0.5,
                "socket_timeout": 2,
            }
        finally:
            for key in default_db.scan_iter(match=f"*{prefix}*"):
                default_db.delete(key)
            default_db.close()


@pytest.mark.parametrize(
    "uri", ["redis://h:6379", "rediss://h:6379", "valkey://h:6379", "valkeys://h:6379"]
)
def test_every_redis_client_storage_gets_the_short_socket_timeouts(uri: str) -> None:
    """Valkey's storages are Redis's under another name: an unreachable one held each request
    for the client's default timeout (none) instead of half a second."""
    options = storage_options(uri, {"password": "x"})
    assert options["socket_timeout"] == options["socket_connect_timeout"] == 0.5
    assert options["password"] == "x"
    assert storage_options("memory://") == {}


@pytest.mark.parametrize(
    ("secret_part", "uri_format"),
    [
        ("s3cret-query", "redis://127.0.0.1:{port}/0?password=s3cret-query"),
        ("s3cret-userinfo", "redis://:s3cret-userinfo@127.0.0.1:{port}/0"),
        ("s3cret-both", "redis://user:s3cret-both@127.0.0.1:{port}/0?password=s3cret-both"),
    ],
)
def test_the_unreachable_storage_warning_shows_no_password(
    caplog: pytest.LogCaptureFixture, secret_part: str, uri_format: str
) -> None:
    """redis-py reads a password from the URI's query (``?password=``) as from its
    ``user:password@``: the warning showed the first whole."""
    port = closed_port()
    counters = SharedCounters(uri_format.format(port=port))
    caplog.set_level(logging.WARNING, logger="credgrid.shared_storage")
    counters.incr("k", 60)
    (record,) = [r for r in caplog.records if r.name == "credgrid.shared_storage"]
    assert secret_part not in record.getMessage()
    assert f"127.0.0.1:{port}/0 unreachable" in record.getMessage()


@pytest.mark.parametrize(
    ("uri", "shown"),
    [
        ("redis://h:6379/0?password=p@ss", "redis://…"),  # a password with an @ in the query
        ("redis://:p?ss@h:6379/0", "redis://…"),  # or a ? in the user part: either way
        ("redis://:p/ss@h:6379", "redis://…@h:6379"),
        ("memory://", "memory://"),
    ],
)
def test_shown_uri(uri: str, shown: str) -> None:
    assert shown_uri(uri) == shown
