"""What a test run says about itself: which optional halves ran (PostgreSQL, the browser tests).

The Quickstart's test command runs on SQLite alone unless ``TEST_DATABASE_URL`` is set, and the
browser tests skip themselves without Chromium; a green run must not hide either. These builders
are pure so that tests can check the wording; ``tests/conftest.py`` prints their lines at the
start and at the end of every run.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

CHROMIUM = Path("/usr/bin/chromium")
BROWSER_TESTS = "tests/browser/"


def postgresql_line(test_database_url: str | None) -> str:
    """Whether the run covers PostgreSQL, naming the database without its password."""
    if not test_database_url:
        return (
            "PostgreSQL: not run (set TEST_DATABASE_URL=postgresql://… "
            "to run every test on PostgreSQL too)"
        )
    try:
        shown = make_url(test_database_url).render_as_string(hide_password=True)
    except ArgumentError:
        shown = "TEST_DATABASE_URL, which is not a database URL"
    return f"PostgreSQL: every test runs on SQLite and again on {shown}"


def browser_line(
    chromium_installed: bool, required: bool, skipped_node_ids: Iterable[str] | None = None
) -> str | None:
    """A note when the browser tests are skipped because Chromium is missing.

    Before the run ``skipped_node_ids`` is None and a missing Chromium is enough to say so; at
    the end it holds the skipped tests' ids, and the line counts those under ``tests/browser/``
    (none skipped: nothing to say). ``required`` is ``CREDGRID_REQUIRE_BROWSER=1``: the browser
    tests then fail instead, with their own message.
    """
    if chromium_installed or required:
        return None
    install = f"{CHROMIUM} is not installed (apt-get install -y chromium to run them)"
    if skipped_node_ids is None:
        return f"Browser tests: will be skipped, {install}"
    skipped = sum(1 for node_id in skipped_node_ids if node_id.startswith(BROWSER_TESTS))
    if not skipped:
        return None
    return f"Browser tests: {skipped} skipped, {install}"


def coverage_lines(
    environ: Mapping[str, str],
    chromium_installed: bool,
    skipped_node_ids: Iterable[str] | None = None,
) -> list[str]:
    """The lines a run prints: the PostgreSQL line always, the browser line when it applies."""
    browser = browser_line(
        chromium_installed, environ.get("CREDGRID_REQUIRE_BROWSER") == "1", skipped_node_ids
    )
    return [postgresql_line(environ.get("TEST_DATABASE_URL"))] + ([browser] if browser else [])
