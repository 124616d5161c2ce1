"""History rows whose ``changes`` were edited by hand into shapes the license service never
writes, for the tests of every reader of the history (the API, the staff page); and how many
integrity findings the review holds in memory as it writes them (the CLI's report, the UI's CSV)."""

from __future__ import annotations

from datetime import datetime
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


#: A time someone stored by hand in SQLite's text column that does not read as a time → the
#: day it still names, where the history places it (``{day}``: the row's own day). A
#: ``timestamp`` holds none of them: SQLite only.
UNREADABLE_TIMES: dict[str, tuple[str, bool]] = {
    "an unpadded hour": ("{day} 9:00:00", True),
    "an hour past the day": ("{day}T25:00:00", True),
    "a day and text": ("{day} at nine", True),
    "a byte that is not UTF-8": ("{day} 09:00:00\\xff", True),
    "text": ("garbage", False),
    "empty": ("", False),
}
#: The instant the service wrote respelled with a zone (``{t}``: the stored time to the
#: microsecond, ``T``-separated; ``{t_space}``: space-separated): still that instant, so the row
#: still matches its hash. PostgreSQL's ``timestamp`` drops the zone of what it is given.
ZONED_TIMES: dict[str, str] = {
    "Z": "{t}Z",
    "+00:00": "{t}+00:00",
    "+00:00 after a space": "{t_space}+00:00",
}


def edit_time_by_hand(session: Any, row_id: int, spelling: str, *, timestamp_holds: bool) -> str:
    """Set a history row's ``at`` to ``spelling`` (``UNREADABLE_TIMES``, ``ZONED_TIMES``, or a
    time) filled in from its stored time, as someone would in sqlite3 or psql (skipped on
    PostgreSQL unless a ``timestamp`` holds it); returns the text as every reader reads it
    (a byte that is not UTF-8 spelled ``\\xff``)."""
    postgres = session.get_bind().dialect.name == "postgresql"
    if postgres and not timestamp_holds:
        pytest.skip("a timestamp holds a time only")
    which = {"id": row_id}
    at = session.scalar(text("SELECT at FROM license_change WHERE id = :id"), which)
    at = at if isinstance(at, datetime) else datetime.fromisoformat(at)
    spelled = spelling.format(
        day=at.date().isoformat(),
        t=at.isoformat(timespec="microseconds"),
        t_space=at.isoformat(sep=" ", timespec="microseconds"),
    )
    value = "CAST(:at AS timestamp)" if postgres else "CAST(:at AS TEXT)"
    stored = spelled.encode("utf-8").replace(b"\\xff", b"\xff")
    session.execute(
        text(f"UPDATE license_change SET at = {value} WHERE id = :id"),
        {"at": spelled if postgres else stored, **which},
    )
    session.commit()
    return spelled


def most_findings_alive_per_row(monkeypatch: Any) -> list[int]:
    """How many findings are in memory each time the report writes one (CSV or text: each
    formats its finding's time once)."""
    import gc

    from app.integrity import report
    from app.integrity.rules import Finding

    alive: list[int] = []
    format_time = report.format_wire_datetime

    def counted(value: Any) -> Any:
        gc.collect()  # what is garbage is not held
        alive.append(sum(isinstance(o, Finding) for o in gc.get_objects()))
        return format_time(value)

    monkeypatch.setattr(report, "format_wire_datetime", counted)
    return alive
