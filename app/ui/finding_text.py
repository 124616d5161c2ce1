"""The integrity review's "What" for a person: the finding's detail with each date it quotes
shown as the license's history page shows that date (``MM/DD/YYYY``, with the time of day
when it has one), in ``<time>`` with the ISO value. The CSV download and ``integrity-report``
write the detail itself, dates as stored (ISO), for the files and scripts that read them."""

from __future__ import annotations

from markupsafe import Markup, escape

from app.integrity.rules import Finding
from app.ui.date_cells import format_date_cell
from app.ui.shown_dates import time_element
from app.wire.fields import format_wire_datetime, parse_wire_datetime


def finding_detail(finding: Finding) -> Markup:
    """The ``finding_detail`` filter. A quoted value that does not read as a date-time, or
    holds a fraction of a second (a history row edited by hand), is shown as stored, as is a
    detail quoting no value."""
    if not finding.parts:
        return escape(finding.detail)
    shown = Markup()
    for index, part in enumerate(finding.parts):
        value = parse_wire_datetime(part) if index % 2 else None
        if value is None or value.microsecond:  # a fraction of a second: a cell shows none
            shown += escape(part)
            continue
        midnight = (value.hour, value.minute, value.second) == (0, 0, 0)
        iso = value.date().isoformat() if midnight else format_wire_datetime(value)
        shown += time_element(iso, format_date_cell(value))
    return shown
