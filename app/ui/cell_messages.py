"""The one mapping from the license schema's errors to what staff read on a grid cell.

The API keeps its messages (they name JSON fields and ISO 8601, as its clients need). The grid
says the same thing in staff words: the column as its header shows it, and what to do. Each
known schema message is recognised from the schema's own message templates, so a reworded
template shows up here as a test failure rather than as API wording on a cell.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import date

from app.ui.cell_values import DATE_EXAMPLE
from app.ui.shown_dates import shown_date
from app.wire.fields import INT32_MAX, INT32_MIN, Int32, StateCode, Text

FieldErrors = Mapping[str, list[str]]


def _pattern(template: str) -> re.Pattern[str]:
    """A schema message template (``"Longer than maximum length {max}."``) as a regex."""
    parts = re.split(r"\{(\w+)\}", template)
    regex = "".join(
        re.escape(part) if i % 2 == 0 else f"(?P<{part}>.+?)" for i, part in enumerate(parts)
    )
    return re.compile(regex)


NOT_INTEGER = _pattern(Int32.default_error_messages["invalid"])
OUT_OF_RANGE = re.compile(re.escape(Int32.default_error_messages["range"]))
TOO_LONG = _pattern(Text.default_error_messages["too_long"])
BLANK = _pattern(Text.default_error_messages["blank"])
NUL = _pattern(Text.default_error_messages["nul"])
BAD_STATE = _pattern(StateCode.default_error_messages["state"])
MISSING = re.compile(r"Missing data for required field\.")
BEFORE_EFFECTIVE = re.compile(r"Must not be before effective_Date\.")
FUTURE = re.compile(r"Must not be after the current UTC date \((?P<today>[0-9-]+)\)\.")
NO_REFERENCE = re.compile(r"No license type (?P<value>.+) in this database\.")
BAD_DATETIME = re.compile(r"Not a valid date-time")

UNREADABLE_DATE = f"Enter a real date, e.g. {DATE_EXAMPLE}."
NAME_OR_NUMBER = "Enter a license number or a license name, or clear this row."
BAD_STATE_MESSAGE = (
    "Enter a state as its 2-letter code or full name, e.g. TX or Texas "
    "(50 states, DC, AS, GU, MP, PR, VI)."
)


def _us_date(iso: str) -> str:
    return shown_date(date.fromisoformat(iso))


Rule = tuple[re.Pattern[str], Callable[[re.Match[str], str], str]]

RULES: tuple[Rule, ...] = (
    (
        NOT_INTEGER,
        lambda _m, name: (
            "Choose a type from the list."
            if name == "credLicenseType_Key"
            else "Enter a whole number, or leave it empty to get one assigned."
        ),
    ),
    (
        OUT_OF_RANGE,
        lambda _m, name: (
            "Choose a type from the list."
            if name == "credLicenseType_Key"
            else f"Enter a whole number from {INT32_MIN} to {INT32_MAX}, or leave it empty "
            "to get one assigned."
        ),
    ),
    (
        TOO_LONG,
        lambda m, _n: f"Too long: shorten it to at most {m['max']} characters.",
    ),
    (BLANK, lambda _m, _n: "Type a value or leave the cell empty."),
    (NUL, lambda _m, _n: "Remove the invisible control characters from this cell."),
    (BAD_STATE, lambda _m, _n: BAD_STATE_MESSAGE),
    (MISSING, lambda _m, _n: "Required: fill this cell."),
    (
        BEFORE_EFFECTIVE,
        lambda _m, _n: "Must not be before the Effective date; correct Term or Effective.",
    ),
    (
        FUTURE,
        lambda m, _n: f"Must not be in the future (today is {_us_date(m['today'])} UTC).",
    ),
    (
        NO_REFERENCE,
        lambda m, _n: (
            f"There is no license type {m['value']} in this database; choose one from the list."
        ),
    ),
)

FALLBACK = "This value was not accepted; check it and save again."
ROW_FALLBACK = "This row was not accepted; check its cells and save again."


def cell_message(name: str, message: str, date_example: str = DATE_EXAMPLE) -> str:
    """One schema message about field ``name`` in staff words; an unreadable date is answered
    with ``date_example`` (the grid reads ``03/31/2027``, a CSV file holds ``2027-03-31``)."""
    if name == "state":  # "Texas" is too long for a code: the fix is the same
        return BAD_STATE_MESSAGE
    if BAD_DATETIME.match(message):
        return f"Enter a real date, e.g. {date_example}."
    for pattern, words in RULES:
        match = pattern.fullmatch(message)
        if match is not None:
            return words(match, name)
    return FALLBACK


def cell_messages(
    errors: FieldErrors, cell_names: tuple[str, ...], date_example: str = DATE_EXAMPLE
) -> dict[str, list[str]]:
    """The schema's ``{field: [message]}`` as grid messages; fields that are no cell go to
    the row (``_item``) with a staff message."""
    worded: dict[str, list[str]] = {}
    for name, messages in errors.items():
        if name in cell_names:
            target = name
            texts = [cell_message(name, m, date_example) for m in messages]
        else:
            target = "_item"
            texts = [ROW_FALLBACK]
        for text in texts:
            if text not in worded.setdefault(target, []):
                worded[target].append(text)
    return worded
