"""Redis for tests: the machine's server at 127.0.0.1:6379, db 11, a key prefix per test.

Other work shares that server, so every test uses its own prefix and deletes only its keys.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import redis

REDIS_HOST, REDIS_PORT, REDIS_DB = "127.0.0.1", 6379, 11
REDIS_URL = f"redis://{REDIS_HOST}:{REDIS_PORT}/{REDIS_DB}"


def redis_available() -> bool:
    try:
        return bool(redis.Redis(REDIS_HOST, REDIS_PORT, socket_connect_timeout=0.5).ping())
    except redis.RedisError:
        return False


@contextmanager
def redis_prefix() -> Iterator[str]:
    """A fresh key prefix; its keys (and limits' keys under it) are deleted afterwards."""
    prefix = f"credgrid-test-{uuid.uuid4().hex[:12]}"
    try:
        yield prefix
    finally:
        client = redis.Redis(REDIS_HOST, REDIS_PORT, db=REDIS_DB)
        for key in client.scan_iter(match=f"*{prefix}*", count=1000):
            client.delete(key)
        client.close()
