"""How the staff pages show a date to a person, one rule for every page: a date as
``03/31/2027`` (month first, as the license grid's cells), a date-time as
``03/31/2027 14:05 UTC`` (stored times are UTC). Templates use the ``date`` and ``datetime``
filters, which wrap the text in ``<time>`` with the ISO value in its ``datetime`` attribute;
form values, links, commands and downloads keep ISO.
"""

from __future__ import annotations

from datetime import date, datetime

from flask import Blueprint
from markupsafe import Markup

NO_DATE = "—"


def shown_date(value: date | None) -> str:
    """``MM/DD/YYYY``; the time of a date-time is left out."""
    if value is None:
        return NO_DATE
    # Not ``%Y``: the C library writes the year 1 as "1", which is not a date.
    return f"{value.month:02d}/{value.day:02d}/{value.year:04d}"


def shown_datetime(value: datetime | None) -> str:
    """``MM/DD/YYYY hh:mm UTC`` for a stored (naive, UTC) date-time."""
    if value is None:
        return NO_DATE
    return f"{shown_date(value)} {value:%H:%M} UTC"


def date_element(value: date | None) -> Markup:
    """The ``date`` filter: ``<time datetime="2027-03-31">03/31/2027</time>``."""
    if value is None:
        return Markup(NO_DATE)
    day = value.date() if isinstance(value, datetime) else value
    return time_element(day.isoformat(), shown_date(day))


def datetime_element(value: datetime | None) -> Markup:
    """The ``datetime`` filter: ``<time datetime="2027-03-31T14:05:09Z">03/31/2027 14:05
    UTC</time>``, the attribute to the stored precision."""
    if value is None:
        return Markup(NO_DATE)
    return time_element(f"{value.isoformat()}Z", shown_datetime(value))


def time_element(iso: str, shown: str) -> Markup:
    """``shown`` in ``<time>`` with the machine-readable ``iso`` value."""
    return Markup('<time datetime="{}">{}</time>').format(iso, shown)


def register_date_filters(bp: Blueprint) -> None:
    """The ``date`` and ``datetime`` filters, for every template the app renders."""
    bp.add_app_template_filter(date_element, "date")
    bp.add_app_template_filter(datetime_element, "datetime")
