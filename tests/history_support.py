"""History rows whose ``changes`` were edited by hand into shapes the license service never
writes, for the tests of every reader of the history (the API, the staff page)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

#: What someone stored by hand → the ``[old, new]`` pairs that can still be read from it.
HAND_EDITED_CHANGES: dict[str, tuple[str | bytes, dict[str, list[Any]]]] = {
    "a list": ("[1]", {}),
    "a number": ("5", {}),
    "a string": ('"state: CA"', {}),
    "a string holding an object's text": ('"{\\"state\\": [\\"CA\\", \\"NY\\"]}"', {}),
    "null": ("null", {}),
    "values not all pairs": ('{"term_Date": 5, "state": ["CA", "NY"]}', {"state": ["CA", "NY"]}),
    "a pair of three": ('{"state": ["CA", "NY", "TX"]}', {}),
    "values that are not scalars": ('{"state": [{"code": "CA"}, ["NY"]]}', {}),
    "a boolean and a fraction": ('{"state": [true, 1.5]}', {}),
    "a number no double holds": ('{"state": ["CA", 1e400]}', {}),
    "text that is not JSON": ('{"state": ["CA", "NY"', {}),
    "a byte that is not UTF-8": (b'{"state": ["CA", "N\xffY"]}', {}),
}
#: Shapes ``jsonb`` refuses to hold: SQLite's text column only.
NOT_JSON = {"text that is not JSON", "a byte that is not UTF-8"}
#: Stored bytes as every reader reads them: a byte that is not UTF-8 spelled ``\xff``.
AS_READ: dict[str | bytes, str] = {b'{"state": ["CA", "N\xffY"]}': '{"state": ["CA", "N\\xffY"]}'}


def edit_changes_by_hand(session: Any, license_key: int, action: str, stored: str | bytes) -> str:
    """Set the ``changes`` of the license's ``action`` rows to ``stored``, as someone would in
    psql or sqlite3, and return the text the database now holds for it (``jsonb`` spells
    JSON its own way). Skips a shape the database cannot hold."""
    postgres = session.get_bind().dialect.name == "postgresql"
    if postgres and stored in {HAND_EDITED_CHANGES[name][0] for name in NOT_JSON}:
        pytest.skip("jsonb holds JSON only")
    value = "CAST(:changes AS jsonb)" if postgres else "CAST(:changes AS TEXT)"
    which = "WHERE provider_cred_license_key = :key AND action = :action"
    session.execute(
        text(f"UPDATE license_change SET changes = {value} {which}"),
        {"changes": stored, "key": license_key, "action": action},
    )
    session.commit()
    if stored in AS_READ:  # Python's sqlite3 cannot read it back as text
        return AS_READ[stored]
    return session.scalar(
        text(f"SELECT CAST(changes AS TEXT) FROM license_change {which}"),
        {"key": license_key, "action": action},
    )
