"""The application as the benchmark serves it: ``create_app()`` plus, only when the config
``BENCH_ENDPOINTS`` is true, a bare route (no auth, no database) that measures the framework
floor inside the same app, behind the same request hooks. Production never loads this module.
"""

from __future__ import annotations

from flask import Blueprint, Flask, Response

from app import create_app as create_credgrid_app
from app.api.envelope import json_response

BARE_PATH = "/bench/bare"

bp = Blueprint("bench", __name__)


@bp.get(BARE_PATH)
def bare() -> Response:
    return json_response({"ok": True})


def create_app() -> Flask:
    app = create_credgrid_app()
    if app.config.get("BENCH_ENDPOINTS"):
        app.register_blueprint(bp)
    return app
