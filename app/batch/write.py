"""The batch engine's statements: one per operation, whatever the number of items, built with
SQLAlchemy Core and the dialect's own ``insert(...).on_conflict_do_update(...)``.

A set of keys is always one bound parameter (``key_in``): an integer array on PostgreSQL
(``IN (SELECT unnest(:keys))``, a semi-join whose plan does not depend on how many keys there
are), a JSON list on SQLite (``IN (SELECT value FROM json_each(:keys))``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import orjson
from sqlalchemy import (
    ARRAY,
    ColumnElement,
    CompoundSelect,
    Integer,
    Select,
    String,
    Table,
    Text,
    bindparam,
    cast,
    column,
    delete,
    func,
    insert,
    literal_column,
    null,
    select,
    text,
    union_all,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Connection

from app.batch.outcome import ParentNotFound, WriteRaceLost
from app.batch.spec import EntitySpec


def key_in(column: Any, parameter: str, dialect_name: str) -> ColumnElement[bool]:
    """``column IN (the key set bound as parameter)``; bind it with ``key_set``."""
    if dialect_name == "postgresql":
        keys = select(func.unnest(bindparam(parameter, type_=ARRAY(Integer))))
    else:
        keys = select(literal_column("value")).select_from(
            func.json_each(bindparam(parameter, type_=String))
        )
    return column.in_(keys)


def key_set(dialect_name: str, keys: Iterable[int]) -> Any:
    """The value of a ``key_in`` parameter: the distinct keys, sorted."""
    values = sorted(set(keys))
    return values if dialect_name == "postgresql" else orjson.dumps(values).decode()


def lock_scope(connection: Connection, namespace: int, scope: int) -> None:
    """PostgreSQL: one transaction-scoped advisory lock on ``(namespace, scope)``: writers of
    one parent (a ProviderCred's licenses), or of a parentless entity (scope 0), are
    serialised. One lock per batch, not per key: a lock per key made a 5,000-item batch take
    5,000 entries of the server's shared lock table, and three such batches at once exhausted
    it (``out of shared memory``) on a default configuration. Writers under different parents
    that touch the same key are caught by the guarded upsert instead (``upsert``)."""
    if connection.dialect.name != "postgresql":
        return
    connection.execute(
        text("SELECT pg_advisory_xact_lock(:namespace, :scope)"),
        {"namespace": namespace, "scope": scope},
    )


@dataclass(frozen=True)
class StoredState:
    """What one state read found: the stored rows by key, the referenced keys that exist (by
    reference column) and, for a sealed history, the newest hash of each key that has one."""

    rows: dict[int, dict[str, Any]]
    found: dict[str, set[int]]
    heads: dict[int, str]


#: The ``kind`` of the rows' branch and of the history heads' branch (lookups count from 0).
ROWS, HEADS = -1, -2
#: The column every branch has beside the entity's: a head's hash, else NULL.
HEAD_VALUE = "chain_head"


def read_state(
    connection: Connection,
    spec: EntitySpec,
    keys: Sequence[int],
    parent_key: int | None,
    wanted_refs: Mapping[str, set[int]],
) -> StoredState:
    """One statement: the stored rows of ``keys``, whether the parent exists, which of the
    wanted referenced keys exist (by reference column) and the keys' history heads (when the
    history is sealed). Raises ``ParentNotFound``."""
    lookups: list[tuple[str, Table, str, Iterable[int]]] = []
    if spec.parent_table is not None and parent_key is not None:
        lookups.append(("parent", spec.parent_table, spec.parent_key_column or "", [parent_key]))
    for ref in spec.references:
        if ref.column in wanted_refs:
            lookups.append((ref.column, ref.table, ref.key_column, wanted_refs[ref.column]))
    history = spec.history
    heads_table = history.heads if history is not None and history.seal is not None else None
    found: dict[str, set[int]] = {kind: set() for kind, *_ in lookups}
    state = StoredState(rows={}, found=found, heads={})
    if keys or lookups:
        dialect = connection.dialect.name
        statement = _state_statement(
            dialect,
            spec.table,
            spec.key_column,
            bool(keys),
            tuple((t, c) for _, t, c, _ in lookups),
            (heads_table, history.key_column, history.hash_column)
            if keys and heads_table is not None and history is not None
            else None,
        )
        parameters = {f"lookup_{i}": key_set(dialect, k) for i, (*_, k) in enumerate(lookups)}
        if keys:
            parameters["keys"] = key_set(dialect, keys)
        for row in connection.execute(statement, parameters).mappings():
            kind, key = row["kind"], row[spec.key_column]
            if kind == ROWS:
                state.rows[key] = dict(row)
            elif kind == HEADS:
                state.heads[key] = row[HEAD_VALUE]
            else:
                found[lookups[kind][0]].add(key)
    if spec.parent_table is not None and parent_key is not None and not found["parent"]:
        raise ParentNotFound(parent_key)
    return state


@lru_cache(maxsize=64)
def _state_statement(
    dialect_name: str,
    table: Table,
    key_column: str,
    with_rows: bool,
    lookups: tuple[tuple[Table, str], ...],
    heads: tuple[Table, str, str] | None,
) -> Select[Any] | CompoundSelect[Any]:
    """``UNION ALL`` of the rows' branch (kind ``ROWS``), one branch per lookup (kind ``i``)
    and the heads' branch (kind ``HEADS``). Lookups and heads put their key where the rows have
    theirs (keys are integers on every side); a head's hash goes in ``HEAD_VALUE``."""

    def keyed(key: Any, value: Any = None) -> list[Any]:
        head = (null() if value is None else value).label(HEAD_VALUE)
        return [
            head,
            *(key.label(c.name) if c.name == key_column else null().label(c.name) for c in table.c),
        ]

    def kind(number: int) -> Any:
        return literal_column(str(number), Integer).label("kind")

    branches = []
    if with_rows:
        branches.append(
            select(kind(ROWS), null().label(HEAD_VALUE), *table.c).where(
                key_in(table.c[key_column], "keys", dialect_name)
            )
        )
    for index, (lookup_table, lookup_column) in enumerate(lookups):
        key = lookup_table.c[lookup_column]
        branches.append(
            select(kind(index), *keyed(key)).where(key_in(key, f"lookup_{index}", dialect_name))
        )
    if heads is not None:
        heads_table, heads_key, hash_column = heads
        key = heads_table.c[heads_key]
        branches.append(
            select(kind(HEADS), *keyed(key, heads_table.c[hash_column])).where(
                key_in(key, "keys", dialect_name)
            )
        )
    if len(branches) == 1:
        return branches[0]
    return union_all(*branches)


