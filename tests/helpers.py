"""Small helpers shared by the API and service tests (item builders: tests/factories.py)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

BATCH_URL = "/provider-credentialing/{cred}/licenses-batch"

#: The repository's root: the working directory of a ``flask --app app`` subprocess.
REPOSITORY = Path(__file__).resolve().parent.parent
#: ``flask --app app`` run by this interpreter.
FLASK = [sys.executable, "-m", "flask", "--app", "app"]


def flask_environment(instance: Path, **settings: str) -> dict[str, str]:
    """The environment of a ``flask --app app`` subprocess: this process's, without its
    ``FLASK_*`` settings, with ``instance`` (created here) as the instance folder, a test
    secret key and ``settings``."""
    instance.mkdir(exist_ok=True)
    return {
        **{name: value for name, value in os.environ.items() if not name.startswith("FLASK_")},
        "CREDGRID_INSTANCE_PATH": str(instance),
        "FLASK_SECRET_KEY": "a-test-secret-of-sufficient-length",
        **settings,
    }


def run_flask(env: dict[str, str], *command: str) -> subprocess.CompletedProcess[str]:
    """``flask --app app *command`` in a subprocess with ``env``; its output captured as text."""
    return subprocess.run(
        [*FLASK, *command], cwd=REPOSITORY, env=env, capture_output=True, text=True, timeout=60
    )


#: ``output`` of ``run_flask_writing_to`` for a process started with standard output closed.
CLOSED = -1


def run_flask_writing_to(
    env: dict[str, str], output: Any, *command: str
) -> subprocess.CompletedProcess[str]:
    """``run_flask`` with standard output sent to ``output`` (an open file such as /dev/full,
    or a pipe's descriptor), or closed (``CLOSED``: ``>&-``); standard error captured."""
    argv = [*FLASK, *command]
    if output == CLOSED:
        argv, output = ["sh", "-c", 'exec >&- && exec "$@"', "sh", *argv], None
    return subprocess.run(
        argv, cwd=REPOSITORY, env=env, stdout=output, stderr=subprocess.PIPE, text=True, timeout=120
    )


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
