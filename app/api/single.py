"""Single-record routes on top of the batch machinery: one item in, one answer out.

A create, update or delete of one record is a batch of one; these helpers turn that item's
outcome into the route's answer, so single-record routes apply exactly the batch's rules.
"""

from __future__ import annotations

from typing import Any

from flask import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.api.envelope import ApiError
from app.batch.outcome import ItemOutcome
from app.batch.plan import item_errors, reference_errors, well_formed_references
from app.batch.spec import EntitySpec
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


def put_body_errors(
    spec: EntitySpec,
    item: Any,
    path_name: str,
    path_key: int,
    parent_key: Any = None,
    session: Session | None = None,
) -> FieldErrors:
    """A PUT body whose key is not the path's: that and every other error of the body at once
    (its fields', a parent other than the path's, and, given the request's ``session``, a
    reference that names nothing), as the write would report them, so a client fixing one
    error does not meet the next on its retry. ``{}`` when the keys match: the write then
    checks the body itself."""
    mismatch = path_key_errors(item, spec.key_field, path_name, path_key)
    if not mismatch:
        return {}
    _, body_errors = item_errors(spec, item, parent_key)
    errors: FieldErrors = {name: list(messages) for name, messages in mismatch.items()}
    for name, messages in body_errors.items():
        errors[name] = errors.get(name, []) + list(messages)
    if session is not None:
        for name, messages in unknown_references(session, spec, item, errors).items():
            errors.setdefault(name, list(messages))
    return errors


def unknown_references(
    session: Session, spec: EntitySpec, item: Any, errors: FieldErrors
) -> FieldErrors:
    """The well-formed references of ``item`` (those without an error of their own) that
    name no row of this database, worded as the write words them."""
    values = well_formed_references(spec, item, errors)
    known: dict[str, set[int]] = {}
    for ref in spec.references:
        if ref.column in values:
            key = ref.table.c[ref.key_column]
            known[ref.column] = set(session.scalars(select(key).where(key == values[ref.column])))
    return reference_errors(spec, values, known)


def require_path_key(
    spec: EntitySpec, item: Any, path_name: str, path_key: int, parent_key: Any = None
) -> None:
    """``put_body_errors`` as a 400."""
    errors = put_body_errors(spec, item, path_name, path_key, parent_key)
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
