"""The lines a test run prints about what it covered (tests/run_report.py)."""

from __future__ import annotations

import pytest

from tests.run_report import browser_line, coverage_lines, postgresql_line

NOT_RUN = (
    "PostgreSQL: not run (set TEST_DATABASE_URL=postgresql://… to run every test on PostgreSQL too)"
)


@pytest.mark.parametrize("url", [None, ""])
def test_without_test_database_url_postgresql_is_reported_not_run(url: str | None) -> None:
    assert postgresql_line(url) == NOT_RUN


def test_with_test_database_url_the_database_is_named() -> None:
    assert postgresql_line("postgresql://postgres@127.0.0.1:5432/credgrid_x") == (
        "PostgreSQL: every test runs on SQLite and again on "
        "postgresql://postgres@127.0.0.1:5432/credgrid_x"
    )


def test_the_password_is_never_printed() -> None:
    line = postgresql_line("postgresql://app:s3cret-pw@db.internal/credgrid")
    assert "s3cret-pw" not in line
    assert line.endswith("postgresql://app:***@db.internal/credgrid")


def test_a_url_that_is_not_one_is_said_so_without_echoing_it() -> None:
    line = postgresql_line("not a url with a password s3cret")
    assert "s3cret" not in line
    assert "TEST_DATABASE_URL, which is not a database URL" in line


def test_nothing_is_said_about_browser_tests_when_chromium_is_installed() -> None:
    assert browser_line(True, False) is None
    assert browser_line(True, False, ["tests/browser/test_pages_browser.py::test_x"]) is None


def test_a_missing_chromium_is_announced_before_the_run() -> None:
    assert browser_line(False, False) == (
        "Browser tests: will be skipped, /usr/bin/chromium is not installed "
        "(apt-get install -y chromium to run them)"
    )


def test_required_browser_tests_fail_instead_so_nothing_is_announced() -> None:
    assert browser_line(False, True) is None
    assert browser_line(False, True, ["tests/browser/test_grid_browser.py::test_x"]) is None


def test_the_end_of_the_run_counts_only_skipped_browser_tests() -> None:
    skipped = [
        "tests/browser/test_grid_browser.py::test_paste",
        "tests/browser/test_pages_browser.py::test_login",
        "tests/test_databases.py::test_something_else",
    ]
    assert browser_line(False, False, skipped) == (
        "Browser tests: 2 skipped, /usr/bin/chromium is not installed "
        "(apt-get install -y chromium to run them)"
    )


def test_no_browser_line_at_the_end_when_no_browser_test_was_selected() -> None:
    assert browser_line(False, False, ["tests/test_cli.py::test_x"]) is None
    assert browser_line(False, False, []) is None


def test_coverage_lines_read_the_environment() -> None:
    assert coverage_lines({}, True) == [NOT_RUN]
    assert coverage_lines({"TEST_DATABASE_URL": "postgresql://u:pw@h/d"}, True) == [
        "PostgreSQL: every test runs on SQLite and again on postgresql://u:***@h/d"
    ]
    assert coverage_lines({}, False, ["tests/browser/test_pages_browser.py::test_login"]) == [
        NOT_RUN,
        "Browser tests: 1 skipped, /usr/bin/chromium is not installed "
        "(apt-get install -y chromium to run them)",
    ]
    assert coverage_lines({"CREDGRID_REQUIRE_BROWSER": "1"}, False) == [NOT_RUN]
