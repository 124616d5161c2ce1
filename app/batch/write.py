"""The batch engine's statements: one per operation, whatever the number of items, built with
SQLAlchemy Core and the dialect's own ``insert(...).on_conflict_do_update(...)``.

A set of keys is always one bound parameter of text: an integer array's literal on PostgreSQL
(``{1,2,3}``, cast by the server), a JSON list on SQLite (``key_in``, ``key_set``). The state
read looks its keys up one index probe each on PostgreSQL (``_rows_of_key_set``). Written rows
are one JSON document per table on PostgreSQL (``write_tables``; what every row shares is bound
once beside it), the driver's ``executemany`` on SQLite, one tuple per row
(``_execute_sqlite``).

Round trips on PostgreSQL (``app.pg_pipeline``): a batch's transaction is ``BEGIN``, the
generic-plan setting, the lock and the state read in one round trip (``read_state``), then
every write and ``COMMIT`` in another (``write_tables(commit=True)``), each statement sent as
soon as it is built.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from itertools import repeat
from typing import Any, NamedTuple

import orjson
from sqlalchemy import (
    ARRAY,
    BigInteger,
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
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from app import pg_pipeline
from app.batch.outcome import KeyTaken, ParentNotFound
from app.batch.spec import EntitySpec
from app.db_errors import is_deadlock, is_unique_violation


def key_in(column: Any, parameter: str, dialect_name: str) -> ColumnElement[bool]:
    """``column`` in the key set bound as ``parameter`` (bind it with ``key_set``).

    PostgreSQL: ``column = ANY(CAST(:parameter AS INTEGER[]))``, one probe of ``column``'s index per
    key however stale the statistics (an ``IN (SELECT unnest(…))`` subquery may become a hash
    join over the whole table). SQLite: ``column IN (SELECT value FROM json_each(…))``.
    """
    if dialect_name == "postgresql":
        return column == func.any(_integer_array(parameter))
    keys = select(literal_column("value")).select_from(
        func.json_each(bindparam(parameter, type_=String))
    )
    return column.in_(keys)


def key_set(dialect_name: str, keys: Iterable[int]) -> str:
    """The value of a ``key_in`` parameter: the distinct keys, sorted, as text. On PostgreSQL
    an array literal rather than a list, which psycopg adapts item by item, before the
    batch's first statement can leave."""
    values = sorted(set(keys))
    if dialect_name == "postgresql":
        return "{" + ",".join(map(str, values)) + "}"
    return orjson.dumps(values).decode()


def _integer_array(parameter: str) -> Any:
    """PostgreSQL: the key set bound as ``parameter`` (``key_set``'s text), as ``integer[]``."""
    return cast(bindparam(parameter, type_=Text), ARRAY(Integer))


@dataclass
class Transaction:
    """A batch's write transaction on the session's connection.

    ``owned``: the batch began it (PostgreSQL: explicitly, ``BEGIN`` sent with the first
    pipeline while ``begin_pending``) and may send ``COMMIT`` with its last write; otherwise
    it joined a transaction the caller had opened, which the session commits.
    """

    connection: Connection
    owned: bool = False
    begin_pending: bool = False


@contextmanager
def transaction(session: Session) -> Iterator[Transaction]:
    """The session's connection as a batch's ``Transaction`` (the caller has made the session's
    transaction a writer's, ``tenancy.begin_write``)."""
    connection = session.connection()
    if not pg_pipeline.is_postgresql(connection):
        yield Transaction(connection)
        return
    with pg_pipeline.explicit_transaction(connection) as must_begin:
        yield Transaction(connection, owned=must_begin, begin_pending=must_begin)


