"""One place that maps exceptions to the JSON envelope (API paths) or an HTML page (UI).

Logs stay readable during an outage: each failed request is one line with its activity id
and the error's class; a traceback is written only for an unexpected error, and at most once
per error class per minute in a process (``tracebacks``), because a fault that fails
every request would otherwise write the same traceback thousands of times.
"""

from __future__ import annotations

import logging

from flask import Flask, Response, current_app, g, render_template, request
from flask_wtf.csrf import CSRFError
from markupsafe import escape
from werkzeug.exceptions import (
    BadHost,
    HTTPException,
    RequestEntityTooLarge,
)

from app.activity import log_unavailable, loggable_path, note_refusal
from app.api.envelope import ApiError, problem_response
from app.api.paths import is_api_path
from app.api.rate_limit import retry_after_seconds
from app.auth.log_limit import OncePerInterval
from app.auth.login_check import seconds_wording
from app.batch.outcome import ConcurrentWrites
from app.db_errors import (
    commit_outcome_unknown,
    error_class,
    is_database_unavailable,
    is_missing_schema_object,
)
from app.health import schema_problem
from app.tenancy import DATABASE_HEADER, engine_for

log = logging.getLogger("credgrid.errors")

SCHEMA_MISMATCH_DETAIL = (
    "This version of credgrid cannot use the database's schema ({problem}); nothing was "
    "changed by this request."
)
UNAVAILABLE_DETAIL = (
    "The database is unavailable; nothing was changed by this request. "
    "Try again in {seconds} seconds."
)
#: The connection was lost after the COMMIT was sent (``db_errors.commit_outcome_unknown``).
COMMIT_UNKNOWN_DETAIL = (
    "The connection to the database was lost while this request's changes were being "
    "committed, so they may have been saved: read them back, or send the request again in "
    "{seconds} seconds (a batch sent again stores the same values, not a second copy)."
)
#: The same, on a staff page: a Save sent again is refused (``app.ui.save_once``), and the
#: tab offers back what the grid does not show.
COMMIT_UNKNOWN_PAGE = (
    "The connection to the database was lost while your changes were being committed, so "
    "they may have been saved. Open the grid again in {seconds} seconds to see what is stored: "
    "this tab offers back the changes it does not show."
)


#: At most one traceback per error class per minute (per process).
tracebacks = OncePerInterval()


