"""Security headers on every response: HTML, JSON, static files and errors alike.

HSTS is sent, and the session cookie is ``Secure``, when the request arrived over HTTPS as
``ProxyFix`` resolves it (``FLASK_TRUSTED_PROXIES``), or always when
``FLASK_SESSION_COOKIE_SECURE`` is set.

``Cache-Control: no-store`` is on every API answer (licenses, credentials, history, the
expirables, tokens, errors alike: neither a shared proxy nor a browser cache may keep them) and
on every page of a signed-in person (a shared computer's browser cache keeps none of them).
Two kinds of answer keep their caching: static files, and ``/openapi.json``, the same
document for everybody, generated from the code (no data of any database).
"""

from __future__ import annotations

from flask import Flask, current_app, g, request
from werkzeug.wrappers import Response

from app.api.paths import is_api_path, route_path

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
HSTS = "max-age=31536000; includeSubDomains"
#: API paths whose answers may be cached: they carry nothing of any database or person.
CACHEABLE_API_PATHS = ("/openapi.json",)


def add_security_headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("X-Frame-Options", "DENY")
    if request.is_secure or current_app.config.get("SESSION_COOKIE_SECURE"):
        headers.setdefault("Strict-Transport-Security", HSTS)
    if g.get("staff") is not None or is_stored_nowhere(request.path):
        headers["Cache-Control"] = "no-store"
    return response


def is_stored_nowhere(path: str) -> bool:
    """Whether the answer at ``path`` must not be cached: every API answer (at its path and
    under VBAPI's base path, whatever its status), except ``CACHEABLE_API_PATHS``."""
    return is_api_path(path) and route_path(path) not in CACHEABLE_API_PATHS


def register_security_headers(app: Flask) -> None:
    app.after_request(add_security_headers)
