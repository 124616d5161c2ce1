"""VBAPI login and token refresh."""

from __future__ import annotations

import base64
import logging
from typing import Any

from flask import Blueprint, Response, current_app, request
from sqlalchemy.orm import Session

from app.activity import activity_field, loggable_address
from app.api.envelope import ApiError, json_response
from app.api.rate_limit import login_rate_limit
from app.api.requests import api_database, api_key_id, db_session
from app.auth.login_check import check_login, seconds_wording
from app.auth.models import StaffUser
from app.auth.throttle import EXTENSION_KEY, Attempt
from app.auth.tokens import (
    InvalidToken,
    RefreshTokenReused,
    authentication_result,
    redeem_refresh_token,
    verify_token,
)
from app.auth.users import store_password_upgrade
from app.tenancy import begin_write

bp = Blueprint("auth_api", __name__)
log = logging.getLogger("credgrid.login")

BASIC_CHALLENGE = {"WWW-Authenticate": 'Basic realm="credgrid"'}


@bp.post("/user-authentication")
@login_rate_limit
def user_authentication() -> Response:
    """Basic credentials + API key → ``authenticationResult`` (the body, if any, is ignored).

    The same throttle as the UI login (per account and per address), before any hashing.
    """
    database = api_database()
    session = db_session()
    api_key_id(session)
    username, password = _basic_credentials()
    throttle = current_app.extensions[EXTENSION_KEY]
    attempt = Attempt(database, username, request.remote_addr or "unknown")
    checked = check_login(session, throttle, attempt, password, via="api")
    if checked.retry_after:
        why = (
            "Another login to this account is being checked"
            if checked.busy
            else "Too many failed logins"
        )
        raise ApiError(
            429,
            f"{why}. Try again in {seconds_wording(checked.retry_after)}.",
            headers={"Retry-After": str(checked.retry_after)},
        )
    if checked.user is None:
        raise ApiError(401, "Wrong username or password.", headers=BASIC_CHALLENGE)
    # Read with the hash just verified: a password set (or a role or status changed) on any
    # node while it was verified gives the user a new stamp, and tokens issued under the new
    # stamp would outlive the change that was meant to end them.
    user_id, stamp = checked.user.id, checked.user.token_stamp
    _start_writing(session)
    user = session.get(StaffUser, user_id)
    if user is None or user.disabled:  # deleted or disabled since the check
        raise ApiError(401, "Wrong username or password.", headers=BASIC_CHALLENGE)
    if user.token_stamp != stamp:  # changed (and its tokens revoked) during the check
        raise ApiError(
            401,
            "The account changed while this login was checked; log in again.",
            headers=BASIC_CHALLENGE,
        )
    if checked.upgrade is not None:  # committed with the refresh token
        store_password_upgrade(session, checked.upgrade)
    result = _issue(session, user, database)
    return json_response({"authenticationResult": result})


@bp.post("/user-refresh-tokens")
@login_rate_limit
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
    try:
        redeemed = redeem_refresh_token(session, refresh, claims)
    except RefreshTokenReused as reused:
        session.commit()
        log.warning(
            "refresh token reused: every token of user=%r database=%s revoked client=%s%s",
            reused.username,
            database,
            loggable_address(request.remote_addr),
            activity_field(),
        )
        raise ApiError(
            401, "The refresh token was already used; all tokens of this user are revoked."
        ) from None
    if redeemed is None:
        session.rollback()
        raise ApiError(401, "The refresh token is invalid or expired.")
    username = redeemed.user.username  # read before the commit expires it
    result = _issue(session, redeemed.user, database, family=redeemed.family)
    log.info(
        "tokens refreshed user=%r database=%s client=%s%s",
        username,
        database,
        loggable_address(request.remote_addr),
        activity_field(),
    )
    return json_response({"authenticationResult": result})


def _start_writing(session: Session) -> None:
    """End the read transaction and open a writer's.

    On SQLite a read transaction that then writes fails at once with "database is locked"
    when another connection wrote in between (the busy timeout cannot help), so the write
    gets a transaction of its own that takes the write lock up front.
    """
    session.rollback()
    begin_write(session)


def _issue(
    session: Session, user: StaffUser, database: str, family: str | None = None
) -> dict[str, Any]:
    config = current_app.config
    result = authentication_result(
        session,
        config["SECRET_KEY"],
        user,
        database,
        config["TOKEN_TTL_SECONDS"],
        config["REFRESH_TOKEN_TTL_SECONDS"],
        family=family,
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
        # A header byte outside ASCII (read as Latin-1) is a ValueError, not binascii.Error.
        raw = base64.b64decode(encoded.strip(), validate=True)
    except ValueError:
        raise ApiError(
            401, "The Basic credentials are not valid base64 of user:password."
        ) from None
    try:
        decoded = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(
            401, "The Basic credentials are not UTF-8 text; encode user:password as UTF-8."
        ) from None
    username, sep, password = decoded.partition(":")
    if not sep:
        raise ApiError(401, "The Basic credentials are not valid base64 of user:password.")
    return username, password
