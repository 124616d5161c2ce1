"""Rate limits through Flask-Limiter, in the storage ``FLASK_RATELIMIT_STORAGE_URI`` names.

- Per API key on the API (SPEC section 7, ``FLASK_RATE_LIMIT``); the key is a hash of the API
  key, never the key itself.
- Per client address (as ``ProxyFix`` resolves it) on the login routes, UI and API
  (``FLASK_LOGIN_RATE_LIMIT``), one count for all of them, checked before any password is
  hashed.
- Per client address on the API's failed authentications (``FLASK_AUTH_FAILURE_RATE_LIMIT``):
  only a 401 counts, but once an address has spent its budget every API request from it is
  429 until the window ends. Without it a client inventing a new API key per request had a
  fresh per-key budget each time.

``memory://`` (limits' own storage, the default) counts per process; ``redis://host:port``
shares the counters between workers and hosts, and the login throttle
(``app.auth.throttle``) keeps its counters in the same storage. When Redis is unreachable
Flask-Limiter's in-memory fallback counts per process until it answers again (the app keeps
starting and answering; the storage's state is in ``/healthz``).
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from typing import Any

from flask import Flask, current_app, request
from flask import Response as FlaskResponse
from flask_limiter import ApplicationLimit, Limiter, RequestLimit

from app.api.paths import is_api_path, route_path
from app.api.requests import API_KEY_HEADER, name_unauthenticated_caller
from app.auth.addresses import counted_address
from app.auth.log_limit import OncePerMinute
from app.auth.shared_counters import DEFAULT_STORAGE_URI, SharedCounters, storage_options
from app.auth.throttle import EXTENSION_KEY, LoginThrottle
from app.config import ConfigError, exit_under_flask_cli

UNLIMITED_PATHS = ("/healthz", "/openapi.json")
log = logging.getLogger("credgrid.rate_limit")
#: Where the app keeps its ``SharedCounters`` (``app.extensions``).
COUNTERS_KEY = "credgrid.shared_counters"
#: The name Flask-Limiter's own retry-after value goes under (``RATELIMIT_HEADER_RETRY_AFTER``).
LIMITER_RETRY_AFTER_HEADER = "X-RateLimit-Retry-After"


def client_address() -> str:
    return counted_address(request.remote_addr)


def rate_limit_key() -> str:
    api_key = request.headers.get(API_KEY_HEADER)
    if api_key:
        return "key:" + hashlib.sha256(api_key.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return "addr:" + client_address()


def login_rate_key() -> str:
    return "login-addr:" + client_address()


def auth_failure_key() -> str:
    return "authfail-addr:" + client_address()


def authentication_failed(response: FlaskResponse) -> bool:
    return response.status_code == 401


def configured_limit() -> str:
    return current_app.config["RATE_LIMIT"]


def configured_login_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


def configured_auth_failure_limit() -> str:
    return current_app.config["AUTH_FAILURE_RATE_LIMIT"]


def over_limit_message() -> str:
    """What the request limit counts: the API key, or the address of a request without one."""
    counted = "for this API key" if request.headers.get(API_KEY_HEADER) else "from this address"
    return f"Too many requests {counted} ({configured_limit()})"


def exempt_from_limit() -> bool:
    return not is_api_path(request.path) or route_path(request.path) in UNLIMITED_PATHS


def name_refused_caller(_limit: RequestLimit) -> None:
    """A 429's line names the database and the token's user of an API request, as its other
    lines do, not the client address alone (``app.api.requests``)."""
    if is_api_path(request.path):
        name_unauthenticated_caller()


limiter = Limiter(
    key_func=rate_limit_key,
    application_limits=[
        ApplicationLimit(
            configured_limit,
            exempt_when=exempt_from_limit,
            error_message=over_limit_message,
        ),
        # Checked before every API request, counted only after a 401 (``deduct_when``).
        ApplicationLimit(
            configured_auth_failure_limit,
            key_function=auth_failure_key,
            exempt_when=exempt_from_limit,
            deduct_when=authentication_failed,
            scope="auth-failures",
            error_message="Too many failed authentications from this address",
        ),
    ],
    headers_enabled=True,
    on_breach=name_refused_caller,
)

#: Decorator of the login views (UI and API, at their paths and under ``/vbasoftware``): one
#: per-address limit on attempts (POST only) for all of them together. A shared limit, so one
#: counter per address whatever the route: Flask-Limiter counts a plain ``limit`` per endpoint,
#: which let an address spread its attempts over the routes for five times the limit.
login_rate_limit = limiter.shared_limit(
    configured_login_limit,
    scope="login",
    key_func=login_rate_key,
    methods=["POST"],
    error_message="Too many login attempts from this address",
)


def register_rate_limit(app: Flask) -> None:
    """The limiter and the login throttle, both on ``RATELIMIT_STORAGE_URI`` with the same
    ``RATELIMIT_STORAGE_OPTIONS``."""
    uri = app.config.setdefault("RATELIMIT_STORAGE_URI", DEFAULT_STORAGE_URI)
    options = storage_options(uri, app.config.get("RATELIMIT_STORAGE_OPTIONS"))
    app.config["RATELIMIT_STORAGE_OPTIONS"] = options
    app.config.setdefault("RATELIMIT_IN_MEMORY_FALLBACK_ENABLED", True)
    # A storage failure Flask-Limiter meets outside its fallback is logged, never a 500.
    app.config.setdefault("RATELIMIT_SWALLOW_ERRORS", True)
    # Flask-Limiter writes its own Retry-After on every answer, over any the answer had (a
    # 503's, a throttled login's), rounded down; its value goes under its own name instead,
    # and the limit's own 429 gets Retry-After from retry_after_seconds().
    app.config.setdefault("RATELIMIT_HEADER_RETRY_AFTER", LIMITER_RETRY_AFTER_HEADER)
    limiter_log = logging.getLogger("flask-limiter")
    if not any(isinstance(f, OncePerMinute) for f in limiter_log.filters):
        limiter_log.addFilter(OncePerMinute())
    counters = shared_counters(uri, app.config.get("RATELIMIT_KEY_PREFIX") or "credgrid", options)
    # Registered before the limiter's own hook, so that Flask (which runs a request's
    # after_request functions in the reverse order of their registration) runs it after it.
    app.after_request(agree_retry_after)
    limiter.init_app(app)
    app.extensions[COUNTERS_KEY] = counters
    app.extensions[EXTENSION_KEY] = LoginThrottle.from_config(counters, app.config)


def shared_counters(uri: str, prefix: str, options: dict[str, Any]) -> SharedCounters:
    """The counters on ``uri`` with the limiter's storage ``options``; a URI the storage cannot
    be built from (a port that is not a number, a driver that is not installed) stops start-up
    in one line naming the setting, as every bad setting does, instead of a traceback from
    inside ``limits``. Built before the limiter, which would fail on the same URI."""
    try:
        return SharedCounters(uri, prefix=prefix, options=options)
    except Exception as exc:
        error = ConfigError(f"FLASK_RATELIMIT_STORAGE_URI cannot be used: {exc}.")
        exit_under_flask_cli(error)
        raise error from None


def retry_after_seconds() -> int:
    """Whole seconds until the request's tightest limit lets another request through."""
    try:
        return _seconds_until_reset()
    except Exception:  # a 429 is being answered: never turn it into a 500
        log.warning("rate limit storage unreadable while answering a 429; Retry-After: 1")
        return 1


