"""The one server-side reading of a grid date cell: what the JavaScript grid accepts, read the
same way (``static/ui/grid.js``: ``dateCell`` then ``readDate``), so a Save without JavaScript
stores the same date as one with it.

Taken, spaces around ignored:

- ``M/D/YYYY`` and ``YYYY-M-D``, each with an optional time ``H:MM[:SS]`` after a space or
  ``T`` (the ISO form also with a trailing ``Z`` or ``UTC``);
- ``M/D/YY``, as spreadsheets show dates (month first, the US order the grid uses);
- the month's name, at least its first three letters, with or without a dot:
  ``Jan 31, 2025``, ``January 31 2025`` and ``31-Jan-25``, ``31 Jan 2025``.

A two-digit year is read in the 100 years from 79 years back to 20 years ahead of this one
(UTC): a license's term date lies up to ~20 years ahead, its effective and PSV dates decades
back. This is the grid's convenience for people typing; the API's wire format stays strict
ISO 8601 / VBAPI (``app.wire.fields``).
"""

from __future__ import annotations

import re
from datetime import datetime

from app.audit import utcnow
from app.ui.shown_dates import shown_date

DATE_EXAMPLE = "03/31/2027"
US_DATE = re.compile(
    r"(?P<m>\d{1,2})/(?P<d>\d{1,2})/(?P<y>\d{4})"
    r"(?:[ T]+(?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2}))?)?",
    re.ASCII,
)
ISO_DATE = re.compile(
    r"(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})"
    r"(?:[ T]+(?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2}))?)?(?:\s*(?:Z|UTC))?",
    re.IGNORECASE | re.ASCII,
)
SHORT_US_DATE = re.compile(r"(?P<m>\d{1,2})/(?P<d>\d{1,2})/(?P<yy>\d{2})", re.ASCII)
MONTH_DAY_YEAR = re.compile(
    r"(?P<month>[a-z]+)\.? +(?P<d>\d{1,2}),? +(?P<y>\d{4})", re.IGNORECASE | re.ASCII
)
DAY_MONTH_YEAR = re.compile(
    r"(?P<d>\d{1,2})[- ](?P<month>[a-z]+)\.?[- ](?P<y>\d{2}|\d{4})", re.IGNORECASE | re.ASCII
)
MONTHS = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)
#: How far a two-digit year reaches: up to this many years ahead of this one, else back.
YEARS_AHEAD = 20


class UnreadableDate(ValueError):
    """A date cell's text is not a complete, real date."""


def full_year(two_digits: int, this_year: int) -> int:
    """A two-digit year in the 100 years from ``this_year - 79`` to ``this_year + 20``."""
    year = this_year - this_year % 100 + two_digits
    if year > this_year + YEARS_AHEAD:
        return year - 100
    if year < this_year - (99 - YEARS_AHEAD):
        return year + 100
    return year


def month_number(name: str) -> int | None:
    """1-12 for a month's name or its start of three letters or more ("Jan", "Sept")."""
    name = name.lower()
    if len(name) < 3:
        return None
    return next((i for i, month in enumerate(MONTHS, 1) if month.startswith(name)), None)


def parse_date_cell(text: str, *, this_year: int | None = None) -> datetime | None:
    """``None`` for an empty cell; the date (and time) typed; ``UnreadableDate`` otherwise.
    ``this_year`` (default: the current UTC year) places a two-digit year."""
    text = (text or "").strip()
    if not text:
        return None
    parts = _parts(text, utcnow().year if this_year is None else this_year)
    if parts is None:
        raise UnreadableDate(text)
    try:
        return datetime(*parts)
    except ValueError:  # 02/30, 13/01, 24:00, year 0 ...
        raise UnreadableDate(text) from None


def _parts(text: str, this_year: int) -> tuple[int, ...] | None:
    """Year, month, day (and hour, minute, second) as written; ``None`` for no known form."""
    if match := SHORT_US_DATE.fullmatch(text):
        return full_year(int(match["yy"]), this_year), int(match["m"]), int(match["d"])
    match = MONTH_DAY_YEAR.fullmatch(text) or DAY_MONTH_YEAR.fullmatch(text)
    if match:
        month = month_number(match["month"])
        if month is None:
            return None
        year = match["y"]
        read_year = full_year(int(year), this_year) if len(year) == 2 else int(year)
        return read_year, month, int(match["d"])
    match = US_DATE.fullmatch(text) or ISO_DATE.fullmatch(text)
    if match is None:
        return None
    found = match.groupdict()
    return tuple(int(found[name] or 0) for name in ("y", "m", "d", "H", "M", "S"))


def format_date_cell(value: datetime | None) -> str:
    """A stored date-time as staff read it: ``MM/DD/YYYY``, with the time when it has one."""
    if value is None:
        return ""
    shown = shown_date(value)
    if (value.hour, value.minute, value.second) == (0, 0, 0):
        return shown
    return shown + f" {value:%H:%M}" + (f":{value:%S}" if value.second else "")
