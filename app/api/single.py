"""Single-record routes on top of the batch machinery: one item in, one answer out.

A create, update or delete of one record is a batch of one; these helpers turn that item's
outcome into the route's answer, so single-record routes apply exactly the batch's rules.
"""

from __future__ import annotations

from typing import Any

from flask import Response

from app.api.envelope import ApiError
from app.batch.outcome import ItemOutcome
from app.wire.fields import is_int32
from app.wire.validation import FieldErrors, describe_errors


def path_key_errors(item: Any, key_field: str, path_name: str, path_key: int) -> FieldErrors:
    """The body of a PUT names the record it updates; a different key there is an error.

    A missing or mistyped key is left to the schema, which reports it like any other field.
    """
    value = item.get(key_field) if isinstance(item, dict) else None
    if is_int32(value) and value != path_key:
        return {key_field: [f"Does not match the {path_name} in the path ({path_key})."]}
    return {}


def require_path_key(item: Any, key_field: str, path_name: str, path_key: int) -> None:
    """``path_key_errors`` as a 400."""
    errors = path_key_errors(item, key_field, path_name, path_key)
    if errors:
        raise ApiError(400, describe_errors(errors), errors=errors)


def require_ok(outcome: ItemOutcome) -> ItemOutcome:
    """The outcome if it succeeded; otherwise its status and message as the route's error."""
    if outcome.ok:
        return outcome
    raise ApiError(outcome.status, outcome.body, errors=outcome.errors or None)


def no_content() -> Response:
    """204: no body and so no content type."""
    response = Response(status=204)
    response.headers.pop("Content-Type", None)
    return response
