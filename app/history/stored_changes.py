"""A history row's ``changes`` as stored, whatever was made of it by hand: the one reader of
them, for every view of the history and for its checks.

The license service writes an object ``{field: [old, new]}`` of nulls, strings and integers.
A row edited in ``psql`` or ``sqlite3`` can hold any JSON (``jsonb``: a list, a number, a
string, null, pairs of three, objects for values, a number no double holds) and, in SQLite's
text column, text that is not JSON at all. Read through here, no such row fails its reader:
the history API and page show what is stored, and the integrity review and ``verify-history``
report it as altered (it no longer matches its hash).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import ColumnElement, Dialect, LargeBinary, Text, TypeDecorator, cast

from app.history.models import LicenseChange


class _BytesAsText(TypeDecorator[str]):
    """SQLite's stored text read as its bytes, then decoded as UTF-8 with any byte that is not
    UTF-8 spelled ``\\xff``: text edited in ``sqlite3`` can hold such bytes, on which Python's
    driver fails the whole read ("Could not decode to UTF-8"). The ``\\x`` escape is not JSON,
    so such changes never parse: they read as text in no expected shape, and fail their hash."""

    impl = LargeBinary
    cache_ok = True

    def process_result_value(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else decode_stored(value)


def decode_stored(value: bytes) -> str:
    """SQLite's stored bytes as text, a byte that is not UTF-8 spelled ``\\xff``."""
    return bytes(value).decode("utf-8", "backslashreplace")


#: PostgreSQL's ``jsonb`` is UTF-8 JSON: its text form needs no care.
_STORED_TEXT = Text().with_variant(_BytesAsText(), "sqlite")


def changes_text() -> ColumnElement[str]:
    """The ``changes`` column as the database spells it: SQLite's stored text, ``jsonb`` in
    PostgreSQL's text form. Read as text, not through the column's type: text that is not JSON
    still arrives, and psycopg parses ``jsonb`` with the standard library's ``json``, several
    times slower than orjson (a third of a month's integrity review at a million licenses)."""
    return cast(LicenseChange.changes, _STORED_TEXT).label("changes")


def parse_changes(text: str | None) -> Any:
    """``text`` parsed as JSON. Text that does not parse (edited by hand: not JSON, a number
    no double holds) stays text, so a check can still compare it; SQL NULL stays ``None``."""
    if text is None:
        return None
    with contextlib.suppress(orjson.JSONDecodeError):
        return orjson.loads(text)
    return text


#: The types of the values the service writes in a pair, exactly (``bool`` is an ``int``).
#: Looked up, not tested by a call: the integrity review reads every pair of its range.
_WRITTEN_TYPES = frozenset({type(None), str, int})


def field_pairs(changes: Any) -> dict[str, list[Any]]:
    """The entries of parsed ``changes`` that are ``[old, new]`` pairs of values the service
    writes (null, a string, an integer); none when ``changes`` is not an object."""
    if not isinstance(changes, dict):
        return {}
    return {
        name: pair
        for name, pair in changes.items()
        if type(pair) is list
        and len(pair) == 2
        and type(pair[0]) in _WRITTEN_TYPES
        and type(pair[1]) in _WRITTEN_TYPES
    }


@dataclass(frozen=True)
class StoredChanges:
    """What a history view shows of a row's changes."""

    #: its ``[old, new]`` pairs (all of it, when ``expected_shape``)
    fields: dict[str, list[Any]]
    #: an object of such pairs and nothing else, as the service writes it
    expected_shape: bool
    #: as stored (``changes_text``); ``None`` only for SQL NULL
    text: str | None


def read_changes(text: str | None) -> StoredChanges:
    """The changes of a row read as ``changes_text``, in whatever shape they are stored."""
    changes = parse_changes(text)
    fields = field_pairs(changes)
    expected = isinstance(changes, dict) and len(fields) == len(changes)
    return StoredChanges(fields, expected, text)
