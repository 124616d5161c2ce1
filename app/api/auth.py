"""VBAPI login and token refresh."""

from __future__ import annotations

import base64
import binascii

from flask import Blueprint, Response, current_app, request
from sqlalchemy.orm import Session

from app.api.envelope import ApiError, json_response
from app.api.requests import api_database, api_key_id, db_session
from app.auth.tokens import (
    InvalidToken,
    authentication_result,
    redeem_refresh_token,
    verify_token,
)
from app.auth.users import authenticate as check_password
from app.tenancy import begin_write

bp = Blueprint("auth_api", __name__)

BASIC_CHALLENGE = {"WWW-Authenticate": 'Basic realm="credgrid"'}


@bp.post("/user-authentication")
def user_authentication() -> Response:
    """Basic credentials + API key → ``authenticationResult`` (the body, if any, is ignored)."""
    database = api_database()
    session = db_session()
    api_key_id(session)
    username, password = _basic_credentials()
    user = check_password(session, username, password)
    if user is None:
        raise ApiError(401, "Wrong username or password.", headers=BASIC_CHALLENGE)
    username = user.username
    _start_writing(session)
    result = _issue(session, username, database)
    return json_response({"authenticationResult": result})


@bp.post("/user-refresh-tokens")
def user_refresh_tokens() -> Response:
    """``expired-id-token`` + ``refresh-token`` headers → a new ``authenticationResult``."""
    database = api_database()
    session = db_session()
    api_key_id(session)
    expired, refresh = request.headers.get("expired-id-token"), request.headers.get("refresh-token")
    if not expired or not refresh:
        raise ApiError(401, "The expired-id-token and refresh-token headers are required.")
    secret = current_app.config["SECRET_KEY"]
    try:
        claims = verify_token(secret, expired, database, verify_exp=False)
    except InvalidToken:
        raise ApiError(401, "The expired-id-token is not a token of this database.") from None
    _start_writing(session)
    if not redeem_refresh_token(session, refresh, claims.username):
        session.commit()
        raise ApiError(401, "The refresh token is invalid or expired.")
    return json_response({"authenticationResult": _issue(session, claims.username, database)})


def _start_writing(session: Session) -> None:
    """End the read transaction and open a writer's.

    On SQLite a read transaction that then writes fails at once with "database is locked"
    when another connection wrote in between (the busy timeout cannot help), so the write
    gets a transaction of its own that takes the write lock up front.
    """
    session.rollback()
    begin_write(session)


def _issue(session, username: str, database: str) -> dict:  # type: ignore[no-untyped-def]
    config = current_app.config
    result = authentication_result(
        session,
        config["SECRET_KEY"],
        username,
        database,
        config["TOKEN_TTL_SECONDS"],
        config["REFRESH_TOKEN_TTL_SECONDS"],
    )
    session.commit()
    return result


def _basic_credentials() -> tuple[str, str]:
    scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "basic" or not encoded:
        raise ApiError(
            401,
            "An Authorization: Basic <user:password> header is required.",
            headers=BASIC_CHALLENGE,
        )
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise ApiError(
            401, "The Basic credentials are not valid base64 of user:password."
        ) from None
    username, sep, password = decoded.partition(":")
    if not sep:
        raise ApiError(401, "The Basic credentials are not valid base64 of user:password.")
    return username, password
