"""Request-level checks shared by every API view, in the order SPEC section 4 gives.

database header (400) → auth (401) → query parameters (400) → content type (415) → body size
(413) → JSON (400).
Each raises ``ApiError``; views call them and stay thin.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from typing import Any

from flask import current_app, g, request
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session
from werkzeug.exceptions import RequestEntityTooLarge

from app.api.envelope import ApiError
from app.api.query_check import check_query_parameters
from app.auth.keys import digest
from app.auth.models import ApiKey, StaffUser, role_can_write
from app.auth.tokens import InvalidToken, verify_token
from app.tenancy import (
    DATABASE_HEADER,
    UnknownDatabase,
    first_read,
    request_session,
    resolve_database,
)

API_KEY_HEADER = "x-api-key"
#: SPEC section 2's list; ``application/*+json`` also as written, as ASP.NET (VBAPI) takes it.
JSON_TYPES = re.compile(r"^(application/json|text/json|application/(\*|[\w.+-]+)\+json)$")
BEARER_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="credgrid"'}


#: The API key's id and label and the token user's role, in one round trip: the user by id,
#: enabled and with the stamp the token carries (a new stamp revokes every token of that user).
#: The label names the key in the request's log line (``app.activity``).
_ACTIVE_KEY = (ApiKey.key_hash == bindparam("key_hash"), ApiKey.revoked_at.is_(None))
_API_KEY_AND_ROLE = select(
    select(ApiKey.id).where(*_ACTIVE_KEY).scalar_subquery(),
    select(ApiKey.label).where(*_ACTIVE_KEY).scalar_subquery(),
    select(StaffUser.role)
    .where(
        StaffUser.id == bindparam("user_id"),
        StaffUser.token_stamp == bindparam("stamp"),
        StaffUser.disabled.is_(False),
    )
    .scalar_subquery(),
)


@dataclass(frozen=True)
class Principal:
    """Who is calling: the token's user (with its role) and the API key used."""

    username: str
    role: str
    api_key_id: int
    database: str
    api_key_label: str = ""

    @property
    def can_write(self) -> bool:
        return role_can_write(self.role)


def api_database() -> str:
    """The ``vbasoftware-database`` header, checked against configuration (400 otherwise)."""
    name = request.headers.get(DATABASE_HEADER)
    if not name:
        raise ApiError(400, f"The {DATABASE_HEADER} header is required.")
    try:
        resolved = resolve_database(name)
    except UnknownDatabase:
        raise ApiError(400, f"Unknown database in the {DATABASE_HEADER} header.") from None
    g.database = resolved
    return resolved


def db_session() -> Session:
    return request_session(g.database)


def presented_api_key() -> str:
    """The ``x-api-key`` header; 401 when it is missing or empty."""
    key = request.headers.get(API_KEY_HEADER)
    if not key:
        raise ApiError(401, f"The {API_KEY_HEADER} header is required.")
    return key


def api_key_id(session: Session) -> int:
    """The id of the active API key the request presents; 401 otherwise. Its label is kept as
    ``g.api_key_label`` for the request's log line (``app.activity``)."""
    key = presented_api_key()
    found = session.execute(
        select(ApiKey.id, ApiKey.label).where(
            ApiKey.key_hash == digest(key), ApiKey.revoked_at.is_(None)
        )
    ).first()
    if found is None:
        raise ApiError(401, "The API key is not valid for this database.")
    g.api_key_label = found.label
    return found.id


def authenticate() -> Principal:
    """Both VBAPI schemes: ``x-api-key`` and ``Authorization: Bearer <idToken>`` (401)."""
    database = api_database()
    key = presented_api_key()
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(
            401, "An Authorization: Bearer <idToken> header is required.", headers=BEARER_CHALLENGE
        )
    try:
        claims = verify_token(current_app.config["SECRET_KEY"], token.strip(), database)
    except InvalidToken:
        raise ApiError(
            401,
            "The bearer token is invalid, expired or for another database.",
            headers=BEARER_CHALLENGE,
        ) from None
    # One statement for both checks, in the request's transaction (a writer's, on a write).
    ((key_id, key_label, role),) = first_read(
        db_session(),
        _API_KEY_AND_ROLE,  # a Core statement: no ORM entities to load
        {"key_hash": digest(key), "user_id": claims.user_id, "stamp": claims.stamp},
    )
    if key_id is None:
        raise ApiError(401, "The API key is not valid for this database.")
    if role is None:
        raise ApiError(
            401,
            "The token has been revoked, with every token of its user: a refresh token was "
            "reused, or the user was deleted, disabled or changed (password, role). Log in again.",
            headers=BEARER_CHALLENGE,
        )
    principal = Principal(claims.username, role, key_id, database, key_label)
    g.principal = principal
    check_query_parameters()
    return principal


