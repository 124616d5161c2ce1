"""Parallel logins at an account with a recent failure check one password between them (the
check is reserved); at an account without failures they are all checked.

Without the reservation every attempt of a burst asked the throttle for a wait before any of
them had recorded its failure, so each busy worker checked a password per burst, every time
the account's wait ran out. The reservation is in the shared counters: it holds between the
threads of one process on ``memory://`` and between nodes on Redis.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from app.auth import login_check, users
from app.auth.login_check import LoginCheck, check_login
from app.auth.models import StaffUser
from app.auth.passwords import hash_password
from app.auth.shared_counters import SharedCounters
from app.auth.throttle import Attempt, LoginThrottle
from tests.api_support import basic
from tests.redis_support import REDIS_URL, redis_available, redis_prefix

PARALLEL = 8
ALICE = Attempt("main", "alice", "192.0.2.1")
RIGHT = "correct horse"
#: The user a faked check finds: its hash is current, so no login here hashes it again.
CHECKED_USER = StaffUser(id=1, username="alice", password_hash=hash_password(RIGHT))


def node_throttle(uri: str, prefix: str = "credgrid") -> LoginThrottle:
    return LoginThrottle(SharedCounters(uri, prefix), 0.5, 30.0, 900.0, address_free_failures=5)


@pytest.fixture(params=["memory", "redis"])
def throttles(request: pytest.FixtureRequest) -> Iterator[list[LoginThrottle]]:
    """One node's throttle on ``memory://``, or two nodes' throttles on one Redis."""
    if request.param == "memory":
        yield [node_throttle("memory://")]
        return
    if not redis_available():
        pytest.skip("Redis is not running")
    with redis_prefix() as prefix:
        yield [node_throttle(REDIS_URL, prefix), node_throttle(REDIS_URL, prefix)]


@pytest.fixture
def checked(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The passwords ``check_login`` checked; each check takes 0.2 s, as Argon2 takes time."""
    passwords: list[str] = []

    def authenticate(_session: Any, username: str, password: str) -> StaffUser | None:
        passwords.append(password)
        time.sleep(0.2)
        return CHECKED_USER if password == RIGHT else None

    monkeypatch.setattr(login_check, "authenticate", authenticate)
    return passwords


def at_once(count: int, attempt: Callable[[int], Any]) -> list[Any]:
    """``attempt(0)`` … ``attempt(count - 1)`` in threads released together."""
    start = threading.Barrier(count)

    def run(index: int) -> Any:
        start.wait()
        return attempt(index)

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(run, range(count)))


def fail_once_and_wait(throttles: list[LoginThrottle]) -> None:
    """A failure on record for Alice's account, whose wait (1 s: whole seconds) has run out."""
    throttles[0].record_failure(ALICE)
    time.sleep(1.1)


