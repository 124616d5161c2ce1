"""Query parameters an API operation does not take, or that are given twice: 400.

Without this check a misspelt ``?dryrun=true`` was ignored and the batch written for real, and
``?dryRun=false&dryRun=true`` read as its first value. The parameters an operation takes are
the ones it declares for its OpenAPI document (``app.api.operations``), so the check and the
document cannot disagree.

It runs once the request is authenticated (``app.api.requests.authenticate``), before anything
else is read or written: the database header and the credentials come first (SPEC section 4),
so a request without them is answered 400 or 401 for that, whatever its query string.
"""

from __future__ import annotations

from flask import current_app, request

from app.api.envelope import ApiError
from app.api.operations import operation_of


def check_query_parameters() -> None:
    """400 naming each unknown or repeated parameter of the request's operation (a view without
    a declared operation is not checked; open routes, which take what a viewer adds, such as a
    cache-buster on ``/openapi.json``, never call this)."""
    if not request.args or request.endpoint is None:
        return
    view = current_app.view_functions.get(request.endpoint)
    operation = operation_of(view) if view is not None else None
    if operation is None:
        return
    accepted = operation.query_names()
    errors: dict[str, list[str]] = {}
    problems: list[str] = []
    unknown = sorted(name for name in request.args if name not in accepted)
    if unknown:
        names = ", ".join(_shown(name) for name in unknown)
        problems.append(f"Query parameter(s) not accepted here: {names}.")
        errors.update({name: [_unknown(name, accepted)] for name in unknown})
    for name in sorted(set(request.args) - set(unknown)):
        count = len(request.args.getlist(name))
        if count > 1:
            errors[name] = [f"Given {count} times; give it once."]
            problems.append(f"Query parameter {name}: {errors[name][0]}")
    if errors:
        raise ApiError(400, " ".join(problems), errors=errors)


def _shown(name: str) -> str:
    """A name as the detail shows it: quoted when it is blank or has white space around it,
    which would otherwise vanish from the text."""
    return name if name and name == name.strip() else repr(name)


def _unknown(name: str, accepted: frozenset[str]) -> str:
    spelled = next((a for a in accepted if a.lower() == name.strip().lower()), None)
    if spelled is not None:
        return f"Unknown query parameter; did you mean {spelled}? (names are case-sensitive)"
    if not accepted:
        return "Unknown query parameter; this operation takes none."
    return f"Unknown query parameter; this operation takes {', '.join(sorted(accepted))}."
