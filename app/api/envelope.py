"""The VBAPI envelope ``{data, error, debug}`` and RFC 9457 problem objects."""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

import orjson
from flask import Response, g, request

JSON_MIMETYPE = "application/json"


class ApiError(Exception):
    """An error answered with the envelope; raise it anywhere below an API view."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        errors: dict[str, list[str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.errors = errors
        self.headers = headers or {}


def activity_id() -> str:
    return g.get("activity_id", "")


def envelope(data: Any, error: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"data": data, "error": error, "debug": {"activityID": activity_id()}}


#: orjson refuses what ``json.dumps`` refuses (date-times, dataclasses), so both fail alike.
_STRICT = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def dump_json(document: Any) -> bytes:
    """Compact UTF-8 JSON, as ``json.dumps(separators=(",", ":"), ensure_ascii=False)`` writes it.

    orjson writes the same text for the strings, integers, booleans, nulls, lists and objects
    the API answers with, in a fraction of ``json.dumps``'s time (every answer is serialised,
    a large batch's too); what it refuses (integers beyond 64 bits, keys that are not strings,
    lone surrogates) goes to ``json.dumps``. A lone surrogate (a client's ``"\\ud800"`` echoed
    in an error, say an unknown field's name) has no UTF-8 form, so that document is written
    with every non-ASCII character escaped: still the same JSON. The answer must never fail
    here, since a batch's answer is written after its commit. A float would be written in
    orjson's form (``1e-7``, not ``1e-07``); the API writes no floats.
    """
    try:
        return orjson.dumps(document, option=_STRICT)
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        text = json.dumps(document, separators=(",", ":"), ensure_ascii=False)
    try:
        return text.encode()
    except UnicodeEncodeError:
        return json.dumps(document, separators=(",", ":")).encode()


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    body = dump_json(envelope(data))
    return Response(body, status=status, mimetype=JSON_MIMETYPE, headers=headers)


def problem(status: int, detail: str, errors: dict[str, list[str]] | None = None) -> dict[str, Any]:
    try:
        title = HTTPStatus(status).phrase
    except ValueError:
        title = "Error"
    obj: dict[str, Any] = {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.path if request else None,
    }
    if errors:
        obj["errors"] = errors
    return obj


def problem_response(
    status: int,
    detail: str,
    errors: dict[str, list[str]] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    body = dump_json(envelope(None, problem(status, detail, errors)))
    return Response(body, status=status, mimetype=JSON_MIMETYPE, headers=headers)
