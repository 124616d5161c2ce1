"""Marshmallow fields with VBAPI's wire rules.

Each field does all of its checking in ``_deserialize`` (type, range, length, format), so the
schema's fast path (``app.wire.fastload``) can call exactly the same code and the schema stays the
single source of what is valid.
"""

from __future__ import annotations

import functools
import re
from datetime import UTC, date, datetime
from typing import Any

from marshmallow import fields

INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1

USPS_STATE_CODES = frozenset(
    [
        "AL",
        "AK",
        "AZ",
        "AR",
        "CA",
        "CO",
        "CT",
        "DE",
        "FL",
        "GA",
        "HI",
        "ID",
        "IL",
        "IN",
        "IA",
        "KS",
        "KY",
        "LA",
        "ME",
        "MD",
        "MA",
        "MI",
        "MN",
        "MS",
        "MO",
        "MT",
        "NE",
        "NV",
        "NH",
        "NJ",
        "NM",
        "NY",
        "NC",
        "ND",
        "OH",
        "OK",
        "OR",
        "PA",
        "RI",
        "SC",
        "SD",
        "TN",
        "TX",
        "UT",
        "VT",
        "VA",
        "WA",
        "WV",
        "WI",
        "WY",
        "DC",
        "AS",
        "GU",
        "MP",
        "PR",
        "VI",
    ]
)

_TRAILING_ZONE = re.compile(
    r"^(?P<stamp>.*\d)\s+(?P<zone>UTC|GMT|Z|[+-]\d{2}:?\d{2})$", re.I | re.ASCII
)
#: The ISO 8601 / RFC 3339 shapes taken: a calendar date, optionally a time after "T" or a
#: space, optionally an offset. ``datetime.fromisoformat`` alone also takes any character
#: between date and time, week dates and basic forms ("20240101"), which no client means.
_ISO_SHAPE = re.compile(
    r"\d{4}-\d{2}-\d{2}"
    r"(?:[Tt ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d{1,9})?)?(?:[Zz]|[+-]\d{2}(?::?\d{2}(?::?\d{2})?)?)?)?",
    re.ASCII,
)


_QUERY_INTEGER = re.compile(r"-?0*[0-9]{1,10}")


def query_integer(text: str | None) -> int | None:
    """A query string's integer: an optional minus and one to ten ASCII digits after any
    leading zeros, spaces around allowed; ``None`` for anything else (``int`` alone also takes
    "1_000", other scripts' digits and numbers of any length)."""
    text = (text or "").strip()
    return int(text) if _QUERY_INTEGER.fullmatch(text) else None


def query_int32(text: str | None) -> int | None:
    """``query_integer`` within int32 (a key, which may be negative); ``None`` otherwise."""
    value = query_integer(text)
    return value if value is not None and INT32_MIN <= value <= INT32_MAX else None


def is_int32(value: Any) -> bool:
    return type(value) is int and INT32_MIN <= value <= INT32_MAX


class Int32(fields.Integer):
    """A JSON integer within int32: ``"5012"``, ``5012.5`` and ``true`` are type errors."""

    default_error_messages = {
        "invalid": "Not a valid integer.",
        "range": f"Must be a 32-bit integer ({INT32_MIN} to {INT32_MAX}).",
    }

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> int:
        if type(value) is not int:
            raise self.make_error("invalid")
        if not INT32_MIN <= value <= INT32_MAX:
            raise self.make_error("range")
        return value


