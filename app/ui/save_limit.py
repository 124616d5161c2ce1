"""A grid Save sends at most ``BATCH_MAX_ITEMS`` rows, as an API batch does.

The browser posts every row of the grid, but Save only acts on the rows a person filled in,
changed or ticked for deletion (``SubmittedRow.sent``): only those count. What is posted is
bounded too, counted from the field names (``rows-<index>-<field>``) before the form is built,
so that a form of many tiny rows costs neither the parsing into forms nor the license service:
at most the rows a Save may send, plus a page of the grid and its blank rows.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

ROW_FIELD = re.compile(r"rows-([0-9]{1,9})-")


def submitted_row_count(field_names: Iterable[str]) -> int:
    return len({match.group(1) for name in field_names if (match := ROW_FIELD.match(name))})


def too_many_posted_rows_message(field_names: Iterable[str], max_posted: int) -> str | None:
    """Why the form is refused before it is read, or ``None`` if it is within the bound."""
    count = submitted_row_count(field_names)
    if count <= max_posted:
        return None
    return (
        f"This Save posted {count} rows; a grid can post at most {max_posted}. "
        "Reload the grid and save it in parts."
    )


def too_many_rows_message(sent: int, max_rows: int) -> str | None:
    """Why the Save is refused, or ``None`` if the rows it sends are within the limit."""
    if sent <= max_rows:
        return None
    return (
        f"This Save has {sent} rows; at most {max_rows} can be saved at once. "
        "Save the grid in parts (reload it to see what is stored)."
    )
