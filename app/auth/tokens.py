"""Signed HS256 JWTs (PyJWT) bound to a user, its token stamp and a database; refresh tokens.

A token names its user by id (``uid``) and carries the user's token stamp (``stp``) at issue.
Every use checks both against the user's row in the database (``app.api.requests``), so
deleting, disabling or re-creating a user, or changing the password or role (each a new
stamp), revokes every token at once on every node. Nothing is cached in process memory.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import jwt
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from app.audit import utcnow
from app.auth.keys import digest
from app.auth.models import RefreshToken, StaffUser, new_stamp
from app.auth.usernames import normalized_username

ALGORITHM = "HS256"
ISSUER = "credgrid"
TOKEN_USES = ("id", "access")


class InvalidToken(Exception):
    pass


@dataclass(frozen=True)
class TokenClaims:
    username: str
    database: str
    user_id: int
    stamp: str


def mint_token(secret: str, user: StaffUser, database: str, ttl_seconds: int, use: str) -> str:
    now = utcnow()
    claims = {
        "iss": ISSUER,
        "sub": user.username,
        "uid": user.id,
        "stp": user.token_stamp,
        "db": database,
        "token_use": use,
        "iat": now,
        "exp": now + timedelta(seconds=ttl_seconds),
        "jti": secrets.token_urlsafe(8),
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def mint_token_for(
    session: Session, secret: str, username: str, database: str, ttl_seconds: int, use: str
) -> str:
    """``mint_token`` for the user named ``username`` (for the CLI's demo and for tests)."""
    name = normalized_username(username)
    user = session.scalars(select(StaffUser).where(StaffUser.username == name)).one()
    return mint_token(secret, user, database, ttl_seconds, use)


def verify_token(secret: str, token: str, database: str, *, verify_exp: bool = True) -> TokenClaims:
    """Check signature, expiry, issuer and that the token belongs to ``database``.

    Whether its user still exists with the same stamp is the caller's check (one statement,
    together with the API key). ``iat`` is not checked: only this service signs tokens, so an
    ``iat`` in the future says only that the node that minted it has a clock ahead of this
    one's, and such a token, used at once on another node, was refused as "not yet valid".
    """
    try:
        decoded: dict[str, Any] = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            options={
                "require": ["exp", "sub", "iss", "uid", "stp"],
                "verify_exp": verify_exp,
                "verify_iat": False,
            },
        )
    except jwt.PyJWTError as exc:
        raise InvalidToken(str(exc)) from None
    if decoded.get("db") != database or decoded.get("token_use") not in TOKEN_USES:
        raise InvalidToken("token is not valid for this database")
    subject, user_id, stamp = decoded["sub"], decoded["uid"], decoded["stp"]
    if (
        not isinstance(subject, str)
        or not isinstance(user_id, int)
        or isinstance(user_id, bool)
        or not isinstance(stamp, str)
    ):
        raise InvalidToken("bad subject")
    # A token minted before migration 0012 may name its user in another Unicode form: read in
    # NFKC, it names her as the stored name, her idempotency records and her history now do.
    return TokenClaims(
        username=normalized_username(subject), database=database, user_id=user_id, stamp=stamp
    )


def authentication_result(
    session: Session,
    secret: str,
    user: StaffUser,
    database: str,
    ttl: int,
    refresh_ttl: int,
    family: str | None = None,
) -> dict[str, Any]:
    """VBAPI's ``authenticationResult``; stores the refresh token's hash in ``family``."""
    refresh = secrets.token_urlsafe(32)
    session.add(
        RefreshToken(
            token_hash=digest(refresh),
            username=user.username,
            user_id=user.id,
            token_stamp=user.token_stamp,
            family=family or new_stamp(),
            expires_at=utcnow() + timedelta(seconds=refresh_ttl),
        )
    )
    return {
        "idToken": mint_token(secret, user, database, ttl, "id"),
        "accessToken": mint_token(secret, user, database, ttl, "access"),
        "refreshToken": refresh,
        "expiresIn": ttl,
        "tokenType": "Bearer",
    }


@dataclass(frozen=True)
class Redeemed:
    """A refresh token that was good: its user and family, for the next token of the family."""

    user: StaffUser
    family: str


class RefreshTokenReused(Exception):
    """A refresh token was presented after it had been redeemed: it has been copied."""

    def __init__(self, username: str) -> None:
        super().__init__(username)
        self.username = username


def redeem_refresh_token(session: Session, token: str, claims: TokenClaims) -> Redeemed | None:
    """Consume a refresh token of the expired token's user (single use); ``None`` if not good.

    A token redeemed before is a copy in someone's hands: the user's token stamp changes, which
    revokes the whole family (and every other token of that user), the family's rows are
    deleted and ``RefreshTokenReused`` is raised; the caller commits that and answers 401.
    The used mark is a conditional UPDATE, so two nodes racing with one token cannot both win.
    """
    row = session.scalar(select(RefreshToken).where(RefreshToken.token_hash == digest(token)))
    if row is None or row.user_id != claims.user_id:
        return None
    user = session.get(StaffUser, row.user_id)
    if user is None or user.disabled or user.token_stamp != row.token_stamp:
        return None
    if row.used_at is not None:
        user.token_stamp = new_stamp()
        session.execute(delete(RefreshToken).where(RefreshToken.family == row.family))
        raise RefreshTokenReused(user.username)
    if row.expires_at <= utcnow():
        return None
    marked = session.execute(
        update(RefreshToken)
        .where(RefreshToken.id == row.id, RefreshToken.used_at.is_(None))
        .values(used_at=utcnow())
    )
    if marked.rowcount != 1:
        return None
    return Redeemed(user=user, family=row.family or new_stamp())
