"""A grid Save carries at most ``BATCH_MAX_ITEMS`` rows, as an API batch does.

Counted from the submitted field names (``rows-<index>-<field>``) before the form is built,
so an oversized Save costs neither the parsing into forms nor the license service.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

ROW_FIELD = re.compile(r"rows-([0-9]{1,9})-")


def submitted_row_count(field_names: Iterable[str]) -> int:
    return len({match.group(1) for name in field_names if (match := ROW_FIELD.match(name))})


def too_many_rows_message(field_names: Iterable[str], max_rows: int) -> str | None:
    """Why the Save is refused, or ``None`` if it is within the limit."""
    count = submitted_row_count(field_names)
    if count <= max_rows:
        return None
    return (
        f"This Save has {count} rows; at most {max_rows} can be saved at once. "
        "Save the grid in parts (reload it to see what is stored)."
    )
