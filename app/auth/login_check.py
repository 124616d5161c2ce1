"""Checking a login, the same way for the staff UI and ``POST /user-authentication``.

The account's check is reserved first, then the throttle is asked for a wait, so a throttled
attempt costs no password hashing and parallel attempts at one account check one password
between them; every failed, throttled and successful attempt is logged on one line (user,
database, client address, where; never the password).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy.orm import Session

from app.activity import activity_field, loggable_address
from app.auth.models import StaffUser
from app.auth.throttle import Attempt, LoginThrottle
from app.auth.users import PasswordUpgrade, authenticate, password_upgrade

log = logging.getLogger("credgrid.login")
#: Retry-After of an attempt refused while another one checks the same account: a password
#: check takes well under a second, after which the account's real wait (if any) applies.
BUSY_RETRY_AFTER_SECONDS = 1


@dataclass(frozen=True)
class LoginCheck:
    """``user`` when the credentials are right; ``retry_after`` > 0 when refused unchecked,
    ``busy`` when that was because another attempt was checking the same account (a second
    click on Log in, or another process of one integration), not because of failures;
    ``upgrade`` when the right password's hash was made with other parameters than today's
    (the caller stores it in the transaction it writes the login in)."""

    user: StaffUser | None
    retry_after: int = 0
    busy: bool = False
    upgrade: PasswordUpgrade | None = None


def check_login(
    session: Session, throttle: LoginThrottle, attempt: Attempt, password: str, via: str
) -> LoginCheck:
    """Check ``password`` unless the account is being checked or must wait; log the outcome."""
    shown = logged_username(attempt.username)
    client = loggable_address(attempt.address)
    where = f"user={shown} database={attempt.database} client={client}{activity_field()}"
    with throttle.reserve_check(attempt) as reserved:
        wait = throttle.wait_seconds(attempt)
        if wait:
            log.warning("login throttled via=%s %s retry_after=%ds", via, where, wait)
            return LoginCheck(None, retry_after=wait)
        if not reserved:
            log.warning("login refused while another is checked via=%s %s", via, where)
            return LoginCheck(None, retry_after=BUSY_RETRY_AFTER_SECONDS, busy=True)
        user = authenticate(session, attempt.username, password)
        if user is None:
            throttle.record_failure(attempt)
            log.warning("login failed via=%s %s", via, where)
            return LoginCheck(None)
        throttle.record_success(attempt)
    log.info("login succeeded via=%s %s", via, where)
    return LoginCheck(user, upgrade=password_upgrade(user, password))


#: A real username has at most 20 characters (``app.auth.users``); an attempt's may be
#: kilobytes, and each failed attempt would write them to the log again.
LOGGED_USERNAME_LENGTH = 40


def logged_username(username: str) -> str:
    """An attempt's username as the log shows it: quoted, cut after 40 characters."""
    if len(username) <= LOGGED_USERNAME_LENGTH:
        return repr(username)
    return f"{username[:LOGGED_USERNAME_LENGTH]!r}…({len(username)} characters)"


def seconds_wording(seconds: int) -> str:
    """``"1 second"``, ``"4 seconds"``: how long a refused login is asked to wait."""
    return f"{seconds} second" if seconds == 1 else f"{seconds} seconds"
