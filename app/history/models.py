from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import (
    BigInteger,
    DateTime,
    Dialect,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import TypeEngine, UserDefinedType

from app.extensions import db

FieldChanges = dict[str, list[Any]]


class JsonbText(UserDefinedType[str]):
    """PostgreSQL's ``jsonb``, written as JSON text (psycopg sends a ``str`` untyped, and the
    server parses it into the column's type); read back already parsed by psycopg."""

    cache_ok = True

    def get_col_spec(self, **kw: Any) -> str:
        return "JSONB"


class JsonObject(TypeDecorator[FieldChanges]):
    """A JSON object: ``jsonb`` on PostgreSQL (queryable, compact, checked on write), JSON text
    on SQLite. The same Python values and the same statements on both.

    Serialised with orjson: a batch writes one per changed license, and the stdlib's ``json``
    was a visible share of a large batch's time. Text keeps key order; ``jsonb`` stores keys in
    its own order (shorter keys first), so readers must not rely on it there.
    The history's readers read the column as text instead (``app.history.stored_changes``):
    a row edited by hand can hold any JSON, or on SQLite any text, which this type fails on.
    """

    impl = Text
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(JsonbText())
        return dialect.type_descriptor(Text())

    def process_bind_param(self, value: FieldChanges | None, dialect: Dialect) -> str | None:
        return None if value is None else orjson.dumps(value).decode()

    def process_result_value(
        self, value: str | FieldChanges | None, dialect: Dialect
    ) -> FieldChanges | None:
        if value is None or isinstance(value, dict):
            return value
        return orjson.loads(value)


class LicenseChange(db.Model):
    """One change to one license: who, when, in which activity, and ``{field: [old, new]}``
    for every field it set or changed (values as the API writes them).

    One row per change, the shape of the history API's entries: a batch writes one row per
    written license. One row per field had made history most of a batch's database time.
    Deliberately without a foreign key to the license: history outlives a deleted license.
    A change that touches no field (a delete of an all-null row) is a row with ``{}``.
    Indexed by license and id, which is the chain's order (the history of one license, a
    row's neighbours in its chain, which the integrity review reads for each row of its range),
    and by time (the review's date range); each index is one more page a batch's commit writes.
    """

    __tablename__ = "license_change"
    __table_args__ = (
        Index("ix_license_change_license_id", "provider_cred_license_key", "id"),
        Index("ix_license_change_at", "at"),
    )

    #: 64-bit: the history only grows. SQLite's rowid already is (and only ``INTEGER``
    #: spelled so is the rowid).
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True
    )
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
