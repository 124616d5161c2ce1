"""How long the service waits on a database before answering 503 instead.

Every wait ends well below gunicorn's 30 s worker timeout, so a stuck statement, a held lock or
a silent peer costs one request a few seconds, not the worker. On PostgreSQL the limits are
server settings passed at connect time (``options``), so they hold for every statement of
every connection, and TCP keepalives notice a peer that disappeared without closing the
connection. On SQLite the one wait is the busy timeout on the write lock.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import make_url

POSTGRES_CONNECT_TIMEOUT_S = 5
# Probe an idle connection after 30 s, then every 10 s; three missed answers drop it.
POSTGRES_KEEPALIVES = {
    "keepalives": 1,
    "keepalives_idle": 30,
    "keepalives_interval": 10,
    "keepalives_count": 3,
}


def postgres_connect_args(url: str, config: dict[str, Any]) -> dict[str, Any]:
    """psycopg connect arguments: the three server timeouts, keepalives, connect timeout.

    A URL's own ``options`` (e.g. ``-csearch_path=...``) are kept: connect arguments replace
    the URL's values of the same name, so both go into one ``options`` string.
    """
    settings = {
        "statement_timeout": config["DATABASE_STATEMENT_TIMEOUT_SECONDS"],
        "lock_timeout": config["DATABASE_LOCK_TIMEOUT_SECONDS"],
        "idle_in_transaction_session_timeout": config[
            "DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_SECONDS"
        ],
    }
    options = [f"-c {name}={seconds * 1000}" for name, seconds in settings.items()]
    own = make_url(url).query.get("options")
    if own:
        options.insert(0, own if isinstance(own, str) else " ".join(own))
    return {
        "connect_timeout": POSTGRES_CONNECT_TIMEOUT_S,
        "options": " ".join(options),
        **POSTGRES_KEEPALIVES,
    }


def sqlite_connect_args(config: dict[str, Any]) -> dict[str, Any]:
    """sqlite3 connect arguments: ``timeout`` is SQLite's busy timeout, in seconds."""
    return {"timeout": float(config["SQLITE_BUSY_TIMEOUT_SECONDS"])}