def _lock_statement(*, new_keys_exclusive: bool) -> Select[Any]:
    """PostgreSQL: the batch's two transaction-scoped advisory locks, in one statement.

    The parent's: one lock on ``(namespace, scope)``: writers of one parent (a ProviderCred's
    licenses), or of a parentless entity (scope 0), are serialised. One lock per batch, not per
    key: a lock per key made a 5,000-item batch take 5,000 entries of the server's shared lock
    table, and three such batches at once exhausted it (``out of shared memory``) on a default
    configuration. Writers under different parents that insert the same new key are caught by
    the key's primary key instead (``write_tables`` inserts new rows without ``ON CONFLICT``).

    The entity's new keys' (the single 64-bit ``namespace``, a key space apart from the
    parents'): shared by every batch, so they run side by side; exclusive for a batch planned
    again after another parent's writer took one of its new keys (``KeyTaken``), which then
    waits for the batches in flight, reads while no other batch can store a key, and cannot
    lose that race again however busy the keys are."""
    new_keys_lock = (
        func.pg_advisory_xact_lock if new_keys_exclusive else func.pg_advisory_xact_lock_shared
    )
    return select(
        func.pg_advisory_xact_lock(
            bindparam("namespace", type_=Integer), bindparam("scope", type_=Integer)
        ),
        new_keys_lock(bindparam("new_keys", type_=BigInteger)),
    )


_LOCKS = {exclusive: _lock_statement(new_keys_exclusive=exclusive) for exclusive in (False, True)}
#: PostgreSQL: the batch's statements are planned once per connection (psycopg prepares a
#: statement it has run five times), never again per execution: their plans are index
#: probes that do not depend on the values (``tests/test_batch_plans.py`` checks the generic
#: plans). Left to choose, the server kept re-planning the state read for every batch, its
#: estimate for a few keys being below the generic plan's. For this transaction only.
_GENERIC_PLANS = text("SET LOCAL plan_cache_mode = force_generic_plan")


def lock_scope_of(spec: EntitySpec, parent_key: int | None) -> int:
    """A parent without a table (a credential's provider ID, a string) scopes nothing."""
    return parent_key if spec.parent_table is not None and parent_key is not None else 0


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
    tx: Transaction,
    spec: EntitySpec,
    keys: Sequence[int],
    parent_key: int | None,
    wanted_refs: Mapping[str, set[int]],
    *,
    new_keys_exclusive: bool = False,
) -> StoredState:
    """Takes the writer's locks (PostgreSQL, ``_lock_statement``), then reads in one statement
    the stored rows of ``keys``, whether the parent exists, which of the wanted referenced keys
    exist (by reference column) and the keys' history heads (when the history is sealed); on
    PostgreSQL the locks and the read (and a pending ``BEGIN``) are one round trip. Raises
    ``ParentNotFound``."""
    connection = tx.connection
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
    dialect = connection.dialect.name
    steps: list[pg_pipeline.Step] = []
    if dialect == "postgresql":
        scope = {
            "namespace": spec.lock_namespace,
            "scope": lock_scope_of(spec, parent_key),
            "new_keys": spec.lock_namespace,
        }
        steps += [(_GENERIC_PLANS, {}), (_LOCKS[new_keys_exclusive], scope)]
    if keys or lookups:
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
        steps.append((statement, parameters))
    results = run_steps(tx, steps)
    for row in results[-1] if keys or lookups else []:
        kind, key = row["kind"], row[spec.key_column]
        if kind == ROWS:
            state.rows[key] = row
        elif kind == HEADS:
            state.heads[key] = row[HEAD_VALUE]
        else:
            found[lookups[kind][0]].add(key)
    if spec.parent_table is not None and parent_key is not None and not found["parent"]:
        raise ParentNotFound(parent_key)
    return state


def run_steps(
    tx: Transaction, steps: Iterable[pg_pipeline.Step], *, commit: bool = False
) -> list[list[dict[str, Any]]]:
    """Each step's rows, as dicts of their own. PostgreSQL: all steps in one round trip,
    with a pending ``BEGIN`` and, when ``commit`` (only in a transaction the batch owns),
    ``COMMIT``. Elsewhere one statement each (``commit`` is the session's, after)."""
    if not pg_pipeline.is_postgresql(tx.connection):
        return [_dicts(tx.connection.execute(s, p)) for s, p in steps]
    assert tx.owned or not commit, "only the transaction's owner commits"
    results = pg_pipeline.run(tx.connection, steps, begin=tx.begin_pending, commit=commit)
    tx.begin_pending = False
    return results