def name_unauthenticated_caller() -> None:
    """Who an API request says it is, as far as is known without the database: its
    database (``g.database``) and its bearer token's user (``g.token_user``, when the token
    verifies), for its log line (``app.activity``). For a request refused before it is
    authenticated (the rate limit's 429): a query per refusal would load the database the
    limit shields, so the API key's label, which only the database knows, is not named."""
    try:
        database = resolve_database(request.headers.get(DATABASE_HEADER))
    except UnknownDatabase:
        return
    g.database = database
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        try:
            claims = verify_token(current_app.config["SECRET_KEY"], token.strip(), database)
        except InvalidToken:
            return
        g.token_user = claims.username


def authenticate_writer() -> Principal:
    principal = authenticate()
    if not principal.can_write:
        raise ApiError(403, f"User {principal.username!r} has the viewer role and cannot write.")
    return principal


def json_body() -> Any:
    """The parsed JSON body: 415 wrong/missing type, 413 too large, 400 not JSON."""
    if not JSON_TYPES.match(request.mimetype or ""):
        raise ApiError(415, "The request body must be JSON (Content-Type: application/json).")
    _check_no_content_coding()
    raw = body_bytes()
    try:
        # What json.loads(raw, parse_constant=…) does, without building a decoder per call.
        return _DECODER.decode(raw.decode(json.detect_encoding(raw), "surrogatepass"))
    except UnicodeDecodeError as exc:
        where = f"byte {exc.object[exc.start]:#04x} at offset {exc.start}"
        detail = f"The request body is not {exc.encoding.upper()} text ({where}); send UTF-8."
        raise ApiError(400, detail) from None
    except (ValueError, RecursionError) as exc:
        reason = exc.args[0] if isinstance(exc, ValueError) and exc.args else "too deeply nested"
        if "integer string conversion" in str(reason):  # Python's own limit, and its advice
            reason = f"a number has more than {sys.get_int_max_str_digits()} digits"
        raise ApiError(400, f"The request body is not valid JSON: {reason}.") from None


def _check_no_content_coding() -> None:
    """415 for a compressed body (RFC 9110, 15.5.16): nothing here decompresses, so a gzip body
    read as JSON failed as "not UTF-8", and an uncompressed one labelled gzip was taken."""
    coding = request.headers.get("Content-Encoding", "").strip()
    if coding and coding.lower() != "identity":
        raise ApiError(
            415,
            f"Content-Encoding {coding!r} is not supported; send the body uncompressed.",
            headers={"Accept-Encoding": "identity"},
        )


def body_bytes() -> bytes:
    """The request body; 413 when it is larger than ``MAX_CONTENT_LENGTH``.

    Werkzeug answers 413 for a Content-Length over the limit, but a body sent without one
    (chunked) is read up to the limit and silently cut there; so a body without a length
    that reaches the limit is refused too, rather than parsed cut.
    """
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    raw: bytes | None
    try:
        raw = request.get_data(cache=True)
    except RequestEntityTooLarge:
        raw = None
    if raw is None or (request.content_length is None and limit and len(raw) >= limit):
        raise ApiError(413, f"The request body is larger than {limit} bytes.")
    return raw


def json_array_body(max_items: int) -> list[Any]:
    body = json_body()
    if not isinstance(body, list):
        raise ApiError(400, "The request body must be a JSON array of items.")
    if len(body) > max_items:
        raise ApiError(413, f"The batch has {len(body)} items; at most {max_items} are allowed.")
    return body


def json_object_body() -> dict[str, Any]:
    body = json_body()
    if not isinstance(body, dict):
        raise ApiError(400, "The request body must be a JSON object.")
    return body


def flag(name: str) -> bool:
    """A boolean query parameter: ``true``/``false`` (also 1/0); anything else is 400."""
    if not request.query_string:
        return False  # no query at all: nothing to parse
    value = request.args.get(name)
    if value is None:
        return False
    lowered = value.strip().lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0"):
        return False
    message = "Must be true or false."
    # Worded as every other bad query parameter's detail: "Query parameter <name>: <why>".
    raise ApiError(400, f"Query parameter {name}: {message}", errors={name: [message]})


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _unique_names(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """An object whose names are unique. JSON leaves a repeated name to the reader (here the
    last value would win, elsewhere the first): a client that sends one means two values for
    one field, so the body is refused. Checked while the body is parsed, as each object is
    built, so it costs a length comparison per object and no second pass."""
    document = dict(pairs)
    if len(document) != len(pairs):
        seen: set[str] = set()
        repeated = next(name for name, _ in pairs if name in seen or seen.add(name))
        raise ValueError(f"the name {repeated!r} appears more than once in one object")
    return document


_DECODER = json.JSONDecoder(parse_constant=_reject_constant, object_pairs_hook=_unique_names)
