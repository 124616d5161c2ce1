"""One place that maps exceptions to the JSON envelope (API paths) or an HTML page (UI)."""

from __future__ import annotations

import logging

from flask import Flask, Response, g, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from app.api.envelope import ApiError, problem_response
from app.api.paths import is_api_path

log = logging.getLogger("credgrid.errors")


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(ApiError, _api_error)
    app.register_error_handler(HTTPException, _http_exception)
    app.register_error_handler(Exception, _unexpected)


def _api_error(exc: ApiError) -> Response:
    return problem_response(exc.status, exc.detail, exc.errors, exc.headers)


def _http_exception(exc: HTTPException) -> Response | tuple[str, int, list[tuple[str, str]]]:
    if not is_api_path(request.path):
        return _html_error(exc)
    headers = {}
    if exc.code == 405 and exc.valid_methods:  # type: ignore[attr-defined]
        headers["Allow"] = ", ".join(exc.valid_methods)  # type: ignore[attr-defined]
    detail = {
        404: "No such resource.",
        405: f"Method {request.method} is not allowed here.",
        413: "The request body is larger than this server accepts.",
    }.get(exc.code or 500, exc.description or "")
    return problem_response(exc.code or 500, detail, headers=headers)


def _unexpected(exc: Exception) -> Response | tuple[str, int]:
    activity = g.get("activity_id", "")
    log.exception("activity=%s unhandled error on %s %s", activity, request.method, request.path)
    if not is_api_path(request.path):
        try:
            return render_template("ui/error.html", code=500, activity=activity), 500
        except Exception:
            log.exception("activity=%s the error page failed too", activity)
            return f"Internal error (activity {activity})", 500
    return problem_response(500, f"Internal error (activity {activity})")


def _html_error(exc: HTTPException) -> tuple[str, int, list[tuple[str, str]]]:
    """The UI's error page: the status, what it means for the person, the activity id."""
    code = exc.code or 500
    headers = [(k, v) for k, v in exc.get_headers() if k.lower() != "content-type"]  # e.g. Allow
    page = render_template(
        "ui/error.html",
        code=code,
        title=exc.name,
        detail=exc.description,
        csrf_failed=isinstance(exc, CSRFError),
        activity=g.get("activity_id", ""),
    )
    return page, code, headers