def _dicts(result: Any) -> list[dict[str, Any]]:
    """A result's rows as dicts of their own: fetched at once and zipped with the column
    names, half the time of ``dict`` of each ``RowMapping`` fetched one by one."""
    names = tuple(result.keys())
    return [dict(zip(names, row, strict=True)) for row in result.all()]


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
        func.unnest(_integer_array(parameter))
        .table_valued("key")
        .render_derived(name=f"{parameter}_set")
    )
    probe = select(table).where(table.c[column] == keys.c.key).offset(literal_column("0"))
    found = probe.lateral(f"{parameter}_row")
    return keys.join(found, true()), found.c, None


INSERT, UPSERT, SAVE = "insert", "upsert", "save"


@dataclass(frozen=True)
class TableWrite:
    """Rows for one table, all with the same columns, written one way (``how``):

    - ``INSERT``: new rows;
    - ``UPSERT``: inserted, or (a stored key) only ``update_columns`` set;
    - ``SAVE``: a batch's rows, planned under its parent's lock: the first ``inserted`` rows
      are new, the others stored under the same parent (``same_column``), of which only
      ``update_columns`` are set. A new row's key that a writer under another parent stored
      meanwhile raises ``KeyTaken``: on PostgreSQL the new rows are inserted without
      ``ON CONFLICT`` and the key's primary key fails the statement; on SQLite (whose writers
      are serialised, so this is a safety net) one guarded upsert must write every row.

    ``shared``: the columns that hold one value in every row (a batch's audit stamps, its
    history's activity), with that value, given once and not in ``rows``: on PostgreSQL bound
    once beside the rows' document (the server would parse it a thousand times), on SQLite
    converted once.

    ``columns``: the columns written from each row (default: the first row's keys); a row may
    hold other keys, which are not written (a batch's validated items go as they are, uncopied).
    """

    table: Table
    rows: Sequence[dict[str, Any]]
    how: str = INSERT
    key_column: str | None = None
    update_columns: tuple[str, ...] = ()
    same_column: str | None = None
    inserted: int = 0
    shared: Mapping[str, Any] = field(default_factory=dict)
    columns: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        assert self.how in (INSERT, UPSERT, SAVE), self.how
        assert (self.how == INSERT) == (self.key_column is None), "a key for UPSERT and SAVE"
        assert (self.how == SAVE) == (self.same_column is not None), "SAVE is guarded"
        if self.rows:
            assert not self.shared.keys() & set(self.written), "a shared column is given once"

    @property
    def written(self) -> tuple[str, ...]:
        """The columns written from each row."""
        return self.columns or tuple(self.rows[0])

    @property
    def shape(self) -> _Shape:
        return _Shape(
            self.table,
            self.how,
            self.key_column,
            self.update_columns,
            (*self.written, *self.shared),
            self.same_column,
            (self.inserted > 0, self.inserted < len(self.rows)),
            tuple(self.shared),
        )


class _Shape(NamedTuple):
    """What a write's statement depends on (a cache key of the compiled statements)."""

    table: Table
    how: str
    key_column: str | None
    update_columns: tuple[str, ...]
    columns: tuple[str, ...]
    same_column: str | None
    #: Whether there are (new rows, stored rows).
    parts: tuple[bool, bool]
    shared: tuple[str, ...]