def _seconds_until_reset() -> int:
    """Whole seconds, rounded up and at least 1, until the window of the request's tightest
    limit resets (RFC 9110's delta-seconds: a client that waits that long finds it reset).
    Flask-Limiter's ``reset_at`` reads the window once per request, then keeps it; the storage
    may have gone away before that."""
    current = limiter.current_limit
    reset_at = None if current is None else current.reset_at
    return 1 if reset_at is None else max(1, math.ceil(reset_at - time.time()))


def agree_retry_after(response: FlaskResponse) -> FlaskResponse:
    """App ``after_request`` (after Flask-Limiter's): its ``X-RateLimit-Retry-After`` says what
    the answer's ``Retry-After`` says, when it has one (a 429 of a limit or of the login
    throttle, a 503); otherwise the seconds until the limit's window resets, rounded up as
    ``Retry-After`` is. Flask-Limiter's own value is rounded down: ``0`` on a 429 whose
    ``Retry-After`` was 1, and a second short of every other ``Retry-After``."""
    if LIMITER_RETRY_AFTER_HEADER not in response.headers:
        return response
    wait = response.headers.get("Retry-After")
    if wait is None:
        try:
            wait = str(_seconds_until_reset())
        except Exception:  # the storage went away: Flask-Limiter's value stays
            return response
    response.headers[LIMITER_RETRY_AFTER_HEADER] = wait
    return response


def rate_limit_storage_state(app: Flask) -> str:
    """``"ok"`` or why the shared storage is not answering (reported by ``/healthz``)."""
    return app.extensions[COUNTERS_KEY].state()
