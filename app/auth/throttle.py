"""One login throttle for the UI and the API: per account and per client address, shared.

After the n-th recent failure for an account (database + user name, whatever the address) the
account's next attempt is considered only after ``base * 2**(n-1)`` seconds, capped at
``LOGIN_FAILURE_MAX_DELAY_SECONDS`` (30 s by default): guessing gets exponentially slower, and
the real user is never kept out for more than that cap after the last failure. The client
address (as ``ProxyFix`` resolves it) has a back-off of its own, starting after a few free
failures so that one person's typos do not slow an office behind one address, which stops one
client spraying many accounts. An attempt inside either wait is refused before any password
is hashed. Failures older than the window are forgotten; a success clears the account's.

Asking for the wait and recording the failure are two steps around a slow hash, so parallel
attempts would all see "no wait" and each check a password. Once an account has a recent
failure, one check runs at a time instead (``reserve_check``): the attempt that takes the
account's reservation asks for the wait and checks the password, every other attempt meanwhile
is refused as throttled.

The counters and the reservation live in ``SharedCounters`` (the rate limiter's storage), so
every worker and node sees the same waits and the same reservation.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from app.auth.addresses import counted_address
from app.auth.shared_counters import SharedCounters
from app.auth.usernames import normalized_username

#: Where the app keeps its throttle (``app.extensions``).
EXTENSION_KEY = "credgrid.login_throttle"
#: The longest an account's check stays reserved: long enough for a password check (Argon2
#: plus reading the user, whose waits the database timeouts bound at 10 s), short enough that
#: a worker dying mid-check keeps the account's logins refused only that long.
CHECK_RESERVATION_SECONDS = 10


@dataclass(frozen=True)
class Attempt:
    database: str
    username: str
    address: str

    def account_key(self) -> str:
        name = normalized_username(self.username).casefold()
        raw = f"{self.database}\0{name}".encode("utf-8", "replace")
        return "login:account:" + hashlib.sha256(raw).hexdigest()[:32]

    def address_key(self) -> str:
        return "login:address:" + counted_address(self.address)


class LoginThrottle:
    def __init__(
        self,
        counters: SharedCounters,
        base_delay: float,
        max_delay: float,
        window: float,
        address_free_failures: int,
    ) -> None:
        self.counters = counters
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.window = max(1, math.ceil(window))
        self.address_free_failures = address_free_failures

    @classmethod
    def from_config(cls, counters: SharedCounters, config: Any) -> LoginThrottle:
        return cls(
            counters,
            base_delay=float(config["LOGIN_FAILURE_DELAY_SECONDS"]),
            max_delay=float(config["LOGIN_FAILURE_MAX_DELAY_SECONDS"]),
            window=float(config["LOGIN_FAILURE_WINDOW_SECONDS"]),
            address_free_failures=int(config["LOGIN_ADDRESS_FREE_FAILURES"]),
        )

    def delay_after(self, failures: int) -> int:
        """Whole seconds of wait imposed after ``failures`` recent failures."""
        if failures <= 0 or self.base_delay <= 0:
            return 0
        return math.ceil(min(self.max_delay, self.base_delay * 2 ** min(failures - 1, 62)))

    def wait_seconds(self, attempt: Attempt) -> int:
        """Whole seconds until ``attempt`` may be checked (0: now)."""
        waits = (
            self.counters.seconds_left(f"{key}:wait")
            for key in (attempt.account_key(), attempt.address_key())
        )
        return max(0, math.ceil(max(waits)))

    @contextmanager
    def reserve_check(self, attempt: Attempt) -> Iterator[bool]:
        """``True`` inside for the one attempt per account that may check a password now.

        Only once the account has a recent failure: then it is taken atomically in the shared
        counters (the first increment of the account's ``checking`` key owns it, on every node)
        and released on leaving whatever happened inside; its expiry frees it if the worker
        dies first. An account without failures is checked in parallel, so an integration whose
        processes log in at once all get in; a guesser gets one burst of at most one check per
        worker, after which its failures are on record and it gets one check per wait. With no
        base delay the throttle is off and every attempt may check.
        """
        if self.base_delay <= 0 or not self.counters.get(f"{attempt.account_key()}:failures"):
            yield True
            return
        key = f"{attempt.account_key()}:checking"
        owned = self.counters.incr(key, CHECK_RESERVATION_SECONDS) == 1
        try:
            yield owned
        finally:
            if owned:
                self.counters.clear(key)

    def record_failure(self, attempt: Attempt) -> None:
        account_failures = self.counters.incr(f"{attempt.account_key()}:failures", self.window)
        self._wait(attempt.account_key(), self.delay_after(account_failures))
        address_failures = self.counters.incr(f"{attempt.address_key()}:failures", self.window)
        self._wait(
            attempt.address_key(),
            self.delay_after(address_failures - self.address_free_failures),
        )

    def record_success(self, attempt: Attempt) -> None:
        for suffix in ("failures", "wait"):
            self.counters.clear(f"{attempt.account_key()}:{suffix}")

    def _wait(self, key: str, seconds: int) -> None:
        self.counters.clear(f"{key}:wait")
        if seconds > 0:
            self.counters.incr(f"{key}:wait", seconds)