def write_tables(
    tx: Transaction,
    writes: Sequence[TableWrite],
    *,
    then: Callable[[], Sequence[TableWrite]] | None = None,
    commit: bool = False,
) -> None:
    """The writes that have rows, in order, then those that ``then`` builds.

    PostgreSQL: one statement for the writes of ``writes`` and one for those of ``then``, one
    round trip in all (with ``COMMIT`` when ``commit``); in each statement the first write is
    the statement and the others its writable CTEs (on one snapshot; each writes its own rows).
    ``then`` is called once the first statement is on its way, so building the later rows (a
    batch's history, hashed row by row) overlaps the server's work on the first; it must not
    use the connection or the session (the driver is in pipeline mode). Elsewhere: one
    statement per write, ``then`` called before any of them.
    """
    sent: list[TableWrite] = []

    def later() -> list[TableWrite]:
        built = [w for w in then() if w.rows] if then is not None else []
        sent.extend(built)
        return built

    first = [w for w in writes if w.rows]
    sent.extend(first)
    connection = tx.connection
    try:
        if pg_pipeline.is_postgresql(connection):
            _write_postgres(tx, first, later, commit)
        else:
            for w in (*first, *later()):
                result = _execute_sqlite(connection, w)
                if w.how == SAVE and result.rowcount != len(w.rows):
                    missing = len(w.rows) - result.rowcount
                    raise KeyTaken(f"{missing} of {len(w.rows)} rows taken")
    except DBAPIError as error:
        # A new key stored meanwhile under another parent, or (should one happen) a deadlock
        # between writers: the engine plans again (``KeyTaken``).
        if is_unique_violation(
            error.orig, {w.table.name for w in sent if w.how == SAVE}
        ) or is_deadlock(error.orig):
            raise KeyTaken(str(error.orig)) from error
        raise


def _write_postgres(
    tx: Transaction,
    first: list[TableWrite],
    later: Callable[[], list[TableWrite]],
    commit: bool,
) -> None:
    if not first and not commit:
        # Nothing to send before building the rest, so nothing to overlap: no round trip at
        # all when the rest is empty too.
        if rest := later():
            run_steps(tx, [_postgres_step(rest)])
        return

    def steps() -> Iterator[pg_pipeline.Step]:
        # A generator: the pipeline sends each statement before asking for the next.
        if first:
            yield _postgres_step(first)
        if rest := later():
            yield _postgres_step(rest)

    run_steps(tx, steps(), commit=commit)


def _postgres_step(writes: list[TableWrite]) -> pg_pipeline.Step:
    """One statement for ``writes`` (the first, the others its CTEs) and its parameters."""
    parameters: dict[str, Any] = {}
    for i, w in enumerate(writes):
        parameters.update({_shared_parameter(f"rows_{i}", c): v for c, v in w.shared.items()})
        if w.how == SAVE:
            parameters[f"rows_{i}"] = _document(w, w.rows[: w.inserted])
            parameters[f"rows_{i}_stored"] = _document(w, w.rows[w.inserted :])
        else:
            parameters[f"rows_{i}"] = _document(w, w.rows)
    return _postgres_statement(tuple(w.shape for w in writes)), parameters


def _document(write: TableWrite, rows: Sequence[dict[str, Any]]) -> str:
    """PostgreSQL: ``rows`` as one JSON document, in the columns of the statement's shape
    that the rows do not share (those are bound once, ``_insert_from``)."""
    keys = _document_columns(write.shape)
    return orjson.dumps([{key: row[name] for key, name in keys} for row in rows]).decode()


def _document_columns(shape: _Shape) -> tuple[tuple[str, str], ...]:
    """``(key, column)`` of each column the rows have a value of their own in, keyed ``c0``,
    ``c1``, … in the document: the server parses every key of every row, and a column's name
    is often longer than its value."""
    own = (name for name in shape.columns if name not in shape.shared)
    return tuple((f"c{i}", name) for i, name in enumerate(own))


def _shared_parameter(prefix: str, column_name: str) -> str:
    """The name of the parameter that carries a shared column's one value."""
    return f"{prefix}_{column_name}"


