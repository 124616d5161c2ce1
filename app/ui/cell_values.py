"""What staff type into grid cells, read as the license service expects it.

Date cells are text inputs, never ``<input type=date>``: a browser empties a date input whose
text is not a real date (02/30/2027) and sends ``""``, which reads as "clear the stored date".
With a text input the server receives exactly what was typed, so an emptied cell (clear it) and
an unreadable one (an error on that cell, nothing written) can be told apart.

Staff type dates the US way (03/31/2027); ISO dates (2027-03-31) and a time of day are
accepted too, so a stored time survives a Save. State cells accept a full state name.
"""

from __future__ import annotations

import re
from datetime import datetime

from app.wire.fields import USPS_STATE_CODES

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


class UnreadableDate(ValueError):
    """A date cell's text is not a complete, real date."""


def parse_date_cell(text: str) -> datetime | None:
    """``None`` for an empty cell; the date (and time) typed; ``UnreadableDate`` otherwise."""
    text = (text or "").strip()
    if not text:
        return None
    match = US_DATE.fullmatch(text) or ISO_DATE.fullmatch(text)
    if match is None:
        raise UnreadableDate(text)
    parts = match.groupdict()
    try:
        return datetime(
            int(parts["y"]),
            int(parts["m"]),
            int(parts["d"]),
            int(parts["H"] or 0),
            int(parts["M"] or 0),
            int(parts["S"] or 0),
        )
    except ValueError:  # 02/30, 13/01, 24:00 ...
        raise UnreadableDate(text) from None


def format_date_cell(value: datetime | None) -> str:
    """A stored date-time as staff read it: ``MM/DD/YYYY``, with the time when it has one."""
    if value is None:
        return ""
    # Not ``%Y``: the C library writes the year 1 as "1", which the grid then cannot read.
    shown = f"{value.month:02d}/{value.day:02d}/{value.year:04d}"
    if (value.hour, value.minute, value.second) == (0, 0, 0):
        return shown
    return shown + f" {value:%H:%M}" + (f":{value:%S}" if value.second else "")


def wire_datetime(value: datetime) -> str:
    """A cell's date as the service's wire form."""
    return value.isoformat(timespec="seconds") + "Z"


STATE_NAMES: dict[str, str] = {
    "alabama": "AL",
    "alaska": "AK",
    "arizona": "AZ",
    "arkansas": "AR",
    "california": "CA",
    "colorado": "CO",
    "connecticut": "CT",
    "delaware": "DE",
    "florida": "FL",
    "georgia": "GA",
    "hawaii": "HI",
    "idaho": "ID",
    "illinois": "IL",
    "indiana": "IN",
    "iowa": "IA",
    "kansas": "KS",
    "kentucky": "KY",
    "louisiana": "LA",
    "maine": "ME",
    "maryland": "MD",
    "massachusetts": "MA",
    "michigan": "MI",
    "minnesota": "MN",
    "mississippi": "MS",
    "missouri": "MO",
    "montana": "MT",
    "nebraska": "NE",
    "nevada": "NV",
    "new hampshire": "NH",
    "new jersey": "NJ",
    "new mexico": "NM",
    "new york": "NY",
    "north carolina": "NC",
    "north dakota": "ND",
    "ohio": "OH",
    "oklahoma": "OK",
    "oregon": "OR",
    "pennsylvania": "PA",
    "rhode island": "RI",
    "south carolina": "SC",
    "south dakota": "SD",
    "tennessee": "TN",
    "texas": "TX",
    "utah": "UT",
    "vermont": "VT",
    "virginia": "VA",
    "washington": "WA",
    "west virginia": "WV",
    "wisconsin": "WI",
    "wyoming": "WY",
    "district of columbia": "DC",
    "washington dc": "DC",
    "washington d.c.": "DC",
    "american samoa": "AS",
    "guam": "GU",
    "northern mariana islands": "MP",
    "puerto rico": "PR",
    "virgin islands": "VI",
    "u.s. virgin islands": "VI",
    "us virgin islands": "VI",
}


def state_cell(text: str) -> str:
    """A state cell as a USPS code when it names one (``"new york"`` → ``"NY"``), else as typed.

    Whatever is not a state is left for the schema to refuse on that cell.
    """
    cleaned = " ".join((text or "").split())
    if cleaned.upper() in USPS_STATE_CODES:
        return cleaned.upper()
    return STATE_NAMES.get(cleaned.casefold(), text)
