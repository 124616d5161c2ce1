from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import DateTime, Dialect, Index, Integer, String, Text, TypeDecorator
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db

FieldChanges = dict[str, list[Any]]


class JsonObject(TypeDecorator[FieldChanges]):
    """A JSON object kept as text: the same column type and bytes on SQLite and PostgreSQL.

    Serialised with orjson: a batch writes one per changed license, and the stdlib's ``json``
    was a visible share of a large batch's time. Key order is kept, so fields read back in the
    order written.
    """

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: FieldChanges | None, dialect: Dialect) -> str | None:
        return None if value is None else orjson.dumps(value).decode()

    def process_result_value(self, value: str | None, dialect: Dialect) -> FieldChanges | None:
        return None if value is None else orjson.loads(value)


class LicenseChange(db.Model):
    """One change to one license: who, when, in which activity, and ``{field: [old, new]}``
    for every field it set or changed (values as the API writes them).

    One row per change, the shape of the history API's entries: a batch writes one row per
    written license. One row per field had made history most of a batch's database time.
    Deliberately without a foreign key to the license: history outlives a deleted license.
    A change that touches no field (a delete of an all-null row) is a row with ``{}``.
    Indexed by license only: every reader asks for one license's changes, and each index is
    one more page a batch's commit writes.
    """

    __tablename__ = "license_change"
    __table_args__ = (Index("ix_license_change_license_at", "provider_cred_license_key", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    provider_cred_license_key: Mapped[int] = mapped_column(Integer)
    provider_cred_key: Mapped[int] = mapped_column(Integer)
    activity_id: Mapped[str] = mapped_column(String(36))
    at: Mapped[datetime] = mapped_column(DateTime)
    user: Mapped[str | None] = mapped_column(String(20))
    action: Mapped[str] = mapped_column(String(10))
    changes: Mapped[FieldChanges] = mapped_column(JsonObject)
    #: ``app.history.chain``: over this row's content and the license's previous row's hash.
    row_hash: Mapped[str | None] = mapped_column(String(64))


class LicenseHistoryHead(db.Model):
    """The newest history hash of each license (``app.history.chain``), kept outside the
    history table so deleting a license's newest rows is found. Keyed by license key without
    a foreign key, like the history: a deleted license keeps its history and its head.
    Written by the same batch as the history rows, under the same per-license locks."""

    __tablename__ = "license_history_head"

    provider_cred_license_key: Mapped[int] = mapped_column(
        Integer, primary_key=True, autoincrement=False
    )
    row_hash: Mapped[str] = mapped_column(String(64))