def _rows_function(shape: _Shape, parameter: str) -> Any:
    """PostgreSQL: ``jsonb_to_recordset(:parameter) AS r(column type, …)``.

    The rows travel as one JSON document that orjson writes and the server parses into the
    columns' types, so a thousand rows cost one parameter and nothing per row in Python or
    in the driver's parameter adaptation (executemany adapts every value of every row).
    """
    table = shape.table
    typed = [column(key, table.c[name].type) for key, name in _document_columns(shape)]
    rows = func.jsonb_to_recordset(cast(bindparam(parameter, type_=Text), JSONB))
    return rows.table_valued(*typed).render_derived(with_types=True)


def _insert_from(shape: _Shape, parameter: str, shared_prefix: str, *, upsert: bool) -> Any:
    """PostgreSQL: ``INSERT … SELECT`` the JSON rows; with ``upsert``, a stored key gets its
    ``update_columns`` set (``ON CONFLICT … DO UPDATE``, under the same ``same_column`` when
    the shape has one). The arbiter is the key's unique index: no join for the planner to
    choose, whatever the statistics (an ``UPDATE … FROM`` the rows was planned as a
    sequential scan of a freshly loaded license table once its prepared plan went generic)."""
    table, columns = shape.table, shape.columns
    rows = _rows_function(shape, parameter)
    own = {name: key for key, name in _document_columns(shape)}
    source = select(
        *(
            rows.c[own[name]]
            if name in own
            else cast(bindparam(_shared_parameter(shared_prefix, name)), table.c[name].type)
            for name in columns
        )
    )
    statement = postgresql.insert(table).from_select(columns, source, include_defaults=False)
    return _on_conflict(statement, shape) if upsert else statement


def _on_conflict(statement: Any, shape: _Shape) -> Any:
    """``statement`` (either dialect's ``INSERT``) as an upsert on the shape's key: a stored
    row gets its ``update_columns`` set, under the same ``same_column`` when there is one."""
    table, key_column, same_column = shape.table, shape.key_column, shape.same_column
    assert key_column is not None
    return statement.on_conflict_do_update(
        index_elements=[table.c[key_column]],
        set_={name: statement.excluded[name] for name in shape.update_columns},
        where=None
        if same_column is None
        else table.c[same_column] == statement.excluded[same_column],
    )


def _postgres_writes(shape: _Shape, parameter: str) -> list[Any]:
    """The statements of one write: a ``SAVE`` is an ``INSERT`` of its new rows (no
    ``ON CONFLICT``: a key taken meanwhile fails it) and an upsert of its stored ones (either
    may be absent)."""
    how, (new, stored) = shape.how, shape.parts
    if how != SAVE:
        return [_insert_from(shape, parameter, parameter, upsert=how == UPSERT)]
    statements = []
    if new:
        statements.append(_insert_from(shape, parameter, parameter, upsert=False))
    if stored:
        statements.append(_insert_from(shape, f"{parameter}_stored", parameter, upsert=True))
    return statements


@lru_cache(maxsize=64)
def _postgres_statement(shapes: tuple[_Shape, ...]) -> Any:
    first, *others = (
        statement
        for i, shape in enumerate(shapes)
        for statement in _postgres_writes(shape, f"rows_{i}")
    )
    if others:
        first = first.add_cte(*(s.cte(f"write_{i}") for i, s in enumerate(others, start=1)))
    return first


def _execute_sqlite(connection: Connection, write: TableWrite) -> Any:
    """SQLite: the write's Core statement, compiled once per shape, run by the driver's
    ``executemany`` (``Connection.exec_driver_sql``: cursor events and error handling as for
    any statement) on rows whose values are already as the columns store them.

    Why not ``connection.execute(statement, rows)``: SQLAlchemy then builds and processes
    every row's parameters one at a time, which took longer than SQLite's own writing of a
    1,000-row batch (docs/performance.md). Here each column's own bind processor (the type
    SQLAlchemy would apply, so stored values are the same bytes) runs once per distinct value
    of the batch: a batch repeats its dates, and every audit stamp is the same instant.
    """
    shape, shared, count = write.shape, write.shared, len(write.rows)
    sql, processors = _sqlite_driver_statement(shape, connection.dialect)

    def stored_column(name: str, process: Callable[[Any], Any] | None) -> Iterable[Any]:
        if name in shared:  # one value for every row, converted once
            value = shared[name]
            return repeat(value if process is None else process(value), count)
        values = [row[name] for row in write.rows]
        return values if process is None else _stored_values(values, process)

    stored = map(stored_column, shape.columns, processors)
    rows = list(zip(*stored, strict=True))
    return connection.exec_driver_sql(sql, rows, execution_options={"preserve_rowcount": True})


