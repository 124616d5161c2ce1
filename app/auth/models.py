from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import Boolean, DateTime, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.audit import utcnow
from app.extensions import db

ROLES = ("editor", "viewer")
#: Length of the random stamps below (hex of 16 random bytes).
STAMP_LENGTH = 32


def role_can_write(role: str) -> bool:
    """Whether a role may change data (the API's writes, the grid's Save and import)."""
    return role == "editor"


def new_stamp() -> str:
    """A random stamp: changing it ends what carried the old one, on every node at once."""
    return secrets.token_hex(STAMP_LENGTH // 2)


class StaffUser(db.Model):
    """A person (or integration account) who logs in; the password is stored hashed."""

    __tablename__ = "staff_user"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(20), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(10), default="editor")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    #: Carried by every UI session; a new stamp (logout, password, role, disable) ends them all.
    session_stamp: Mapped[str] = mapped_column(String(STAMP_LENGTH), default=new_stamp)
    #: Carried by every API token and stored with every refresh token; a new stamp revokes them.
    #: Random rather than a counter, so a user re-created under the same name and even the same
    #: id (SQLite reuses the highest deleted id) never revives the old user's tokens.
    token_stamp: Mapped[str] = mapped_column(String(STAMP_LENGTH), default=new_stamp)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)

    @property
    def can_write(self) -> bool:
        return role_can_write(self.role)


class ApiKey(db.Model):
    """An API key; only the SHA-256 of the key is stored (keys are random, 256 bits)."""

    __tablename__ = "api_key"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    label: Mapped[str] = mapped_column(String(100), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)


class RefreshToken(db.Model):
    """A refresh token; only its SHA-256 is stored.

    Redeeming one marks it used (``used_at``) and issues the next of the same ``family``; a
    used token presented again means it was copied, so the user's tokens are all revoked.
    """

    __tablename__ = "refresh_token"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    username: Mapped[str] = mapped_column(String(20), index=True)
    #: indexed for the purge of expired tokens (``app.auth.retention``)
    expires_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    user_id: Mapped[int | None] = mapped_column(Integer, index=True)
    token_stamp: Mapped[str | None] = mapped_column(String(STAMP_LENGTH))
    family: Mapped[str | None] = mapped_column(String(STAMP_LENGTH), index=True)
    used_at: Mapped[datetime | None] = mapped_column(DateTime)
