"""Signed HS256 JWTs (PyJWT) bound to a user and a database, and opaque refresh tokens."""

from __future__ import annotations

import secrets
import threading
import time
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
    """Check signature, expiry, issuer and that the token belongs to ``database``.

    A client sends the same token with every request until it expires, so a token that passed
    is remembered (``_VERIFIED``) with its expiry: later requests skip the decoding and the
    signature check, never the expiry check. Only tokens that passed are kept, so garbage
    cannot fill the cache.
    """
    if verify_exp:
        claims = _VERIFIED.get(secret, token, database)
        if claims is not None:
            return claims
    try:
        decoded: dict[str, Any] = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            options={"require": ["exp", "sub", "iss"], "verify_exp": verify_exp},
        )
    except jwt.PyJWTError as exc:
        raise InvalidToken(str(exc)) from None
    if decoded.get("db") != database or decoded.get("token_use") not in TOKEN_USES:
        raise InvalidToken("token is not valid for this database")
    if not isinstance(decoded["sub"], str):
        raise InvalidToken("bad subject")
    claims = TokenClaims(username=decoded["sub"], database=database)
    if verify_exp:
        _VERIFIED.put(secret, token, database, claims, decoded["exp"])
    return claims


class _VerifiedTokens:
    """A bounded map of verified tokens to their claims, valid until each token's ``exp``."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._entries: dict[tuple[str, str, str], tuple[TokenClaims, float]] = {}
        self._lock = threading.Lock()

    def get(self, secret: str, token: str, database: str) -> TokenClaims | None:
        entry = self._entries.get((secret, token, database))
        if entry is None:
            return None
        claims, expires = entry
        # PyJWT's rule, without leeway: a token is expired once now >= exp.
        return claims if time.time() < expires else None

    def put(self, secret: str, token: str, database: str, claims: TokenClaims, exp: Any) -> None:
        if not isinstance(exp, int | float) or isinstance(exp, bool):
            return
        with self._lock:
            while len(self._entries) >= self._size:
                del self._entries[next(iter(self._entries))]  # the oldest first
            self._entries[(secret, token, database)] = (claims, float(exp))

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


_VERIFIED = _VerifiedTokens(size=4096)


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
