"""Per-request activity id, the ``X-Activity-ID`` header and one log line per request."""

from __future__ import annotations

import ipaddress
import logging
import sys
import time
import uuid
from urllib.parse import quote

from flask import Flask, Response, g, has_request_context, request

ACCESS_LOGGER = "credgrid.access"
#: Every login attempt, successes at INFO (app/auth/login_check.py). Like the access log, it
#: needs a handler of its own: a server process configures no logging, and Python's
#: last-resort handler prints warnings only, so no ``login succeeded`` line was ever written.
LOGIN_LOGGER = "credgrid.login"
#: Every change an operator makes with the CLI (users, API keys, purge, monitoring runs,
#: integrity reports, license imports): one INFO line each, naming the OS user and host
#: (``app.cli``).
ADMIN_LOGGER = "credgrid.admin"
ACTIVITY_HEADER = "X-Activity-ID"

access_log = logging.getLogger(ACCESS_LOGGER)
errors_log = logging.getLogger("credgrid.errors")


#: The loggers written to standard error by credgrid itself: the request's line, logins, CLI
#: changes, and errors (a 503's line, a 500's traceback), which without a handler of their own
#: reached standard error through Python's last-resort handler, without a time.
LOGGERS = (ACCESS_LOGGER, LOGIN_LOGGER, ADMIN_LOGGER, errors_log.name)


def register_activity_tracking(app: Flask) -> None:
    configure_logs()
    app.before_request(_start_activity)
    app.after_request(_finish_activity)


def configure_logs() -> None:
    """Every logger of ``LOGGERS`` on standard error (once per process)."""
    for name in LOGGERS:
        log_to_standard_error(logging.getLogger(name))


def log_to_standard_error(logger: logging.Logger) -> None:
    """``logger``'s INFO lines and above on standard error, time first, once per process."""
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False


def _start_activity() -> None:
    g.activity_id = str(uuid.uuid4())
    g.request_started = time.perf_counter()


def _finish_activity(response: Response) -> Response:
    activity_id = g.get("activity_id")
    if activity_id is None:  # a request that failed before before_request ran
        _start_activity()
        activity_id = g.activity_id
    response.headers[ACTIVITY_HEADER] = activity_id
    duration_ms = (time.perf_counter() - g.request_started) * 1000
    access_log.info(
        "activity=%s method=%s path=%s status=%s duration_ms=%.1f client=%s%s%s",
        activity_id,
        request.method,
        loggable_path(request.path),
        response.status_code,
        duration_ms,
        loggable_address(request.remote_addr),
        _actor(),
        _refusal(),
    )
    return response


def note_refusal(reason: str) -> None:
    """Why the request is refused, for its line (`` reason='…'``): a CSRF refusal's
    description says whether the form's session had ended or its token was forged, which its
    status alone does not. Never a secret: the reason, not what the request sent."""
    g.refusal_reason = reason


def _refusal() -> str:
    reason = g.get("refusal_reason")
    return f" reason={reason!r}" if reason is not None else ""


def activity_field() -> str:
    """`` activity=…`` of the request being answered, for a line of another logger (a login's,
    a refresh token's), so it leads to the request's own line; empty outside a request."""
    if has_request_context() and (activity_id := g.get("activity_id")):
        return f" activity={activity_id}"
    return ""


def _actor() -> str:
    """Who the request acted as, when it got that far: `` database=… user='…'`` and, on the
    API, `` api_key='…'`` (the key's label, never the key; at a login or a token refresh the
    key's alone, whose own line in ``credgrid.login`` names the user; refused by the rate limit
    before authentication, what is known without the database: its token's user); empty for
    an anonymous request."""
    principal = g.get("principal")  # app.api.requests.Principal, once authenticated
    if principal is not None:
        return (
            f" database={principal.database} user={principal.username!r}"
            f" api_key={principal.api_key_label!r}"
        )
    staff = g.get("staff")  # app.ui.login.Staff, a signed-in UI user
    if staff is not None:
        return f" database={staff.database} user={staff.username!r}"
    database = g.get("database")  # the API's database header, once checked
    shown = f" database={database}" if database else ""
    if (user := g.get("token_user")) is not None:  # a 429's (app.api.requests)
        shown += f" user={user!r}"
    if (label := g.get("api_key_label")) is not None:  # a login's or a refresh's API key
        shown += f" api_key={label!r}"
    return shown


def loggable_address(address: str | None) -> str:
    """The client address as the log shows it: an IP address as it is, anything else (what a
    misconfigured proxy chain let a client write in ``X-Forwarded-For``) quoted, so a space or
    ``key=`` in it cannot pass for a field of its own."""
    if not address:
        return "unknown"
    try:
        ipaddress.ip_address(address)
    except ValueError:
        return repr(address)
    return address


def loggable_path(path: str) -> str:
    """The path as a URL writes it: a line break or a space a client percent-encoded into it
    stays encoded, so it cannot end the log line and start a forged one."""
    return quote(path, safe="/:@!$&'()*+,;=", errors="backslashreplace")


def log_unavailable(reason: str, error: str) -> None:
    """The one warning line of a request answered 503 because its database could not serve it
    (``reason``: "database unavailable", or what is wrong with its schema; ``error``: the
    error's class), from the error handler or a page that answers it itself (the login form)."""
    errors_log.warning(
        "activity=%s %s on %s %s: %s",
        g.get("activity_id", ""),
        reason,
        request.method,
        loggable_path(request.path),
        error,
    )
