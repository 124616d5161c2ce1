"""Each grid row's expiry state, as text a person reads (not a colour or a tooltip alone).

The bucket rule is the shared one (``ExpiryClock``); a license without a Term date is flagged
"No term date", never shown as fine.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from app.licenses.expiry import EXPIRED, EXPIRY_WINDOWS
from app.ui.expiry import ExpiryClock

WINDOWS = {f"within{days}": days for days in EXPIRY_WINDOWS}

NO_TERM_DATE = "noTermDate"
CURRENT = "current"


@dataclass(frozen=True)
class ExpiryState:
    """``bucket`` names the state for styling; ``text`` says it in words."""

    bucket: str
    text: str
    psv_overdue: bool


def _days(count: int) -> str:
    return f"{count} day{'s' if count != 1 else ''}"


def expiry_state(
    clock: ExpiryClock, term_date: datetime | None, psv_date: datetime | None
) -> ExpiryState:
    overdue = clock.psv_overdue(psv_date)
    if term_date is None:
        return ExpiryState(NO_TERM_DATE, "No term date", overdue)
    bucket = clock.bucket(term_date)
    left = clock.days_to(term_date)  # the days the bucket is stated in
    if bucket == EXPIRED:
        ago = -left
        text = "Expired" + (f" {_days(ago)} ago" if ago > 0 else " today")
        return ExpiryState(EXPIRED, text, overdue)
    if bucket in WINDOWS:
        high = WINDOWS[bucket]
        return ExpiryState(bucket, f"≤ {high} days ({_days(left)} left)", overdue)
    return ExpiryState(CURRENT, f"Current ({_days(left)} left)", overdue)
