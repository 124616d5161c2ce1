"""A license's history rows as stored, a page at a time: the one query behind the history API
(``app.licenses.history``) and the staff history page (``app.ui.history``).

A license's history only grows, so it is read a page at a time, along its (license, id)
index: ids are the order its changes were written in (each under the license's lock), which
their times, taken from the writers' clocks, are not always. The time and the changes are read
as stored (``time_as_stored``, ``changes_text``): a row edited by hand is shown, never a failure.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Row, func, select
from sqlalchemy.orm import Session

from app.history.models import LicenseChange
from app.history.stored_changes import changes_text
from app.history.stored_time import time_as_stored


def history_count(session: Session, license_key: int, provider_cred_key: int | None = None) -> int:
    """How many changes the license has (under ``provider_cred_key``, when given)."""
    statement = select(func.count()).select_from(LicenseChange)
    return session.scalar(statement.where(*_which(license_key, provider_cred_key))) or 0


def stored_history(
    session: Session,
    license_key: int,
    *,
    page: int,
    size: int,
    provider_cred_key: int | None = None,
    oldest_first: bool = False,
) -> list[Row[Any]]:
    """Page ``page`` (from 1) of the license's changes, newest first unless ``oldest_first``
    (also once it is deleted: the history has no foreign key): ``activity_id``, ``at`` (a
    ``StoredTime``), ``user``, ``action``, ``provider_cred_key`` and ``changes`` (its stored
    text)."""
    change = LicenseChange
    return list(
        session.execute(
            select(
                change.activity_id,
                time_as_stored(change.at).label("at"),
                change.user,
                change.action,
                change.provider_cred_key,
                changes_text(),
            )
            .where(*_which(license_key, provider_cred_key))
            .order_by(change.id.asc() if oldest_first else change.id.desc())
            .limit(size)
            .offset((page - 1) * size)
        )
    )


def _which(license_key: int, provider_cred_key: int | None) -> list[ColumnElement[bool]]:
    which = [LicenseChange.provider_cred_license_key == license_key]
    if provider_cred_key is not None:
        which.append(LicenseChange.provider_cred_key == provider_cred_key)
    return which
