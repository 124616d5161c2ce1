"""Creating staff users and checking their credentials."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.models import ROLES, StaffUser
from app.auth.passwords import hash_password, verify_password

USERNAME_MAX_LENGTH = 20
PASSWORD_MIN_LENGTH = 8


class UserError(ValueError):
    pass


def create_user(session: Session, username: str, password: str, role: str = "editor") -> StaffUser:
    username = username.strip()
    if not 1 <= len(username) <= USERNAME_MAX_LENGTH:
        raise UserError(f"Username must be 1 to {USERNAME_MAX_LENGTH} characters.")
    if ":" in username:
        raise UserError("Username may not contain ':' (it separates Basic credentials).")
    if role not in ROLES:
        raise UserError(f"Role must be one of {', '.join(ROLES)}.")
    if len(password) < PASSWORD_MIN_LENGTH:
        raise UserError(f"Password must be at least {PASSWORD_MIN_LENGTH} characters.")
    if session.scalar(select(StaffUser.id).where(StaffUser.username == username)) is not None:
        raise UserError(f"User {username!r} already exists.")
    user = StaffUser(username=username, password_hash=hash_password(password), role=role)
    session.add(user)
    return user


def authenticate(session: Session, username: str, password: str) -> StaffUser | None:
    """The user if the password is right; ``None`` otherwise, in the same time either way."""
    user = session.scalar(select(StaffUser).where(StaffUser.username == username))
    ok = verify_password(user.password_hash if user else None, password)
    return user if ok else None
