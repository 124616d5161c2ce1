"""The login back-off on its own, with a fake clock: no test sleeps."""

from __future__ import annotations

import pytest

from app.ui.throttle import LoginThrottle


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.mark.parametrize(
    ("failures", "delay"),
    [(0, 0.0), (1, 0.5), (2, 1.0), (3, 2.0), (5, 8.0), (7, 30.0), (500, 30.0)],
)
def test_delay_doubles_per_failure_up_to_the_cap(failures: int, delay: float) -> None:
    assert LoginThrottle(0.5, 30.0, 900.0).delay_after(failures) == delay


def test_no_base_delay_means_no_throttling(clock: Clock) -> None:
    throttle = LoginThrottle(0.0, 30.0, 900.0, clock=clock)
    for _ in range(50):
        throttle.record_failure("k")
    assert throttle.wait_seconds("k") == 0


def test_wait_counts_down_from_the_last_failure(clock: Clock) -> None:
    throttle = LoginThrottle(1.0, 30.0, 900.0, clock=clock)
    assert throttle.wait_seconds("k") == 0
    for _ in range(3):
        throttle.record_failure("k")
    assert throttle.wait_seconds("k") == 4
    clock.now += 1.5
    assert throttle.wait_seconds("k") == 3  # rounded up: never "0 seconds" too early
    clock.now += 2.5
    assert throttle.wait_seconds("k") == 0
    assert throttle.wait_seconds("other") == 0


def test_old_failures_are_forgotten_and_success_resets(clock: Clock) -> None:
    throttle = LoginThrottle(1.0, 30.0, 60.0, clock=clock)
    for _ in range(4):
        throttle.record_failure("k")
    clock.now += 61
    throttle.record_failure("k")
    assert throttle.wait_seconds("k") == 1  # one recent failure, not five
    throttle.record_success("k")
    assert throttle.wait_seconds("k") == 0


def test_memory_is_bounded(clock: Clock) -> None:
    throttle = LoginThrottle(1.0, 30.0, 900.0, clock=clock, max_entries=3)
    for key in "abcd":
        throttle.record_failure(key)
    assert throttle.wait_seconds("a") == 0  # the oldest entry went
    assert throttle.wait_seconds("d") == 1
