"""The staff web UI (SPEC section 5): server-rendered pages over the same license service."""

from __future__ import annotations

from flask import Flask, redirect, url_for
from werkzeug.wrappers import Response

from app.ui.session_cookie import HttpsAwareSessionInterface


def register_ui(app: Flask) -> None:
    """The UI blueprint under ``/ui``, ``/`` → the UI, and its session cookie."""
    from app.ui import compliance  # noqa: F401  (its pages are routes of the same blueprint)
    from app.ui.views import bp

    app.register_blueprint(bp)
    app.add_url_rule("/", "root", _to_ui)
    app.session_interface = HttpsAwareSessionInterface()


def _to_ui() -> Response:
    return redirect(url_for("ui.home"))
