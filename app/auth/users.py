"""Staff users: creating them, checking their credentials, and administering them.

Every change that must end what a user holds gives them a new stamp (``new_stamp``): a new
session stamp ends their UI sessions, a new token stamp revokes their API and refresh tokens,
on every node at once (the stamps are checked against the database on every request).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from app.auth.models import ROLES, RefreshToken, StaffUser, new_stamp
from app.auth.passwords import hash_password, rehashed, verify_password
from app.auth.usernames import normalized_username

USERNAME_MAX_LENGTH = 20
PASSWORD_MIN_LENGTH = 8


class UserError(ValueError):
    pass


def check_password_rules(password: str) -> None:
    if len(password) < PASSWORD_MIN_LENGTH:
        raise UserError(f"Password must be at least {PASSWORD_MIN_LENGTH} characters.")
    if not password.strip():
        raise UserError("The password must not be only spaces.")


def check_username_rules(username: str) -> None:
    """A control character (a newline, a tab, an escape) in a name garbles every log and list
    that shows it, and cannot be typed at the login form."""
    for character in username:
        if unicodedata.category(character).startswith("C"):
            raise UserError(
                f"Username {username!r} contains the control character {character!r}; "
                "use letters, digits and punctuation."
            )


def new_username(session: Session, username: str) -> str:
    """``username`` as it would be stored (NFKC, without spaces around it), if a new user may
    have it; ``UserError`` otherwise. The CLI asks this before it asks for a password."""
    username = normalized_username(username)
    if not 1 <= len(username) <= USERNAME_MAX_LENGTH:
        raise UserError(f"Username must be 1 to {USERNAME_MAX_LENGTH} characters.")
    if ":" in username:
        raise UserError("Username may not contain ':' (it separates Basic credentials).")
    check_username_rules(username)
    if session.scalar(select(StaffUser.id).where(StaffUser.username == username)) is not None:
        raise UserError(f"User {username!r} already exists.")
    return username


def create_user(session: Session, username: str, password: str, role: str = "editor") -> StaffUser:
    username = new_username(session, username)
    if role not in ROLES:
        raise UserError(f"Role must be one of {', '.join(ROLES)}.")
    check_password_rules(password)
    user = StaffUser(
        username=username,
        password_hash=hash_password(password),
        role=role,
        session_stamp=new_stamp(),
        token_stamp=new_stamp(),
        disabled=False,
    )
    session.add(user)
    session.flush()
    return user


def authenticate(session: Session, username: str, password: str) -> StaffUser | None:
    """The user if the password is right and the user is enabled; ``None`` otherwise.

    A wrong password, a missing user and a disabled user take the same time.

    Ends the session's transaction before the password is hashed, keeping the user as read
    (detached): a login is a POST, whose session is a writer's, and hashing takes a good part
    of a second, all of which SQLite's one write lock (or an idle PostgreSQL transaction)
    would otherwise be held for, every other writer waiting.
    """
    user = None
    username = normalized_username(username)
    if "\x00" not in username:  # no stored name has one, and PostgreSQL refuses it in a query
        user = session.scalar(select(StaffUser).where(StaffUser.username == username))
    if user is not None:
        session.expunge(user)  # a rollback expires what the session holds
    session.rollback()
    ok = verify_password(user.password_hash if user else None, password)
    return user if ok and user is not None and not user.disabled else None


@dataclass(frozen=True)
class PasswordUpgrade:
    """A new hash of a password just verified, made with today's hashing parameters."""

    user_id: int
    verified_hash: str
    new_hash: str


def password_upgrade(user: StaffUser, password: str) -> PasswordUpgrade | None:
    """The upgrade of ``user``'s hash, whose password ``password`` has just been verified to
    be, if its parameters are not today's; ``None`` (no hashing) otherwise."""
    new_hash = rehashed(user.password_hash, password)
    if new_hash is None:
        return None
    return PasswordUpgrade(user.id, user.password_hash, new_hash)


def store_password_upgrade(session: Session, upgrade: PasswordUpgrade) -> None:
    """Write ``upgrade`` in the session's (writer's) transaction, only over the hash that was
    verified: a password set in between (``set_password``) is never replaced by the old one's."""
    session.execute(
        update(StaffUser)
        .where(
            StaffUser.id == upgrade.user_id,
            StaffUser.password_hash == upgrade.verified_hash,
        )
        .values(password_hash=upgrade.new_hash)
    )


def list_users(session: Session) -> Sequence[StaffUser]:
    return session.scalars(select(StaffUser).order_by(StaffUser.username)).all()


def find_user(session: Session, username: str) -> StaffUser:
    username = normalized_username(username)
    user = session.scalar(select(StaffUser).where(StaffUser.username == username))
    if user is None:
        raise UserError(f"No user {username!r} in this database.")
    return user


def end_sessions(user: StaffUser) -> None:
    """End every UI session of ``user`` (logout ends them all, not only this browser's)."""
    user.session_stamp = new_stamp()


def revoke_everything(user: StaffUser) -> None:
    """End the user's UI sessions and revoke all their API and refresh tokens."""
    user.session_stamp = new_stamp()
    user.token_stamp = new_stamp()


def set_role(session: Session, username: str, role: str) -> StaffUser:
    if role not in ROLES:
        raise UserError(f"Role must be one of {', '.join(ROLES)}.")
    user = find_user(session, username)
    user.role = role
    revoke_everything(user)
    return user


def set_password(session: Session, username: str, password: str) -> StaffUser:
    check_password_rules(password)
    user = find_user(session, username)
    user.password_hash = hash_password(password)
    revoke_everything(user)
    return user


def set_disabled(session: Session, username: str, disabled: bool) -> StaffUser:
    user = find_user(session, username)
    user.disabled = disabled
    if disabled:
        revoke_everything(user)
    return user


def delete_user(session: Session, username: str) -> None:
    """Delete the user and their refresh tokens (their access tokens die with the row)."""
    user = find_user(session, username)
    session.execute(delete(RefreshToken).where(RefreshToken.user_id == user.id))
    session.delete(user)
