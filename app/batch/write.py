"""The batch engine's statements: one per operation, whatever the number of items, built with
SQLAlchemy Core and the dialect's own ``insert(...).on_conflict_do_update(...)``.

A set of keys is always one bound parameter: an integer array on PostgreSQL, a JSON list on
SQLite (``key_in``, ``key_set``). The state read looks its keys up one index probe each on
PostgreSQL (``_rows_of_key_set``). Written rows are one JSON document per table on PostgreSQL
(``write_tables``), ``executemany`` on SQLite.
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
    literal_column,
    null,
    select,
    text,
    true,
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

    def kind(number: int) -> Any:
        return literal_column(str(number), Integer).label("kind")

    def branch(number: int, keyed: Table, column: str, parameter: str, value: str | None) -> Any:
        source, found, condition = _rows_of_key_set(dialect_name, keyed, column, parameter)
        if keyed is table:
            columns = [null().label(HEAD_VALUE), *found]
        else:
            head = null() if value is None else found[value]
            columns = [
                head.label(HEAD_VALUE),
                *(
                    found[column].label(c.name) if c.name == key_column else null().label(c.name)
                    for c in table.c
                ),
            ]
        statement = select(kind(number), *columns).select_from(source)
        return statement if condition is None else statement.where(condition)

    branches = []
    if with_rows:
        branches.append(branch(ROWS, table, key_column, "keys", None))
    for index, (lookup_table, lookup_column) in enumerate(lookups):
        branches.append(branch(index, lookup_table, lookup_column, f"lookup_{index}", None))
    if heads is not None:
        heads_table, heads_key, hash_column = heads
        branches.append(branch(HEADS, heads_table, heads_key, "keys", hash_column))
    if len(branches) == 1:
        return branches[0]
    return union_all(*branches)


def _rows_of_key_set(
    dialect_name: str, table: Table, column: str, parameter: str
) -> tuple[Any, Any, ColumnElement[bool] | None]:
    """The rows of ``table`` whose ``column`` is in the key set ``parameter``: (the FROM
    clause, its columns, a WHERE condition or ``None``).

    PostgreSQL: a lateral lookup per key (``unnest(:keys) CROSS JOIN LATERAL (… WHERE column
    = key OFFSET 0)``), which can only be planned as one index probe per key, so the plan does
    not depend on the table's statistics: on a freshly loaded, never analysed table a
    semi-join of a thousand keys was planned as a sequential scan. SQLite: ``key_in``.
    """
    if dialect_name != "postgresql":
        return table, table.c, key_in(table.c[column], parameter, dialect_name)
    keys = (
        func.unnest(bindparam(parameter, type_=ARRAY(Integer)))
        .table_valued("key")
        .render_derived(name=f"{parameter}_set")
    )
    probe = select(table).where(table.c[column] == keys.c.key).offset(literal_column("0"))
    found = probe.lateral(f"{parameter}_row")
    return keys.join(found, true()), found.c, None


@dataclass(frozen=True)
class TableWrite:
    """Rows for one table, all with the same columns: inserted, or upserted on ``key_column``
    (a stored row gets only its ``update_columns`` set).

    ``same_column`` guards an upsert: a stored row is only updated when it has the same value
    there (its parent), and when any row is neither inserted nor updated another writer got
    there first, and ``write_tables`` raises ``WriteRaceLost`` (the caller rolls back and plans
    again).
    """

    table: Table
    rows: Sequence[dict[str, Any]]
    key_column: str | None = None
    update_columns: tuple[str, ...] = ()
    same_column: str | None = None

    @property
    def shape(self) -> _Shape:
        columns = tuple(self.rows[0])
        return (self.table, self.key_column, self.update_columns, columns, self.same_column)


#: What a write's statement depends on: table, key, updated columns, columns, guard.
_Shape = tuple[Table, str | None, tuple[str, ...], tuple[str, ...], str | None]


def write_tables(connection: Connection, writes: Sequence[TableWrite]) -> None:
    """The writes that have rows, in order.

    PostgreSQL: one statement, one round trip: the first write is the statement and the others
    are its writable CTEs (they run on one snapshot; each writes its own table). Only the first
    may be guarded (the statement's row count is the first write's). Elsewhere: one statement
    per write.
    """
    writes = [w for w in writes if w.rows]
    if not writes:
        return
    assert all(w.same_column is None for w in writes[1:]), "only the first write is guarded"
    if connection.dialect.name == "postgresql":
        statement = _postgres_statement(tuple(w.shape for w in writes))
        parameters = {f"rows_{i}": _document(w) for i, w in enumerate(writes)}
        results = [(writes[0], connection.execute(statement, parameters))]
    else:
        results = [(w, connection.execute(_sqlite_statement(w.shape), w.rows)) for w in writes]
    for written, result in results:
        if written.same_column is not None and result.rowcount != len(written.rows):
            missing = len(written.rows) - result.rowcount
            raise WriteRaceLost(f"{missing} of {len(written.rows)} rows taken")


def _document(write: TableWrite) -> str:
    """PostgreSQL: the rows as one JSON document, in the columns of the statement's shape."""
    columns = write.shape[3]
    return orjson.dumps([{name: row[name] for name in columns} for row in write.rows]).decode()


def _rows_source(table: Table, columns: tuple[str, ...], parameter: str) -> Select[Any]:
    """PostgreSQL: ``SELECT … FROM jsonb_to_recordset(:parameter) AS r(column type, …)``.

    The rows travel as one JSON document that orjson writes and the server parses into the
    columns' types, so a thousand rows cost one parameter and nothing per row in Python or
    in the driver's parameter adaptation (executemany adapts every value of every row).
    """
    typed = [column(name, table.c[name].type) for name in columns]
    rows = func.jsonb_to_recordset(cast(bindparam(parameter, type_=Text), JSONB))
    source = rows.table_valued(*typed).render_derived(with_types=True)
    return select(*(source.c[name] for name in columns))


def _on_conflict(statement: Any, shape: _Shape) -> Any:
    table, key_column, update_columns, _, same_column = shape
    if key_column is None:
        return statement
    return statement.on_conflict_do_update(
        index_elements=[table.c[key_column]],
        set_={name: statement.excluded[name] for name in update_columns},
        where=None
        if same_column is None
        else table.c[same_column] == statement.excluded[same_column],
    )


@lru_cache(maxsize=64)
def _postgres_statement(shapes: tuple[_Shape, ...]) -> Any:
    statements = []
    for index, shape in enumerate(shapes):
        table, columns = shape[0], shape[3]
        source = _rows_source(table, columns, f"rows_{index}")
        insert_rows = postgresql.insert(table).from_select(columns, source, include_defaults=False)
        statements.append(_on_conflict(insert_rows, shape))
    first, *others = statements
    if others:
        first = first.add_cte(*(s.cte(f"write_{i}") for i, s in enumerate(others, start=1)))
    # An INSERT's row count is only kept when asked for; the guard needs it.
    return first.execution_options(preserve_rowcount=True)


@lru_cache(maxsize=64)
def _sqlite_statement(shape: _Shape) -> Any:
    return _on_conflict(sqlite.insert(shape[0]), shape).execution_options(preserve_rowcount=True)


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
