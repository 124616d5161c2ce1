"""What staff type into grid cells, read as the license service expects it.

Date cells are text inputs, never ``<input type=date>``: a browser empties a date input whose
text is not a real date (02/30/2027) and sends ``""``, which reads as "clear the stored date".
With a text input the server receives exactly what was typed, so an emptied cell (clear it) and
an unreadable one (an error on that cell, nothing written) can be told apart.

Staff type dates the US way (03/31/2027); ISO dates (2027-03-31) and a time of day are
accepted too, so a stored time survives a Save, and so are the short forms the JavaScript grid
reads (1/2/24, Jan 31, 2025, 31-Jan-25): one reading, :mod:`app.ui.date_cells`. State cells
accept a full state name.
"""

from __future__ import annotations

from app.ui.date_cells import (
    DATE_EXAMPLE,
    UnreadableDate,
    format_date_cell,
    parse_date_cell,
)
from app.wire.fields import USPS_STATE_CODES

__all__ = [
    "DATE_EXAMPLE",
    "STATE_NAMES",
    "UnreadableDate",
    "format_date_cell",
    "parse_date_cell",
    "state_cell",
]

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
