"""``GET /healthz``: no auth; checks every configured database."""

from __future__ import annotations

from flask import Blueprint, Response, current_app
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from app.api.envelope import json_response
from app.api.rate_limit import rate_limit_storage_state
from app.tenancy import engine_for

bp = Blueprint("health", __name__)

# Cheap, and fails on a database nobody ran init-db on (a new SQLite file is created empty).
SCHEMA_PROBE = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'"
PG_SCHEMA_PROBE = "SELECT 1 WHERE to_regclass('alembic_version') IS NOT NULL"


@bp.get("/healthz")
def healthz() -> Response:
    results: dict[str, str] = {}
    for name in current_app.config["DATABASES"]:
        try:
            with engine_for(name).connect() as connection:
                probe = SCHEMA_PROBE if connection.dialect.name == "sqlite" else PG_SCHEMA_PROBE
                migrated = connection.execute(text(probe)).first() is not None
            results[name] = "ok" if migrated else "not initialised: run init-db"
        except Exception as exc:  # any failure of one database is that database's state
            cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
            results[name] = f"{type(cause).__name__}: unavailable"
            current_app.logger.warning("healthz: database %s failed: %s", name, exc)
    status = 200 if all(v == "ok" for v in results.values()) else 503
    # The rate-limit storage is reported, not required: without it the service still answers,
    # counting per process (app/api/rate_limit.py), so it never makes /healthz 503.
    storage = rate_limit_storage_state(current_app)
    return json_response({"databases": results, "rateLimitStorage": storage}, status=status)
