"""A logging filter that lets each distinct message through at most once a minute.

An unreachable shared storage fails on every request; one line a minute says so as well as
thousands would. ``OncePerInterval`` is the rule itself, for any key: the filter keys it by
message, ``app.errors`` by error class for its tracebacks.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

INTERVAL_SECONDS = 60.0


class OncePerInterval:
    """Allows each key at most once per ``interval`` seconds (per process)."""

    def __init__(
        self, interval: float = INTERVAL_SECONDS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.interval = interval
        self._clock = clock
        self._last: dict[str, float] = {}
        self._lock = threading.Lock()

    def reset(self) -> None:
        """Forget what was allowed (tests start each with a fresh budget)."""
        with self._lock:
            self._last.clear()

    def allows(self, key: str) -> bool:
        now = self._clock()
        with self._lock:
            last = self._last.get(key)
            if last is not None and now - last < self.interval:
                return False
            self._last[key] = now
            return True


class OncePerMinute(logging.Filter):
    def __init__(
        self, interval: float = INTERVAL_SECONDS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__()
        self._once = OncePerInterval(interval, clock)

    def filter(self, record: logging.LogRecord) -> bool:
        return self._once.allows(f"{record.name}:{record.levelno}:{record.msg}")
