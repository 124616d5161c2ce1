"""A Save's outcomes carried across the redirect to the grid (Post/Redirect/Get).

When every row of a Save went through, the browser is redirected to the grid, so reloading the
page re-reads it instead of posting the form again (which would resend outdated versions). The
rows' outcomes ride along in the session cookie, one ``[key, outcome, message]`` per row that
has one; a report too large for a cookie is not kept, and the grid is then rendered directly.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from flask import session

from app.ui.grid import GridLine

SESSION_KEY = "grid_save"
MAX_CHARS = 1500


@dataclass(frozen=True)
class SaveReport:
    outcomes: dict[int, tuple[str, str | None]]

    def apply(self, lines: Sequence[GridLine]) -> list[ReportedRow]:
        """Put the outcomes on ``lines``; returns the reported rows no line of this page shows:
        the deleted ones, and the ones the Save put on another page (new licenses whose keys
        sort after this page's, once the page is full)."""
        shown = set()
        for line in lines:
            key = line.license_key
            if key is not None and key in self.outcomes:
                line.outcome, line.message = self.outcomes[key]
                shown.add(key)
        return [
            ReportedRow(key, outcome, message)
            for key, (outcome, message) in self.outcomes.items()
            if key not in shown
        ]


class ReportedRow(NamedTuple):
    """A row of a Save's report that the grid's page does not show."""

    key: int
    outcome: str
    message: str | None


def remember_save(provider_cred_key: int, database: str, lines: Sequence[GridLine]) -> bool:
    """Keep the report for the next request; ``False`` if it is too large for the cookie."""
    rows = [
        [line.license_key, line.outcome, line.message]
        for line in lines
        if line.outcome and line.license_key is not None
    ]
    report = {"cred": provider_cred_key, "database": database, "rows": rows}
    if len(json.dumps(report)) > MAX_CHARS:
        return False
    session[SESSION_KEY] = report
    return True


def recall_save(provider_cred_key: int, database: str) -> SaveReport | None:
    """The report of the Save that redirected here, once; ``None`` after that."""
    report = session.pop(SESSION_KEY, None)
    if not report or (report.get("cred"), report.get("database")) != (provider_cred_key, database):
        return None
    return SaveReport({key: (outcome, message) for key, outcome, message in report["rows"]})