def burst(throttles: list[LoginThrottle], password: str) -> list[LoginCheck]:
    """``PARALLEL`` attempts at Alice's account, spread over the nodes."""
    return at_once(
        PARALLEL,
        lambda i: check_login(None, throttles[i % len(throttles)], ALICE, password, via="test"),  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("password", ["wrong password", RIGHT])
def test_parallel_attempts_at_an_account_with_a_failure_check_one_password(
    throttles: list[LoginThrottle], checked: list[str], password: str
) -> None:
    fail_once_and_wait(throttles)
    outcomes = burst(throttles, password)
    assert len(checked) == 1
    refused = [outcome for outcome in outcomes if outcome.retry_after]
    assert len(refused) == PARALLEL - 1
    assert all(outcome.user is None and outcome.retry_after >= 1 for outcome in refused)


def test_parallel_logins_at_an_account_without_failures_all_get_in(
    throttles: list[LoginThrottle], checked: list[str]
) -> None:
    """An integration whose processes log in at the same moment: no failure on record, so
    nothing to slow down; each is checked and let in."""
    outcomes = burst(throttles, RIGHT)
    assert len(checked) == PARALLEL
    assert all(outcome.user is not None for outcome in outcomes)


def test_parallel_attempts_at_other_accounts_are_each_checked(
    throttles: list[LoginThrottle], checked: list[str]
) -> None:
    outcomes = at_once(
        PARALLEL,
        lambda i: check_login(
            None,  # type: ignore[arg-type]
            throttles[i % len(throttles)],
            Attempt("main", f"user{i}", ALICE.address),
            RIGHT,
            via="test",
        ),
    )
    assert len(checked) == PARALLEL
    assert all(outcome.user is not None for outcome in outcomes)


def test_a_sequential_login_still_works_after_a_burst(
    throttles: list[LoginThrottle], checked: list[str]
) -> None:
    fail_once_and_wait(throttles)
    burst(throttles, RIGHT)
    for throttle in throttles * 2:  # each success released the reservation
        assert check_login(None, throttle, ALICE, RIGHT, via="test").user is not None  # type: ignore[arg-type]
    assert len(checked) == 1 + 2 * len(throttles)


@pytest.mark.parametrize(
    "outcome",
    [lambda: CHECKED_USER, lambda: None, lambda: 1 / 0],
    ids=["success", "failure", "error"],
)
def test_the_reservation_is_held_during_the_check_and_released_after_it(
    monkeypatch: pytest.MonkeyPatch, outcome: Callable[[], Any]
) -> None:
    throttle = node_throttle("memory://")
    refused_meanwhile: list[int] = []

    def authenticate(_session: Any, _username: str, _password: str) -> Any:
        other = check_login(None, throttle, ALICE, "another guess", via="test")  # type: ignore[arg-type]
        refused_meanwhile.append(other.retry_after)
        assert other.busy and other.user is None
        return outcome()

    monkeypatch.setattr(login_check, "authenticate", authenticate)
    fail_once_and_wait([throttle])
    with contextlib.suppress(ZeroDivisionError):  # the check failed: released all the same
        check_login(None, throttle, ALICE, "a guess", via="test")  # type: ignore[arg-type]
    assert refused_meanwhile == [1]  # refused unchecked while the first was being checked
    with throttle.reserve_check(ALICE) as reserved:
        assert reserved


def test_without_a_base_delay_nothing_is_reserved() -> None:
    throttle = node_throttle("memory://")
    throttle.base_delay = 0
    with throttle.reserve_check(ALICE) as first, throttle.reserve_check(ALICE) as second:
        assert first and second


# --- Through the login routes ----------------------------------------------------------------
# On SQLite a login's request holds the database's write lock, which already serialises the
# logins to one database; on PostgreSQL they run in parallel and only the reservation keeps a
# burst to one check.


@pytest.fixture
def verified(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The passwords really verified; each verification takes 0.3 s longer than usual."""
    passwords: list[str] = []
    real = users.verify_password

    def slow_verify(password_hash: str | None, password: str) -> bool:
        passwords.append(password)
        time.sleep(0.3)
        return real(password_hash, password)

    monkeypatch.setattr(users, "verify_password", slow_verify)
    return passwords


@pytest.fixture(params=["memory", "redis"])
def nodes(request: pytest.FixtureRequest, fresh_app: Any) -> Iterator[list[Any]]:
    """One app on ``memory://``, or two ("nodes") on one Redis; the throttle switched on."""
    if request.param == "memory":
        yield [fresh_app(LOGIN_FAILURE_DELAY_SECONDS=0.5)]
        return
    if not redis_available():
        pytest.skip("Redis is not running")
    with redis_prefix() as prefix:
        config = {
            "LOGIN_FAILURE_DELAY_SECONDS": 0.5,
            "RATELIMIT_STORAGE_URI": REDIS_URL,
            "RATELIMIT_KEY_PREFIX": prefix,
        }
        yield [fresh_app(**config), fresh_app(**config)]


def test_a_burst_of_api_guesses_verifies_one_password(
    nodes: list[Any], verified: list[str], make_user: Any, make_api_key: Any
) -> None:
    make_user("alice", RIGHT)
    key = make_api_key()
    headers = {"vbasoftware-database": "main", "x-api-key": key}
    guess = {**headers, "Authorization": basic("alice", "wrong password")}
    assert nodes[0].test_client().post("/user-authentication", headers=guess).status_code == 401
    time.sleep(1.1)  # that failure's wait runs out; the failure stays on record
    answers = at_once(
        PARALLEL,
        lambda i: nodes[i % len(nodes)].test_client().post("/user-authentication", headers=guess),
    )
    assert len(verified) == 2  # the first guess and one of the burst
    assert sorted(a.status_code for a in answers) == [401] + [429] * (PARALLEL - 1)
    assert all(int(a.headers["Retry-After"]) >= 1 for a in answers if a.status_code == 429)
    details = [a.get_json()["error"]["detail"] for a in answers if a.status_code == 429]
    # On SQLite the logins' write lock serialises them: the later ones meet the failure's wait.
    assert all(
        d.startswith(("Another login to this account is being checked.", "Too many"))
        for d in details
    )
    time.sleep(1.1)  # the account's wait after its second failure
    login = {**headers, "Authorization": basic("alice", RIGHT)}
    for node in nodes:  # then, one at a time, the right password logs in on every node
        assert node.test_client().post("/user-authentication", headers=login).status_code == 200


def test_an_api_login_while_the_account_is_being_checked_says_so(
    fresh_app: Any, make_user: Any, make_api_key: Any
) -> None:
    from app.auth.throttle import EXTENSION_KEY

    app = fresh_app(LOGIN_FAILURE_DELAY_SECONDS=0.5)
    make_user("alice", RIGHT)
    headers = {"vbasoftware-database": "main", "x-api-key": make_api_key()}
    client = app.test_client()
    guess = {**headers, "Authorization": basic("alice", "wrong password")}
    assert client.post("/user-authentication", headers=guess).status_code == 401
    time.sleep(1.1)  # the failure's wait runs out; the failure stays on record
    throttle = app.extensions[EXTENSION_KEY]
    checking = f"{Attempt('main', 'alice', '127.0.0.1').account_key()}:checking"
    throttle.counters.incr(checking, 10)  # another login's check, in progress
    login = {**headers, "Authorization": basic("alice", RIGHT)}
    refused = client.post("/user-authentication", headers=login)
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "1"
    assert refused.get_json()["error"]["detail"] == (
        "Another login to this account is being checked. Try again in 1 second."
    )
    throttle.counters.clear(checking)
    assert client.post("/user-authentication", headers=login).status_code == 200
