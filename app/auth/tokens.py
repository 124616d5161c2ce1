"""Signed HS256 JWTs (PyJWT) bound to a user and a database, and opaque refresh tokens."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import jwt
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app.audit import utcnow
from app.auth.keys import digest
from app.auth.models import RefreshToken

ALGORITHM = "HS256"
ISSUER = "credgrid"
TOKEN_USES = ("id", "access")


class InvalidToken(Exception):
    pass


@dataclass(frozen=True)
class TokenClaims:
    username: str
    database: str


def mint_token(secret: str, username: str, database: str, ttl_seconds: int, use: str) -> str:
    now = utcnow()
    claims = {
        "iss": ISSUER,
        "sub": username,
        "db": database,
        "token_use": use,
        "iat": now,
        "exp": now + timedelta(seconds=ttl_seconds),
        "jti": secrets.token_urlsafe(8),
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def verify_token(secret: str, token: str, database: str, *, verify_exp: bool = True) -> TokenClaims:
    """Check signature, expiry, issuer and that the token belongs to ``database``."""
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            options={"require": ["exp", "sub", "iss"], "verify_exp": verify_exp},
        )
    except jwt.PyJWTError as exc:
        raise InvalidToken(str(exc)) from None
    if claims.get("db") != database or claims.get("token_use") not in TOKEN_USES:
        raise InvalidToken("token is not valid for this database")
    if not isinstance(claims["sub"], str):
        raise InvalidToken("bad subject")
    return TokenClaims(username=claims["sub"], database=database)


def authentication_result(
    session: Session, secret: str, username: str, database: str, ttl: int, refresh_ttl: int
) -> dict[str, Any]:
    """VBAPI's ``authenticationResult``; stores the refresh token's hash."""
    refresh = secrets.token_urlsafe(32)
    session.add(
        RefreshToken(
            token_hash=digest(refresh),
            username=username,
            expires_at=utcnow() + timedelta(seconds=refresh_ttl),
        )
    )
    return {
        "idToken": mint_token(secret, username, database, ttl, "id"),
        "accessToken": mint_token(secret, username, database, ttl, "access"),
        "refreshToken": refresh,
        "expiresIn": ttl,
        "tokenType": "Bearer",
    }


def redeem_refresh_token(session: Session, token: str, username: str) -> bool:
    """Consume a refresh token of ``username`` (single use); False if unknown or expired."""
    row = session.scalar(
        select(RefreshToken).where(
            RefreshToken.token_hash == digest(token), RefreshToken.username == username
        )
    )
    if row is None:
        return False
    session.execute(delete(RefreshToken).where(RefreshToken.id == row.id))
    return row.expires_at > utcnow()
