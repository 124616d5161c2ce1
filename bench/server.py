"""The application as the benchmark serves it: ``create_app()`` plus, only when the config
``BENCH_ENDPOINTS`` is true, a bare route (no auth, no database) that measures the framework
floor inside the same app, behind the same request hooks, and the hand-written psycopg batch
handler (``bench.http_floor``), the HTTP floor of the real batch endpoint. Production never
loads this module.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, Response

from app import create_app as create_credgrid_app
from app.api.envelope import json_response
from bench import http_floor

BARE_PATH = "/bench/bare"

bp = Blueprint("bench", __name__)


@bp.get(BARE_PATH)
def bare() -> Response:
    return json_response({"ok": True})


def create_app(config: dict[str, Any] | None = None) -> Flask:
    app = create_credgrid_app(config)
    if app.config.get("BENCH_ENDPOINTS"):
        app.register_blueprint(bp)
        http_floor.init_app(app)
    return app