def _stored_values(values: list[Any], process: Callable[[Any], Any]) -> list[Any]:
    """``values`` as ``process`` stores them: a column of naive date-times (and nulls)
    converted once per distinct value; other values (a JSON document, an aware date-time
    equal to one in another zone) one by one."""
    if all(v is None or (type(v) is datetime and v.tzinfo is None) for v in values):
        stored = {value: process(value) for value in set(values)}
        return [stored[value] for value in values]
    return [process(value) for value in values]


#: SQLite's named parameters (``:column``): what the compiled statement is read back from.
_NAMED_SQLITE = sqlite.dialect(paramstyle="named")
_NAMED_PARAMETER = re.compile(r":(\w+)")


@lru_cache(maxsize=64)
def _sqlite_driver_statement(
    shape: _Shape, dialect: Any
) -> tuple[str, tuple[Callable[[Any], Any] | None, ...]]:
    """The shape's statement as SQL text with SQLite's numbered parameters, ``?N`` for the
    shape's N-th column, so the driver's rows are tuples in the shape's column order; and each
    column's bind processor for ``dialect`` (the connection's), ``None`` where it has none.

    Numbered, not named: the driver binds a tuple by position but looks a name up in a dict
    per parameter per row, a large share of a big batch's write (docs/performance.md). The
    statement is compiled with named parameters and each ``:column`` replaced by its number.
    """
    table, columns = shape.table, shape.columns
    statement = sqlite.insert(table)
    if shape.how != INSERT:
        statement = _on_conflict(statement, shape)
    compiled = statement.compile(dialect=_NAMED_SQLITE, column_keys=list(columns))
    # A column the rows lack but SQLAlchemy would fill (a Python-side default) would be a
    # parameter the driver rows cannot supply: every writer passes every column it writes.
    assert set(compiled.params) == set(columns), sorted(set(compiled.params) ^ set(columns))
    number = {name: f"?{place}" for place, name in enumerate(columns, start=1)}
    sql, replaced = _NAMED_PARAMETER.subn(lambda m: number[m.group(1)], str(compiled))
    assert replaced == len(columns), sql
    processors = tuple(
        table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in columns
    )
    return sql, processors


def delete_keys(tx: Transaction, spec: EntitySpec, keys: Iterable[int]) -> None:
    assert not tx.begin_pending, "the transaction's first statement is the state read"
    connection = tx.connection
    dialect = connection.dialect.name
    statement = _delete_statement(dialect, spec.table, spec.key_column)
    connection.execute(statement, {"keys": key_set(dialect, keys)})


@lru_cache(maxsize=64)
def _delete_statement(dialect_name: str, table: Table, key_column: str) -> Any:
    return delete(table).where(key_in(table.c[key_column], "keys", dialect_name))


def keys_in_use(tx: Transaction, spec: EntitySpec, keys: Sequence[int]) -> dict[int, str]:
    """The keys some dependent row still points at, with that dependent's label."""
    assert not tx.begin_pending, "the transaction's first statement is the state read"
    in_use: dict[int, str] = {}
    if not keys:
        return in_use
    connection = tx.connection
    dialect = connection.dialect.name
    for dependent in spec.dependents:
        column = dependent.column_of(spec.table)
        statement = select(column).distinct().where(key_in(column, "keys", dialect))
        for (key,) in connection.execute(statement, {"keys": key_set(dialect, keys)}):
            in_use.setdefault(key, dependent.label)
    return in_use
