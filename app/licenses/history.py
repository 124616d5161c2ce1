"""A license's history as the API answers it: its changes, newest first, in wire order."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row
from sqlalchemy.orm import Session

from app.history.pages import history_count, stored_history
from app.history.service import LICENSE_CHANGE_SCHEMA
from app.history.stored_changes import read_changes
from app.history.stored_time import day_named
from app.licenses.schemas import WRITABLE_FIELDS


@dataclass(frozen=True)
class HistoryPage:
    entries: list[dict[str, Any]]
    #: the license's changes in all (the page holds at most the page size of them)
    total: int


def license_history(
    session: Session,
    provider_cred_key: int,
    license_key: int,
    *,
    page: int = 1,
    size: int = 100,
    oldest_first: bool = False,
) -> HistoryPage:
    """Page ``page`` (from 1) of the changes of one license under one ProviderCred, newest
    first unless ``oldest_first`` (also once deleted; ``app.history.pages``)."""
    total = history_count(session, license_key, provider_cred_key)
    rows = stored_history(
        session,
        license_key,
        page=page,
        size=size,
        provider_cred_key=provider_cred_key,
        oldest_first=oldest_first,
    )
    return HistoryPage(LICENSE_CHANGE_SCHEMA.dump(map(_record, rows), many=True), total)


def _record(row: Row[Any]) -> dict[str, Any]:
    """A stored change as the schema dumps it. Changes edited by hand out of the service's
    shape (``read_changes``) are answered as-is in ``stored_changes`` beside the pairs that
    can still be read, so a client typed on the documented shape still reads the page. So
    is a time that does not read as one (``time_as_stored``), in ``stored_at``: ``at`` is then
    the start of the day it still names, or the calendar's first instant."""
    stored = read_changes(row.changes)
    record = row._asdict()
    if isinstance(row.at, str):
        record["at"], record["stored_at"] = day_named(row.at) or datetime.min, row.at
    # jsonb keeps keys in its own order: answer in wire order
    record["changes"] = dict(sorted(stored.fields.items(), key=_wire_position))
    if not stored.expected_shape:
        record["stored_changes"] = stored.text
    return record


#: Each client field's place in the wire order (the key first); other names after them.
_WIRE_ORDER = {name: place for place, name in enumerate(WRITABLE_FIELDS.values())}


def _wire_position(item: tuple[str, Any]) -> int:
    return _WIRE_ORDER.get(item[0], len(_WIRE_ORDER))