class Text(fields.String):
    """A string stripped of surrounding white space; empty becomes null.

    Rejects what a database cannot store (NUL, lone surrogates) so such input is a 400 on
    its item rather than a database error.
    """

    default_error_messages = {
        "invalid": "Not a valid string.",
        "too_long": "Longer than maximum length {max}.",
        "blank": "Must not be blank.",
        "nul": "Must not contain NUL characters.",
        "encoding": "Not valid Unicode text.",
    }

    def __init__(self, max_length: int, *, blank_is_null: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.max_length = max_length
        self.blank_is_null = blank_is_null

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> str | None:
        if type(value) is not str:
            raise self.make_error("invalid")
        text = value.strip()
        if not text:
            if self.blank_is_null:
                return None
            raise self.make_error("blank")
        if len(text) > self.max_length:
            raise self.make_error("too_long", max=self.max_length)
        if not text.isascii():
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:
                raise self.make_error("encoding") from None
        if "\x00" in text:
            raise self.make_error("nul")
        return text


#: The one message for a state that is not a USPS code, in a body field and in the ``state``
#: query parameter alike, so a client meets the same words for the same mistake.
STATE_CODE_MESSAGE = "Not a valid USPS state code (50 states, DC, AS, GU, MP, PR, VI)."


class StateCode(Text):
    """A USPS code (50 states, DC and territories), accepted in any case, stored upper-case."""

    default_error_messages = {
        "state": STATE_CODE_MESSAGE,
        # "Texas" or "NYC" is not a code either: said so, not that it is over two characters.
        "too_long": STATE_CODE_MESSAGE,
    }

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_length=2, **kwargs)

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> str | None:
        text = super()._deserialize(value, attr, data, **kwargs)
        if text is None:
            return None
        code = text.upper()
        if code not in USPS_STATE_CODES or not text.isascii():
            # isascii: Python upper-cases "ſ" to "S" and "ı" to "I" ("mſ" was taken as MS).
            raise self.make_error("state")
        return code


def parse_wire_datetime(value: str) -> datetime | None:
    """Parse VBAPI's date-time forms to naive UTC; ``None`` if it is not one of them, or if
    its instant falls outside years 1 to 9999 in UTC."""
    parsed = _parse_as_written(value)
    if parsed is not None and parsed.tzinfo is not None:
        try:
            parsed = parsed.astimezone(UTC).replace(tzinfo=None)
        except OverflowError:
            return None
    return parsed


def _parse_as_written(value: str) -> datetime | None:
    """One of VBAPI's date-time forms, with its offset if it has one; ``None`` otherwise."""
    text = value.strip()
    match = _TRAILING_ZONE.match(text)
    if match:
        zone = match["zone"].upper()
        text = match["stamp"] + ("+00:00" if zone in ("UTC", "GMT", "Z") else zone)
    if not _ISO_SHAPE.fullmatch(text):
        return None
    if text[-1] == "z":  # RFC 3339 allows it; fromisoformat wants "Z"
        text = text[:-1] + "Z"
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


#: Longer strings are parsed each time, so the cache never holds a large value.
_CACHED_DATETIME_LENGTH = 40


@functools.lru_cache(maxsize=4096)
def _parse_to_the_second(value: str) -> datetime | None:
    """``parse_wire_datetime`` truncated to the second, for the short strings a batch repeats
    (licenses share term and verification dates): each distinct one is parsed once, and a
    ``datetime`` is immutable, so sharing it is safe."""
    parsed = parse_wire_datetime(value)
    return None if parsed is None else parsed.replace(microsecond=0)


class WireDateTime(fields.DateTime):
    """ISO 8601 and generated-client forms in, ``YYYY-MM-DDTHH:MM:SSZ`` out; stored naive UTC.

    Input is truncated to whole seconds, the precision written back, so that a client that
    re-sends what it read gets "unchanged", not a spurious update.
    """

    default_error_messages = {
        "invalid": (
            "Not a valid date-time; use ISO 8601 (2024-01-01T00:00:00Z) "
            "or '2024-01-01 00:00:00 UTC'."
        ),
        "range": (
            "Not a valid date-time: outside 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z "
            "once converted to UTC."
        ),
    }

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> datetime:
        parsed = None
        if type(value) is str:
            if len(value) <= _CACHED_DATETIME_LENGTH:
                parsed = _parse_to_the_second(value)
            else:
                parsed = parse_wire_datetime(value)
                parsed = None if parsed is None else parsed.replace(microsecond=0)
        if parsed is None:
            # Well-formed, but its offset takes it past year 1 or 9999 (rare: only then re-read).
            well_formed = type(value) is str and _parse_as_written(value) is not None
            raise self.make_error("range" if well_formed else "invalid")
        return parsed

    def _serialize(self, value: Any, attr: Any, obj: Any, **kwargs: Any) -> str | None:
        return format_wire_datetime(value)


def format_wire_datetime(value: datetime | date | None) -> str | None:
    if value is None:
        return None
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    # isoformat pads the year to 4 digits and truncates to whole seconds, like the wire form;
    # it is C code, and a batch formats a date-time per changed field (history, dry-run).
    return value.isoformat(timespec="seconds") + "Z"
