"""Who is logged in to the staff UI: the signed session cookie ↔ ``g.staff``.

The cookie holds the user's id, the database name, the user's session stamp and the login time.
The user is read from that database on every request: a deleted or disabled user, a changed
role or password, or a logout anywhere (each gives the user a new session stamp) ends the
session at once on every node. A session ends ``PERMANENT_SESSION_LIFETIME`` after login
however active it is.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any
from urllib.parse import urlsplit

from flask import abort, current_app, g, redirect, request, session, url_for
from sqlalchemy import bindparam, select
from werkzeug.wrappers import Response

from app.activity import log_unavailable
from app.api.paths import is_api_path
from app.auth.login_check import check_login, seconds_wording
from app.auth.models import StaffUser, role_can_write
from app.auth.throttle import EXTENSION_KEY, Attempt
from app.auth.users import end_sessions, store_password_upgrade
from app.db_errors import error_class, is_database_unavailable
from app.tenancy import (
    UnknownDatabase,
    begin_write,
    first_read,
    request_session,
    resolve_database,
)
from app.ui.form_limits import ui_body_limit

SESSION_USER_ID = "staff_user_id"
SESSION_DATABASE = "staff_database"
SESSION_STAMP = "staff_stamp"
SESSION_LOGIN_AT = "staff_login_at"
SESSION_ID = "sid"
#: Endpoints of the UI blueprint that do not need a logged-in user.
PUBLIC_ENDPOINTS = frozenset({"ui.login"})
#: The only answer to a wrong username, a wrong password or a user of another database.
LOGIN_FAILED = "The username or password is not correct for this database."


@dataclass(frozen=True)
class Staff:
    """The logged-in person for this request, as ``g.staff``."""

    user_id: int
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
    """Check the credentials unless the account or client must wait; start the session if right.

    ``database`` has been checked against the configured names by the form.
    """
    throttle = current_app.extensions[EXTENSION_KEY]
    attempt = Attempt(database, username.strip(), request.remote_addr or "unknown")
    database_session = request_session(database)
    checked = check_login(database_session, throttle, attempt, password, via="ui")
    if checked.busy:
        message = "Another login to this account is being checked. Try again in a second."
        return SignInResult(False, message, status=429, retry_after=checked.retry_after)
    if checked.retry_after:
        wait = seconds_wording(checked.retry_after)
        message = f"Too many failed attempts. Try again in {wait}."
        return SignInResult(False, message, status=429, retry_after=checked.retry_after)
    user = checked.user
    identity = None if user is None else (user.id, user.session_stamp)
    database_session.rollback()  # expires ``user``: only its id and stamp are used from here on
    if identity is None:
        return SignInResult(False, LOGIN_FAILED)
    if checked.upgrade is not None:  # the only login that writes: once per stale hash
        begin_write(database_session)
        store_password_upgrade(database_session, checked.upgrade)
        database_session.commit()
    log_in(*identity, database)
    return SignInResult(True)


def sign_in_or_unavailable(database: str, username: str, password: str) -> SignInResult:
    """``sign_in``, or, when ``database`` cannot be reached, a 503 said on the login form: the
    error page lost the username and did not say which database (another may be up)."""
    try:
        return sign_in(database, username, password)
    except Exception as exc:
        if not is_database_unavailable(exc):
            raise
        log_unavailable("database unavailable", error_class(exc))
    seconds = current_app.config["DATABASE_RETRY_AFTER_SECONDS"]
    message = (
        f"The database {database} cannot be reached just now, so nothing was checked. "
        f"Try again in {seconds_wording(seconds)}, or choose another database."
    )
    return SignInResult(False, message, status=503, retry_after=seconds)


def log_in(user_id: int, stamp: str, database: str) -> None:
    """Start a fresh session: a new id, and a new CSRF secret, so nothing from before counts."""
    session.clear()
    session[SESSION_ID] = secrets.token_urlsafe(16)
    session[SESSION_USER_ID] = user_id
    session[SESSION_DATABASE] = database
    session[SESSION_STAMP] = stamp
    session[SESSION_LOGIN_AT] = int(time.time())
    session.permanent = True


def log_out(staff: Staff | None) -> None:
    """End this session and every other session of the same user, on every node."""
    session.clear()
    if staff is None:
        return
    database_session = request_session(staff.database)
    database_session.rollback()
    begin_write(database_session)
    user = database_session.get(StaffUser, staff.user_id)
    if user is not None:
        end_sessions(user)
    database_session.commit()


def load_staff() -> Staff | None:
    """The logged-in staff member, or ``None`` (the session is cleared if it ended)."""
    user_id, database = session.get(SESSION_USER_ID), session.get(SESSION_DATABASE)
    stamp, login_at = session.get(SESSION_STAMP), session.get(SESSION_LOGIN_AT)
    if not user_id or not database or not stamp or not isinstance(login_at, int):
        return None  # not logged in (the session may hold the login form's CSRF secret)
    lifetime = current_app.permanent_session_lifetime.total_seconds()
    if time.time() - login_at >= lifetime:
        session.clear()
        return None
    try:
        resolve_database(database)
    except UnknownDatabase:
        session.clear()
        return None
    # The request's first read, outside the transaction a Save then takes as a writer: on
    # SQLite a read needs no write lock, so a Save waits for the lock only once, in its view.
    rows = first_read(request_session(database), _SIGNED_IN_USER, {"user_id": user_id})
    staff = None
    if rows and rows[0][3] == stamp:
        username, role = rows[0][1], rows[0][2]
        staff = Staff(rows[0][0], username, role, database, role_can_write(role))
    if staff is None:
        session.clear()
    return staff


#: The signed-in user, if still enabled: id, username, role and session stamp (a Core
#: statement, as ``first_read`` reads it).
_SIGNED_IN_USER = select(
    StaffUser.id, StaffUser.username, StaffUser.role, StaffUser.session_stamp
).where(StaffUser.id == bindparam("user_id"), StaffUser.disabled.is_(False))


def limit_form_size() -> None:
    """App ``before_request``: ``/ui`` bodies have their own, smaller limit than the API's
    ``MAX_CONTENT_LENGTH`` (an import's Apply its own, ``app.ui.form_limits``).

    Registered before CSRFProtect's hook (``create_app``), which reads the form of every POST
    first: set later (in the blueprint's hook), the form had already been read under the API's
    larger limit, and the UI's limit applied to nothing.
    """
    if not is_api_path(request.path):
        request.max_content_length = ui_body_limit(request.endpoint, current_app.config)


def identify_staff(_endpoint: str | None, _values: dict[str, Any] | None) -> None:
    """Blueprint URL value preprocessor: ``g.staff``, read before any ``before_request``
    runs, so a request the app's own hooks refuse (a missing or wrong CSRF token, a body over
    the UI's limit) still names its user in the request's log line (``app.activity``)."""
    g.staff = load_staff()


def require_login() -> Response | None:
    """Blueprint ``before_request``: every UI page but the login page needs a user."""
    if "staff" not in g:
        g.staff = load_staff()
    if g.staff is None and request.endpoint not in PUBLIC_ENDPOINTS:
        # After logging in, back to the page asked for; a grid Save, to its grid (where the
        # rows it sent are offered back), never re-posting anything.
        back = request.method == "GET" or request.endpoint == "ui.save"
        target = request.full_path if back else None
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


#: A control character cannot be sent in a ``Location`` header (a CR or LF made the redirect
#: itself fail, a 500 after a successful login), and browsers drop tabs and newlines from URLs.
_CONTROL_CHARACTER = re.compile(r"[\x00-\x1f\x7f]")


def safe_next(target: str | None) -> str | None:
    """``target`` if it is a path inside the UI on this host; ``None`` otherwise."""
    if not target:
        return None
    target = target.rstrip("?")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or "\\" in target or _CONTROL_CHARACTER.search(target):
        return None
    if not (target == "/ui" or target.startswith("/ui/")):
        return None
    return target
