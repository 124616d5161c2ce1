"""Who is logged in to the staff UI: the signed session cookie ↔ ``g.staff``.

The cookie holds only the username and the database name; the user and their role are read
from that database on every request, so a deleted user or a changed role takes effect at once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any
from urllib.parse import urlsplit

from flask import abort, current_app, g, redirect, request, session, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response

from app.auth.models import StaffUser
from app.auth.users import authenticate
from app.tenancy import UnknownDatabase, request_session, resolve_database
from app.ui.throttle import EXTENSION_KEY

SESSION_USER = "staff_user"
SESSION_DATABASE = "staff_database"
#: Endpoints of the UI blueprint that do not need a logged-in user.
PUBLIC_ENDPOINTS = frozenset({"ui.login"})
#: The only answer to a wrong username, a wrong password or a user of another database.
LOGIN_FAILED = "The username or password is not correct for this database."


@dataclass(frozen=True)
class Staff:
    """The logged-in person for this request, as ``g.staff``."""

    username: str
    role: str
    database: str
    can_write: bool


@dataclass(frozen=True)
class SignInResult:
    ok: bool
    message: str | None = None
    status: int = 200
    retry_after: int = 0


def sign_in(database: str, username: str, password: str) -> SignInResult:
    """Check the credentials unless this user+client must wait; start the session if right.

    ``database`` has been checked against the configured names by the form.
    """
    throttle = current_app.extensions[EXTENSION_KEY]
    username = username.strip()
    attempt = (database, username.casefold(), request.remote_addr)
    wait = throttle.wait_seconds(attempt)
    if wait:
        message = f"Too many failed attempts. Try again in {wait} seconds."
        return SignInResult(False, message, status=429, retry_after=wait)
    database_session = request_session(database)
    user = authenticate(database_session, username, password)
    stored_username = None if user is None else user.username
    database_session.rollback()  # expires ``user``: only its name is used from here on
    if stored_username is None:
        throttle.record_failure(attempt)
        return SignInResult(False, LOGIN_FAILED)
    throttle.record_success(attempt)
    log_in(stored_username, database)
    return SignInResult(True)


def log_in(username: str, database: str) -> None:
    """Start a fresh session (a new CSRF secret too, so a pre-login token is worthless)."""
    session.clear()
    session[SESSION_USER] = username
    session[SESSION_DATABASE] = database
    session.permanent = True


def log_out() -> None:
    session.clear()


def load_staff() -> Staff | None:
    """The logged-in staff member, or ``None`` (the session is cleared if it went stale)."""
    username, database = session.get(SESSION_USER), session.get(SESSION_DATABASE)
    if not username or not database:
        return None
    try:
        resolve_database(database)
    except UnknownDatabase:
        session.clear()
        return None
    database_session = request_session(database)
    user = database_session.scalar(select(StaffUser).where(StaffUser.username == username))
    staff = None if user is None else Staff(user.username, user.role, database, user.can_write)
    # End the read transaction (after reading the user: a rollback expires it), so that a Save
    # that follows opens its own as a writer.
    database_session.rollback()
    if staff is None:
        session.clear()
    return staff


def require_login() -> Response | None:
    """Blueprint ``before_request``: every UI page but the login page needs a user."""
    g.staff = load_staff()
    if g.staff is None and request.endpoint not in PUBLIC_ENDPOINTS:
        target = request.full_path if request.method == "GET" else None
        return redirect(url_for("ui.login", next=safe_next(target)))
    return None


def editor_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Viewers read everything and change nothing (SPEC section 4b): a write → 403."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not g.staff.can_write:
            abort(403, "Your role (viewer) can read but not change licenses.")
        return view(*args, **kwargs)

    return wrapper


def safe_next(target: str | None) -> str | None:
    """``target`` if it is a path inside the UI on this host; ``None`` otherwise."""
    if not target:
        return None
    target = target.rstrip("?")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or "\\" in target:
        return None
    if not (target == "/ui" or target.startswith("/ui/")):
        return None
    return target