def upsert(
    connection: Connection,
    table: Table,
    key_column: str,
    update_columns: Sequence[str],
    rows: Sequence[dict[str, Any]],
    *,
    same_column: str | None = None,
) -> None:
    """Insert ``rows`` (all with the same columns); a row whose key exists gets only its
    ``update_columns`` set.

    ``same_column``: a stored row is only updated when it has the same value there (its
    parent); when any row is neither inserted nor updated, another writer got there first and
    ``WriteRaceLost`` is raised (the caller rolls back and plans again).
    """
    if rows:
        dialect, columns = connection.dialect.name, tuple(rows[0])
        statement = _upsert_statement(
            dialect, table, key_column, tuple(update_columns), columns, same_column
        )
        result = connection.execute(statement, _parameters(dialect, columns, rows))
        if same_column is not None and result.rowcount != len(rows):
            raise WriteRaceLost(f"{len(rows) - result.rowcount} of {len(rows)} rows taken")


def insert_rows(connection: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert ``rows`` (all with the same columns)."""
    if rows:
        dialect, columns = connection.dialect.name, tuple(rows[0])
        statement = _insert_statement(dialect, table, columns)
        connection.execute(statement, _parameters(dialect, columns, rows))


def _parameters(dialect_name: str, columns: tuple[str, ...], rows: Sequence[dict[str, Any]]) -> Any:
    """PostgreSQL: the rows as one JSON document (``_rows_source``); elsewhere the rows,
    executed as many (SQLite's ``executemany`` is already one call into the library)."""
    if dialect_name == "postgresql":
        document = orjson.dumps([{name: row[name] for name in columns} for row in rows])
        return {"rows": document.decode()}
    return rows


def _rows_source(table: Table, columns: tuple[str, ...]) -> Select[Any]:
    """PostgreSQL: ``SELECT … FROM jsonb_to_recordset(:rows) AS r(column type, …)``.

    The rows travel as one JSON document that orjson writes and the server parses into the
    columns' types, so a thousand rows cost one parameter and nothing per row in Python or
    in the driver's parameter adaptation (executemany adapts every value of every row).
    """
    typed = [column(name, table.c[name].type) for name in columns]
    rows = func.jsonb_to_recordset(cast(bindparam("rows", type_=Text), JSONB))
    source = rows.table_valued(*typed).render_derived(with_types=True)
    return select(*(source.c[name] for name in columns))


@lru_cache(maxsize=64)
def _upsert_statement(
    dialect_name: str,
    table: Table,
    key_column: str,
    update_columns: tuple[str, ...],
    columns: tuple[str, ...],
    same_column: str | None,
) -> Any:
    if dialect_name == "postgresql":
        statement: Any = postgresql.insert(table).from_select(columns, _rows_source(table, columns))
    else:
        statement = sqlite.insert(table)
    return statement.on_conflict_do_update(
        index_elements=[table.c[key_column]],
        set_={name: statement.excluded[name] for name in update_columns},
        where=None
        if same_column is None
        else table.c[same_column] == statement.excluded[same_column],
    ).execution_options(preserve_rowcount=True)  # an INSERT's rowcount is kept only if asked


@lru_cache(maxsize=64)
def _insert_statement(dialect_name: str, table: Table, columns: tuple[str, ...]) -> Any:
    if dialect_name == "postgresql":
        return insert(table).from_select(columns, _rows_source(table, columns))
    return insert(table)


def delete_keys(connection: Connection, spec: EntitySpec, keys: Iterable[int]) -> None:
    dialect = connection.dialect.name
    statement = _delete_statement(dialect, spec.table, spec.key_column)
    connection.execute(statement, {"keys": key_set(dialect, keys)})


@lru_cache(maxsize=64)
def _delete_statement(dialect_name: str, table: Table, key_column: str) -> Any:
    return delete(table).where(key_in(table.c[key_column], "keys", dialect_name))


def keys_in_use(connection: Connection, spec: EntitySpec, keys: Sequence[int]) -> dict[int, str]:
    """The keys some dependent row still points at, with that dependent's label."""
    in_use: dict[int, str] = {}
    if not keys:
        return in_use
    dialect = connection.dialect.name
    for dependent in spec.dependents:
        column = dependent.column_of(spec.table)
        statement = select(column).distinct().where(key_in(column, "keys", dialect))
        for (key,) in connection.execute(statement, {"keys": key_set(dialect, keys)}):
            in_use.setdefault(key, dependent.label)
    return in_use
