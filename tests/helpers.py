"""Small helpers shared by the API and service tests (item builders: tests/factories.py)."""

from __future__ import annotations

import sqlite3
from typing import Any

BATCH_URL = "/provider-credentialing/{cred}/licenses-batch"


def results(response: Any) -> list[tuple[str | None, int, str]]:
    """``(id value, status, body)`` per item of a 207 response."""
    assert response.status_code == 207, response.get_json()
    return [(r["id"][0]["value"], r["status"], r["body"]) for r in response.get_json()["data"]]


def dispose_engines(application: Any) -> None:
    """Close the pooled connections of every database of ``application`` (a test's app is done)."""
    from app.extensions import db

    with application.app_context():
        for engine in db.engines.values():
            engine.dispose()


def write_lock_is_free(path: str) -> bool:
    """Whether another connection could start writing right now (no waiting)."""
    probe = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        probe.execute("BEGIN IMMEDIATE")
        probe.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError as exc:
        assert str(exc) == "database is locked"
        return False
    finally:
        probe.close()