class QuietTracebacks(logging.Filter):
    """Keeps a record's traceback only within ``tracebacks``' budget for its error class."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None:
            kind = error_class(record.exc_info[1])
            if not tracebacks.allows(kind):
                record.exc_info = None
                record.exc_text = None
                record.msg = f"{record.msg} ({kind}; traceback logged within the last minute)"
        return True


#: Loggers that log tracebacks of their own (the batch engine's item-by-item fallback).
QUIETED_LOGGERS = ("credgrid.batch",)


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(ApiError, _api_error)
    app.register_error_handler(HTTPException, _http_exception)
    app.register_error_handler(Exception, _unexpected)
    for name in QUIETED_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, QuietTracebacks) for f in logger.filters):
            logger.addFilter(QuietTracebacks())


def _unavailable(
    exc: Exception, schema_problem: str | None = None
) -> Response | tuple[str, int, dict[str, str]]:
    """503 for the whole request, with ``Retry-After``; one log line, no traceback.

    ``schema_problem``: the database's schema does not match the code (behind it, or newer
    and lacking what it uses), which the answer says instead of "unavailable" (on either
    engine: the same status and text)."""
    activity = g.get("activity_id", "")
    log_unavailable(schema_problem or "database unavailable", error_class(exc))
    seconds = current_app.config["DATABASE_RETRY_AFTER_SECONDS"]
    headers = {"Retry-After": str(seconds)}
    api = is_api_path(request.path)
    if schema_problem is None:
        lost_commit = COMMIT_UNKNOWN_DETAIL if api else COMMIT_UNKNOWN_PAGE
        detail = (lost_commit if commit_outcome_unknown(exc) else UNAVAILABLE_DETAIL).format(
            seconds=seconds
        )
    else:
        detail = SCHEMA_MISMATCH_DETAIL.format(problem=schema_problem)
    if api:
        return problem_response(503, detail, headers=headers)
    try:
        page = render_template(
            "ui/error.html", code=503, title="Service Unavailable", detail=detail, activity=activity
        )
    except Exception:  # the page itself may need the database (the signed-in user)
        page = f"{detail} (activity {activity})"
    return page, 503, headers


def _api_error(exc: ApiError) -> Response:
    return problem_response(exc.status, exc.detail, exc.errors, exc.headers)


#: A ``Host`` header Werkzeug cannot read as a host name (``evil..example``: no IDNA form).
BAD_HOST_DETAIL = "The request's Host header is not a valid host name."
#: An API path no route has (a record that does not exist is the view's own 404, naming it).
UNROUTED_DETAIL = (
    "No route of this API has this path (a key in a path is an int32); the routes are listed "
    "in /openapi.json."
)


def _http_exception(exc: HTTPException) -> Response | tuple[str, int, list[tuple[str, str]]]:
    if isinstance(exc, CSRFError):  # "The CSRF token has expired.", "… is invalid.", …
        note_refusal(exc.description or "")
    if isinstance(exc, BadHost):
        return _bad_host()
    if not is_api_path(request.path):
        return _html_error(exc)
    headers = {}
    detail = exc.description or ""
    if exc.code == 429:  # the rate limit's (a throttled login raises its own ApiError)
        retry_after, detail = _rate_limited(detail)
        headers["Retry-After"] = retry_after
    if exc.code == 405 and exc.valid_methods:  # type: ignore[attr-defined]
        headers["Allow"] = ", ".join(exc.valid_methods)  # type: ignore[attr-defined]
    if exc.code == 404:  # no route (a record that does not exist is answered by its view)
        detail = UNROUTED_DETAIL
    if exc.code == 405:
        detail = f"Method {request.method} is not allowed here."
    return problem_response(exc.code or 500, detail, headers=headers)


def _unexpected(exc: Exception) -> Response | tuple[str, int] | tuple[str, int, dict[str, str]]:
    if is_missing_schema_object(exc) and (problem := _request_schema_problem()) is not None:
        return _unavailable(exc, problem)
    if is_database_unavailable(exc) or isinstance(exc, ConcurrentWrites):
        return _unavailable(exc)
    activity = g.get("activity_id", "")
    kind = error_class(exc)
    log.error(
        "activity=%s unhandled error on %s %s: %s",
        activity,
        request.method,
        loggable_path(request.path),
        kind,
        exc_info=exc if tracebacks.allows(kind) else None,
    )
    if not is_api_path(request.path):
        try:
            return render_template("ui/error.html", code=500, activity=activity), 500
        except Exception:
            log.exception("activity=%s the error page failed too", activity)
            return f"Internal error (activity {activity})", 500
    return problem_response(500, f"Internal error (activity {activity})")


def _request_schema_problem() -> str | None:
    """Why a database of this request cannot serve this code for its schema (behind it, newer
    than it, or not initialised), or None. Asked only after a statement met a table or column the
    database lacks; a database that cannot be read now says nothing (the error is then
    answered as it would have been)."""
    staff = g.get("staff")
    names = [
        *g.get("db_sessions", {}),
        request.headers.get(DATABASE_HEADER),
        getattr(staff, "database", None),
    ]
    for name in dict.fromkeys(names):
        if name not in current_app.config["DATABASES"]:
            continue
        try:
            problem = schema_problem(engine_for(name), newer_too=True)
        except Exception:
            continue
        if problem is not None:
            return f"database {name!r}: {problem}"
    return None


def _bad_host() -> Response | tuple[str, int, list[tuple[str, str]]]:
    """400 for a Host no URL can be built on. Flask then has no URL adapter for the request, so
    the UI's error page (whose links ``url_for`` builds) cannot be rendered: it raised, and the
    client got a 500. The UI's answer is a page without links."""
    if is_api_path(request.path):
        return problem_response(400, BAD_HOST_DETAIL)
    page = f"<!doctype html><title>Bad Request</title><p>{escape(BAD_HOST_DETAIL)}</p>"
    return page, 400, [("Content-Type", "text/html; charset=utf-8")]


def _html_error(exc: HTTPException) -> tuple[str, int, list[tuple[str, str]]]:
    """The UI's error page: the status, what it means for the person, the activity id."""
    code = exc.code or 500
    headers = [(k, v) for k, v in exc.get_headers() if k.lower() != "content-type"]  # e.g. Allow
    detail = exc.description
    if code == 429:  # the login form's rate limit
        retry_after, detail = _rate_limited(detail or "")
        headers.append(("Retry-After", retry_after))
    if isinstance(exc, RequestEntityTooLarge) and detail == RequestEntityTooLarge.description:
        detail = _too_large(request.endpoint, request.max_content_length)
    page = render_template(
        "ui/error.html",
        code=code,
        title=exc.name,
        detail=detail,
        csrf_failed=isinstance(exc, CSRFError),
        activity=g.get("activity_id", ""),
    )
    return page, code, headers


#: A /ui form over its size limit, by where it was sent: what it was and what to do instead.
TOO_LARGE = {
    "ui.save": (
        "This Save",
        "nothing was saved. Open the grid again in this tab (it offers back the changes this "
        "tab could keep) and save fewer rows at a time.",
    ),
    "ui.import_csv": (
        "This file",
        "nothing was imported. Split it into smaller files and import each of them.",
    ),
    "ui.apply_import": (
        "This import",
        "nothing was imported. Preview the file again, or split it into smaller files.",
    ),
}


def _too_large(endpoint: str | None, limit: int | None) -> str:
    """What was too large, the limit and what to do: werkzeug's own text says none of it."""
    what, then = TOO_LARGE.get(endpoint or "", ("What this form sent", "nothing was saved."))
    return f"{what} is larger than the {_size_wording(limit or 0)} this server accepts, so {then}"


def _size_wording(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.3g} MiB"
    return f"{size / 1024:.3g} KiB"


def _rate_limited(description: str) -> tuple[str, str]:
    """A rate limit's 429: its ``Retry-After`` and its text with how long to wait (the API's
    answer and the UI's page say the same)."""
    wait = retry_after_seconds()
    return str(wait), f"{description}. Try again in {seconds_wording(wait)}."
