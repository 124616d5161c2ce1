"""The login throttle on its own, on limits' memory storage (the same API as Redis)."""

from __future__ import annotations

import pytest

from app.auth.shared_counters import SharedCounters
from app.auth.throttle import Attempt, LoginThrottle

ALICE = Attempt("main", "alice", "192.0.2.1")


@pytest.fixture
def throttle() -> LoginThrottle:
    return LoginThrottle(SharedCounters("memory://"), 0.5, 30.0, 900.0, address_free_failures=2)


@pytest.mark.parametrize(
    ("failures", "delay"),
    [(0, 0), (1, 1), (2, 1), (3, 2), (5, 8), (7, 30), (500, 30)],
)
def test_delay_doubles_per_failure_up_to_the_cap(
    throttle: LoginThrottle, failures: int, delay: int
) -> None:
    assert throttle.delay_after(failures) == delay


def test_no_base_delay_means_no_throttling(throttle: LoginThrottle) -> None:
    throttle.base_delay = 0
    for _ in range(5):
        throttle.record_failure(ALICE)
    assert throttle.wait_seconds(ALICE) == 0


def test_the_account_wait_holds_from_every_address(throttle: LoginThrottle) -> None:
    throttle.base_delay = 4
    throttle.record_failure(ALICE)
    elsewhere = Attempt("main", " ALICE ", "198.51.100.7")
    assert 3 <= throttle.wait_seconds(elsewhere) <= 4
    assert throttle.wait_seconds(Attempt("other", "alice", "198.51.100.7")) == 0


def test_a_success_clears_the_account_but_not_the_address(throttle: LoginThrottle) -> None:
    throttle.base_delay = 4
    for name in ("a", "b", "c"):  # two free failures, then the address waits
        throttle.record_failure(Attempt("main", name, ALICE.address))
    throttle.record_success(Attempt("main", "c", ALICE.address))
    assert throttle.wait_seconds(Attempt("main", "c", "198.51.100.7")) == 0
    assert throttle.wait_seconds(Attempt("main", "d", ALICE.address)) >= 3


def test_an_ipv6_address_waits_with_its_64_network(throttle: LoginThrottle) -> None:
    throttle.base_delay = 4
    for n, name in enumerate(("a", "b", "c")):  # two free failures, each from a new address
        throttle.record_failure(Attempt("main", name, f"2001:db8:5:6::{n + 1}"))
    assert throttle.wait_seconds(Attempt("main", "d", "2001:db8:5:6::99")) >= 3
    assert throttle.wait_seconds(Attempt("main", "d", "2001:db8:5:7::1")) == 0


def test_the_address_has_free_failures_before_it_waits(throttle: LoginThrottle) -> None:
    throttle.base_delay = 4
    throttle.record_failure(Attempt("main", "a", ALICE.address))
    throttle.record_failure(Attempt("main", "b", ALICE.address))
    assert throttle.wait_seconds(Attempt("main", "c", ALICE.address)) == 0
    throttle.record_failure(Attempt("main", "c", ALICE.address))
    assert throttle.wait_seconds(Attempt("main", "d", ALICE.address)) >= 3
