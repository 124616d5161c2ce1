"""Per-API-key rate limit on the API (SPEC section 7), through Flask-Limiter.

Counters live in memory per worker by default; ``FLASK_RATELIMIT_STORAGE_URI`` (e.g. Redis)
shares them between workers. The key is a hash of the API key, never the key itself.
"""

from __future__ import annotations

import hashlib

from flask import Flask, current_app, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from app.api.requests import API_KEY_HEADER
from app.errors import is_api_path

UNLIMITED_PATHS = ("/healthz", "/openapi.json")


def rate_limit_key() -> str:
    api_key = request.headers.get(API_KEY_HEADER)
    if api_key:
        return "key:" + hashlib.sha256(api_key.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return "addr:" + (get_remote_address() or "unknown")


def configured_limit() -> str:
    return current_app.config["RATE_LIMIT"]


def exempt_from_limit() -> bool:
    return not is_api_path(request.path) or request.path in UNLIMITED_PATHS


limiter = Limiter(
    key_func=rate_limit_key,
    application_limits=[configured_limit],
    application_limits_exempt_when=exempt_from_limit,
    headers_enabled=True,
)


def register_rate_limit(app: Flask) -> None:
    app.config.setdefault("RATELIMIT_STORAGE_URI", "memory://")
    limiter.init_app(app)
