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

from app.auth.models import StaffUser
from app.auth.throttle import Attempt, LoginThrottle
from app.auth.users import authenticate

log = logging.getLogger("credgrid.login")
#: Retry-After of an attempt refused while another one checks the same account: a password
#: check takes well under a second, after which the account's real wait (if any) applies.
BUSY_RETRY_AFTER_SECONDS = 1


@dataclass(frozen=True)
class LoginCheck:
    """``user`` when the credentials are right; ``retry_after`` > 0 when refused unchecked."""

    user: StaffUser | None
    retry_after: int = 0


def check_login(
    session: Session, throttle: LoginThrottle, attempt: Attempt, password: str, via: str
) -> LoginCheck:
    """Check ``password`` unless the account is being checked or must wait; log the outcome."""
    where = f"user={attempt.username!r} database={attempt.database} client={attempt.address}"
    with throttle.reserve_check(attempt) as reserved:
        wait = throttle.wait_seconds(attempt)
        if not reserved:
            wait = max(wait, BUSY_RETRY_AFTER_SECONDS)
        if wait:
            log.warning("login throttled via=%s %s retry_after=%ds", via, where, wait)
            return LoginCheck(None, retry_after=wait)
        user = authenticate(session, attempt.username, password)
        if user is None:
            throttle.record_failure(attempt)
            log.warning("login failed via=%s %s", via, where)
            return LoginCheck(None)
        throttle.record_success(attempt)
    log.info("login succeeded via=%s %s", via, where)
    return LoginCheck(user)
