"""Security headers on every response: HTML, JSON, static files and errors alike.

HSTS is sent, and the session cookie is ``Secure``, when the request arrived over HTTPS as
``ProxyFix`` resolves it (``FLASK_TRUSTED_PROXIES``), or always when
``FLASK_SESSION_COOKIE_SECURE`` is set. Pages of a signed-in person and the token answers are
``Cache-Control: no-store``, so a shared computer's browser cache keeps none of them.
"""

from __future__ import annotations

from flask import Flask, current_app, g, request
from werkzeug.wrappers import Response

from app.api.paths import VBAPI_PREFIX

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
HSTS = "max-age=31536000; includeSubDomains"
#: API answers that carry credentials (served at these paths and under ``VBAPI_PREFIX``).
TOKEN_PATHS = ("/user-authentication", "/user-refresh-tokens")


def is_token_path(path: str) -> bool:
    """Whether ``path`` answers with tokens: every API route is served twice (at its path and
    under VBAPI's base path), and both copies carry the same credentials."""
    return path in TOKEN_PATHS or path.removeprefix(VBAPI_PREFIX) in TOKEN_PATHS


def add_security_headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("X-Frame-Options", "DENY")
    if request.is_secure or current_app.config.get("SESSION_COOKIE_SECURE"):
        headers.setdefault("Strict-Transport-Security", HSTS)
    if g.get("staff") is not None or is_token_path(request.path):
        headers["Cache-Control"] = "no-store"
    return response


def register_security_headers(app: Flask) -> None:
    app.after_request(add_security_headers)
