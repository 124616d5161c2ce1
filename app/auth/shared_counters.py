"""Counters every node agrees on, in the rate limiter's storage (``FLASK_RATELIMIT_STORAGE_URI``).

One setting serves the API rate limit (Flask-Limiter) and the login throttle (this module):
``memory://`` (the default) keeps them in the process, ``redis://host:port`` shares them
between workers and hosts. Only ``limits``' public storage API is used (``incr``, ``get``,
``get_expiry``, ``clear``, ``check``), so both storages behave the same.

``incr`` is atomic: of parallel increments of one key, exactly one sees 1 (the login
throttle's check reservation relies on it). Redis does it in one script; limits' memory storage
reads the new value after releasing its own lock, so calls on a memory storage are serialised
here (memory is per process, so a lock of this process is all it takes).

When the shared storage is unreachable the counters fall back to this process's memory (each
worker then counts on its own) and say so in the log at most once a minute; the shared
storage is tried again after ``RETRY_SECONDS``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from limits.storage import MemoryStorage, Storage, storage_from_string

from app.auth.log_limit import INTERVAL_SECONDS
from app.config import shown_uri

DEFAULT_STORAGE_URI = "memory://"
RETRY_SECONDS = 30.0
#: A storage that does not answer within this time is treated as unreachable, so a request
#: (or ``/healthz``) is never held for long by it.
REDIS_TIMEOUT_SECONDS = 0.5
#: The counter ``state`` increments to see that the storage takes writes (expires in 1 s).
PROBE_KEY = "storage-probe"

log = logging.getLogger("credgrid.shared_storage")

T = TypeVar("T")


#: The storages built on one Redis (or Valkey) client, which takes socket timeouts.
REDIS_CLIENT_SCHEMES = tuple(
    f"{scheme}://"
    for scheme in ("redis", "rediss", "redis+unix", "valkey", "valkeys", "valkey+unix")
)


def storage_options(uri: str, configured: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Options for ``limits``' storage of ``uri``: ``configured`` (the setting
    ``FLASK_RATELIMIT_STORAGE_OPTIONS``) over short socket timeouts for Redis, which a
    password or TLS option given there would otherwise drop."""
    defaults: dict[str, Any] = {}
    if uri.startswith(REDIS_CLIENT_SCHEMES):
        defaults = {
            "socket_connect_timeout": REDIS_TIMEOUT_SECONDS,
            "socket_timeout": REDIS_TIMEOUT_SECONDS,
        }
    return defaults | dict(configured or {})


class SharedCounters:
    """Expiring counters in the shared storage, or in memory while it is unreachable."""

    def __init__(
        self,
        uri: str,
        prefix: str = "credgrid",
        options: Mapping[str, Any] | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``options`` are the storage's (``storage_options(uri)`` when left out): the
        limiter's, so that both count in the same place."""
        self.uri = uri
        self.prefix = prefix
        options = storage_options(uri) if options is None else options
        self._shared: Storage = storage_from_string(uri, **options)
        self._fallback = MemoryStorage()
        self._memory_lock = threading.Lock()
        self._clock = clock
        self._dead_until = 0.0
        self._logged_at: float | None = None

    def incr(self, key: str, expiry_seconds: int) -> int:
        return self._call(lambda storage: storage.incr(self._key(key), expiry_seconds))

    def get(self, key: str) -> int:
        return self._call(lambda storage: storage.get(self._key(key)))

    def seconds_left(self, key: str) -> float:
        """Seconds until ``key`` expires (0 if it does not exist)."""
        return self._call(
            lambda storage: (
                max(0.0, storage.get_expiry(self._key(key)) - time.time())
                if storage.get(self._key(key))
                else 0.0
            )
        )

    def clear(self, key: str) -> None:
        self._call(lambda storage: storage.clear(self._key(key)))

    def state(self) -> str:
        """``"ok"``, or why the shared storage cannot count now (for ``/healthz``).

        The probe is a write, as every counter's call is: a Redis that answers a ping but
        refuses writes (a read-only replica after a failover, ``maxmemory`` reached with
        ``noeviction``) leaves every limit and throttle counting per process.
        """
        try:
            self._run(self._shared, lambda storage: storage.incr(self._key(PROBE_KEY), 1))
        except Exception as exc:  # whatever the storage raises is its answer
            return f"unavailable ({type(exc).__name__}): limits and login throttles are per process"
        return "ok"

    def _key(self, key: str) -> str:
        return f"{self.prefix}:{key}"

    def _run(self, storage: Storage, operation: Callable[[Storage], T]) -> T:
        """``operation`` on ``storage``, one at a time in this process if it is memory."""
        if not isinstance(storage, MemoryStorage):
            return operation(storage)
        with self._memory_lock:
            return operation(storage)

    def _call(self, operation: Callable[[Storage], T]) -> T:
        if self._clock() >= self._dead_until:
            try:
                return self._run(self._shared, operation)
            except Exception as exc:  # any storage failure: count in memory for now
                now = self._clock()
                self._dead_until = now + RETRY_SECONDS
                if self._logged_at is not None and now - self._logged_at < INTERVAL_SECONDS:
                    return self._run(self._fallback, operation)
                self._logged_at = now
                log.warning(
                    "Shared storage %s unreachable (%s: %s); counting in this process's "
                    "memory until it answers again.",
                    shown_uri(self.uri),
                    type(exc).__name__,
                    exc,
                )
        return self._run(self._fallback, operation)
