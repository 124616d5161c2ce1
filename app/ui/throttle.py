"""Slowing down repeated failed logins, per username and client.

After the n-th recent failure for a (database, username, client) the next attempt is only
considered after ``base * 2**(n-1)`` seconds (capped). An attempt inside that window is refused
without checking the password, so guessing gets exponentially slower while no worker is tied up
sleeping. Failures older than the window are forgotten; a success clears the slate.

Counters live in process memory: with several workers each keeps its own, which multiplies an
attacker's rate by the number of workers but still turns it from thousands of guesses a second
into a handful a minute.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

#: Where ``register_ui`` keeps the app's throttle (``app.extensions``).
EXTENSION_KEY = "credgrid.login_throttle"


@dataclass
class _Failures:
    times: list[float] = field(default_factory=list)


class LoginThrottle:
    def __init__(
        self,
        base_delay: float,
        max_delay: float,
        window: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_entries: int = 10_000,
    ) -> None:
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.window = window
        self.max_entries = max_entries
        self._clock = clock
        self._failures: OrderedDict[Hashable, _Failures] = OrderedDict()
        self._lock = threading.Lock()

    @classmethod
    def from_config(cls, config: Any) -> LoginThrottle:
        return cls(
            base_delay=float(config["LOGIN_FAILURE_DELAY_SECONDS"]),
            max_delay=float(config["LOGIN_FAILURE_MAX_DELAY_SECONDS"]),
            window=float(config["LOGIN_FAILURE_WINDOW_SECONDS"]),
        )

    def delay_after(self, failures: int) -> float:
        """The wait imposed after ``failures`` recent failures."""
        if failures <= 0 or self.base_delay <= 0:
            return 0.0
        return min(self.max_delay, self.base_delay * 2 ** min(failures - 1, 62))

    def wait_seconds(self, key: Hashable) -> int:
        """Whole seconds until ``key`` may try again (0: now)."""
        with self._lock:
            now = self._clock()
            entry = self._recent(key, now)
            if entry is None:
                return 0
            ready_at = entry.times[-1] + self.delay_after(len(entry.times))
            return max(0, math.ceil(ready_at - now))

    def record_failure(self, key: Hashable) -> None:
        with self._lock:
            now = self._clock()
            entry = self._recent(key, now) or _Failures()
            entry.times.append(now)
            self._failures[key] = entry
            self._failures.move_to_end(key)
            while len(self._failures) > self.max_entries:
                self._failures.popitem(last=False)

    def record_success(self, key: Hashable) -> None:
        with self._lock:
            self._failures.pop(key, None)

    def _recent(self, key: Hashable, now: float) -> _Failures | None:
        entry = self._failures.get(key)
        if entry is None:
            return None
        entry.times = [t for t in entry.times if now - t < self.window]
        if not entry.times:
            del self._failures[key]
            return None
        return entry
