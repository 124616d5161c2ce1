"""A column that SQLite's planner must not read through its index: ``+column`` on SQLite (the
unary plus SQLite documents for this), the column itself elsewhere.

An expiry page asked in one date's order but of a bucket of the other date (the PSV bucket
soonest term first, an expired list oldest PSV first) has two ways to be read: the bucket's
own index range, every row of it then sorted to give one page, or the order's index walked
from the near end, each entry checked against the bucket until the page is full. SQLite,
without statistics, takes the first: the whole bucket (a tenth of the licenses) sorted with
its rows for every page. Its date indexes carry the other date (``SQLITE_*_INDEX`` in
``app/licenses/models.py``), so the walk reads index entries alone and stops at the page;
hiding the bucket's column from the planner leaves it that walk. PostgreSQL plans with its
statistics and gets the same SQL as before.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement


class Unindexed(FunctionElement[Any]):
    """``column``, of its type (so values compared with it are bound as the column's)."""

    inherit_cache = True

    def __init__(self, column: ColumnElement[Any]) -> None:
        super().__init__(column)
        self.type = column.type


@compiles(Unindexed)
def _column(element: Unindexed, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.clauses, **kw)


@compiles(Unindexed, "sqlite")
def _unary_plus(element: Unindexed, compiler: SQLCompiler, **kw: Any) -> str:
    return "+" + compiler.process(element.clauses, **kw)
