"""How an entity is described to the batch engine: its table, key, parent, references,
dependents and history, and the schema that decides what a valid item is."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from marshmallow import Schema
from sqlalchemy import Table

from app.wire.validation import FieldErrors, load_item

Validator = Callable[[Any], tuple[dict[str, Any] | None, FieldErrors]]


@dataclass(frozen=True)
class Reference:
    """A column whose non-null values must exist as keys of another table."""

    column: str
    field: str
    table: Table
    key_column: str
    label: str


@dataclass(frozen=True)
class Dependent:
    """A table whose rows point at this entity; such rows block a delete.

    Named, not imported: the dependent's package depends on this entity's, not the reverse;
    the table is looked up in the entity table's metadata when a delete needs it.
    """

    table_name: str
    column: str
    label: str

    def column_of(self, entity_table: Table) -> Any:
        return entity_table.metadata.tables[self.table_name].c[self.column]


#: Sets each history row's hash and returns each key's new newest hash, given the stored
#: newest hashes of the rows' keys and the values every row shares, which the rows lack
#: (``app.history.chain.seal``).
Sealer = Callable[[Sequence[dict[str, Any]], Mapping[int, str], Mapping[str, Any]], dict[int, str]]


@dataclass(frozen=True)
class HistorySpec:
    table: Table
    key_column: str
    parent_column: str
    #: Tamper evidence (optional): a table of each key's newest hash (its key column named like
    #: the history's, its hash in ``hash_column``, as in the history), and the sealer.
    heads: Table | None = None
    seal: Sealer | None = None
    hash_column: str = "row_hash"


@dataclass(frozen=True)
class EntitySpec:
    """Everything the engine needs to know about one client-keyed entity."""

    label: str
    table: Table
    key_column: str
    key_field: str
    schema: Schema
    lock_namespace: int
    parent_column: str | None = None
    parent_field: str | None = None
    parent_path_name: str | None = None
    parent_label: str | None = None
    parent_table: Table | None = None
    parent_key_column: str | None = None
    references: tuple[Reference, ...] = ()
    dependents: tuple[Dependent, ...] = ()
    history: HistorySpec | None = None
    validator: Validator | None = None
    #: attribute → JSON name of every client-written field, in wire order (the key included).
    fields: dict[str, str] = field(default_factory=dict)

    def validate(self, raw: Any) -> tuple[dict[str, Any] | None, FieldErrors]:
        if self.validator is not None:
            return self.validator(raw)
        return load_item(self.schema, raw)

    @cached_property
    def data_fields(self) -> dict[str, str]:
        """The compared and written fields: all client fields but the key."""
        return {a: j for a, j in self.fields.items() if a != self.key_column}

    @cached_property
    def data_field_pairs(self) -> tuple[tuple[str, str], ...]:
        """``data_fields`` as (attribute, JSON name) pairs, for the per-item loops."""
        return tuple(self.data_fields.items())

    @cached_property
    def field_pairs(self) -> tuple[tuple[str, str], ...]:
        """Every client field (the key first) as (attribute, JSON name) pairs."""
        key = (self.key_column, self.fields.get(self.key_column, self.key_field))
        return (key, *self.data_field_pairs)
