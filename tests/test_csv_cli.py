"""export-licenses / import-licenses: CSV in and out, the import through the license service."""

from __future__ import annotations

import csv
import io
import os
import signal
import time
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.exc import InternalError

from app.licenses.csv_io import CSV_COLUMNS, escape_formula, unescape_formula
from app.licenses.models import ProviderCredLicense
from app.licenses.schemas import LICENSE_OUT_SCHEMA
from app.licenses.service import upsert_licenses
from tests.factories import license_item
from tests.helpers import CLOSED, FLASK, REPOSITORY, flask_environment, run_flask_writing_to


def seed_licenses(session_for: Any, make_cred: Any, make_license_type: Any) -> None:
    make_cred(1)
    make_license_type(1)
    with session_for() as session:
        upsert_licenses(
            session,
            1,
            [license_item(1, credLicenseType_Key=1), license_item(2, license_Name='a, "b"\nc')],
            actor="tester",
            activity_id="t",
        )


def test_export_writes_the_json_field_names(
    runner: Any, session_for: Any, make_cred: Any, make_license_type: Any, tmp_path: Path
) -> None:
    seed_licenses(session_for, make_cred, make_license_type)
    target = tmp_path / "out.csv"
    result = runner.invoke(args=["export-licenses", "-o", str(target), "--database", "main"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(target.read_text())))
    # The contract's order: the fields of a license, then the audit fields as
    # entry_Date, update_Date, entry_User, update_User (clients may read by position).
    assert target.read_text().splitlines()[0] == (
        "providerCredLicense_Key,providerCred_Key,credLicenseType_Key,license_Name,"
        "license_Number,state,specialty_Code,effective_Date,term_Date,psV_Date,"
        "entry_Date,update_Date,entry_User,update_User"
    )
    assert list(rows[0]) == CSV_COLUMNS
    assert [r["providerCredLicense_Key"] for r in rows] == ["1", "2"]
    assert rows[0]["credLicenseType_Key"] == "1"
    assert rows[0]["effective_Date"] == "2024-01-01T00:00:00Z"
    assert rows[1]["license_Name"] == 'a, "b"\nc'
    assert rows[0]["entry_User"] == "tester"


def test_export_outlasts_a_slow_reader_on_postgresql(
    backend: str, fresh_app: Any, session_for: Any, make_cred: Any, tmp_path: Path, monkeypatch: Any
) -> None:
    """The export writes each fetched chunk before fetching the next: a reader slower than
    the idle-in-transaction timeout (a pager, a pipe to another host) must not end it."""
    if backend != "postgresql":
        pytest.skip("PostgreSQL's idle-in-transaction timeout")
    import app.licenses.csv_io as csv_io

    make_cred(1)
    with session_for() as session:
        upsert_licenses(
            session, 1, [license_item(k) for k in range(1, 5)], actor="tester", activity_id="t"
        )
    monkeypatch.setattr(csv_io, "EXPORT_CHUNK", 2)

    class SlowReader:
        """The first row of the second chunk waits for the reader, longer than the timeout."""

        dumped = 0

        def dump(self, row: Any) -> Any:
            self.dumped += 1
            if self.dumped == 3:
                time.sleep(1.5)
            return LICENSE_OUT_SCHEMA.dump(row)

    monkeypatch.setattr(csv_io, "LICENSE_OUT_SCHEMA", SlowReader())
    runner = fresh_app(DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_SECONDS=1).test_cli_runner()
    target = tmp_path / "out.csv"
    result = runner.invoke(args=["export-licenses", "-o", str(target), "--database", "main"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(target.read_text())))
    assert [r["providerCredLicense_Key"] for r in rows] == ["1", "2", "3", "4"]


def test_a_connection_the_server_closed_is_one_line_not_a_traceback(
    runner: Any, monkeypatch: Any
) -> None:
    """A database error that closed the connection (PostgreSQL ends a session past its
    idle-in-transaction timeout with such an error, not an OperationalError) is the usual
    one line, exit status 1."""
    import app.licenses.csv_io as csv_io

    def closed(*_args: Any, **_kwargs: Any) -> int:
        raise InternalError(
            "FETCH", {}, Exception("terminating connection"), connection_invalidated=True
        )

    monkeypatch.setattr(csv_io, "export_licenses", closed)
    result = runner.invoke(args=["export-licenses", "--database", "main"])
    assert result.exit_code == 1
    assert result.output.strip() == (
        "Error: Database 'main' is unavailable: terminating connection"
    )
    assert "Traceback" not in result.output


@pytest.mark.parametrize("before", [None, "the last good export\n"], ids=["new", "existing"])
def test_an_export_that_fails_midway_leaves_the_output_file_as_it_was(
    runner: Any, tmp_path: Path, monkeypatch: Any, before: str | None
) -> None:
    """A database error after some rows were written: ``-o FILE`` is not left holding a
    partial export (a header and some rows, which reads as a complete, smaller one), nor is an
    existing file's content lost; and no temporary file is left beside it."""
    import app.licenses.csv_io as csv_io

    def header_and_a_row_then_closed(_session: Any, out: Any, **_kwargs: Any) -> int:
        out.write(",".join(CSV_COLUMNS) + "\n1,1" + "," * (len(CSV_COLUMNS) - 2) + "\n")
        out.flush()
        raise InternalError(
            "FETCH", {}, Exception("terminating connection"), connection_invalidated=True
        )

    monkeypatch.setattr(csv_io, "export_licenses", header_and_a_row_then_closed)
    directory = tmp_path / "exports"
    directory.mkdir()
    target = directory / "out.csv"
    if before is not None:
        target.write_text(before)
    result = runner.invoke(args=["export-licenses", "-o", str(target), "--database", "main"])
    assert result.exit_code == 1
    assert result.output == "Error: Database 'main' is unavailable: terminating connection\n"
    assert [p.name for p in directory.iterdir()] == ([] if before is None else ["out.csv"])
    if before is not None:
        assert target.read_text() == before


def test_an_export_replaces_an_existing_file_keeping_its_mode(
    runner: Any, session_for: Any, make_cred: Any, make_license_type: Any, tmp_path: Path
) -> None:
    seed_licenses(session_for, make_cred, make_license_type)
    directory = tmp_path / "exports"
    directory.mkdir()
    target = directory / "out.csv"
    target.write_text("an older, longer export\n" * 1000)
    target.chmod(0o640)
    result = runner.invoke(args=["export-licenses", "-o", str(target), "--database", "main"])
    assert result.exit_code == 0, result.output
    rows = csv.DictReader(io.StringIO(target.read_text()))
    assert [r["providerCredLicense_Key"] for r in rows] == ["1", "2"]
    assert target.stat().st_mode & 0o777 == 0o640
    assert [p.name for p in directory.iterdir()] == ["out.csv"]


@pytest.mark.parametrize(
    ("target", "status", "message"),
    [
        ("missing/out.csv", 1, "Error: Cannot write {path}: No such file or directory."),
        (".", 2, "Error: Invalid value for '-o' / '--output': File {path!r} is a directory."),
    ],
    ids=["missing directory", "directory"],
)
def test_an_export_to_a_path_it_cannot_write_is_one_line(
    runner: Any, tmp_path: Path, target: str, status: int, message: str
) -> None:
    directory = tmp_path / "exports"
    directory.mkdir()
    path = str(directory / target)
    result = runner.invoke(args=["export-licenses", "-o", path, "--database", "main"])
    assert result.exit_code == status
    assert result.output.splitlines()[-1] == message.format(path=path)
    assert [p.name for p in directory.iterdir()] == []


def test_an_export_to_an_empty_path_is_a_usage_error(
    runner: Any, tmp_path: Path, monkeypatch: Any
) -> None:
    """``-o ""`` (an unset shell variable) read as the working directory: the export was
    written beside it, in its parent, then failed "Cannot write : Is a directory"."""
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    result = runner.invoke(args=["export-licenses", "-o", "", "--database", "main"])
    assert result.exit_code == 2
    assert result.output.splitlines()[-1] == (
        "Error: Invalid value for '-o' / '--output': an empty path; name a file, or - for "
        "standard output."
    )
    assert list(tmp_path.glob(".work.*")) == []
    assert list(work.iterdir()) == []


def test_an_export_does_not_replace_a_read_only_file(
    runner: Any, tmp_path: Path, monkeypatch: Any
) -> None:
    """Written beside it and moved over it, a file its owner made read-only was replaced: a
    rename needs only the directory's permission. Refused as writing it would be."""
    directory = tmp_path / "exports"
    directory.mkdir()
    target = directory / "out.csv"
    target.write_text("the month-end export\n")
    target.chmod(0o444)
    if os.geteuid() == 0:  # root may write any file: answer as its owner would be answered
        real_access = os.access
        monkeypatch.setattr(
            os,
            "access",
            lambda path, mode, **kw: (
                not mode & os.W_OK if Path(path) == target else real_access(path, mode, **kw)
            ),
        )
    result = runner.invoke(args=["export-licenses", "-o", str(target), "--database", "main"])
    assert result.exit_code == 1
    assert result.output.splitlines()[-1] == f"Error: Cannot write {target}: Permission denied."
    assert target.read_text() == "the month-end export\n"
    assert [p.name for p in directory.iterdir()] == ["out.csv"]


def test_round_trip_is_unchanged_and_bad_rows_are_reported(
    runner: Any, session_for: Any, make_cred: Any, make_license_type: Any, tmp_path: Path
) -> None:
    seed_licenses(session_for, make_cred, make_license_type)
    exported = tmp_path / "out.csv"
    runner.invoke(args=["export-licenses", "-o", str(exported)])
    rows = list(csv.DictReader(io.StringIO(exported.read_text())))
    rows.append({**rows[0], "providerCredLicense_Key": "3", "state": "ZZ"})
    rows.append({**rows[0], "providerCredLicense_Key": "4", "providerCred_Key": "77"})
    rows.append({**rows[0], "providerCredLicense_Key": "x5"})
    rows.append({**rows[0], "providerCredLicense_Key": "6", "state": "ca"})
    source = tmp_path / "in.csv"
    with source.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)

    result = runner.invoke(args=["import-licenses", str(source), "--database", "main"])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    # Exported and imported again as they were: nothing changed (the API would say "Updated").
    assert lines[0] == "line 2: providerCredLicense_Key 1: 200 Unchanged"
    assert lines[1] == "line 3: providerCredLicense_Key 2: 200 Unchanged"
    assert lines[2] == (
        "line 5: providerCredLicense_Key 3: 400 state: Not a valid USPS state code "
        "(50 states, DC, AS, GU, MP, PR, VI)."
    )
    assert lines[3] == (
        "line 6: providerCredLicense_Key 4: 404 No provider credential 77 in this database."
    )
    assert (
        lines[4]
        == "line 7: providerCredLicense_Key x5: 400 providerCredLicense_Key: Not a valid integer."
    )
    assert lines[5] == "line 8: providerCredLicense_Key 6: 201 Created"
    assert lines[6].startswith("3 rows imported (2 unchanged), 3 failed")
    with session_for() as session:
        rows_after = session.scalars(select(ProviderCredLicense)).all()
        assert {r.provider_cred_license_key: r.state for r in rows_after} == {
            1: "NY",
            2: "NY",
            6: "CA",
        }
        assert {r.update_user for r in rows_after if r.provider_cred_license_key < 3} == {"tester"}


def analysed_at(session: Any) -> Any:
    """When the license table's statistics were last gathered by hand (``None``: never).

    On SQLite, ``sqlite_stat1`` rows appear only through ``ANALYZE``: their number stands in.
    """
    if session.get_bind().dialect.name == "sqlite":
        has_stats = session.execute(
            text("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'")
        ).scalar()
        if not has_stats:
            return None
        return (
            session.execute(
                text("SELECT count(*) FROM sqlite_stat1 WHERE tbl = 'provider_cred_license'")
            ).scalar()
            or None
        )
    return session.execute(
        text(
            "SELECT last_analyze FROM pg_stat_user_tables "
            "WHERE relname = 'provider_cred_license' AND schemaname = current_schema()"
        )
    ).scalar()


def test_import_analyses_what_it_loaded(
    runner: Any, session_for: Any, make_cred: Any, tmp_path: Path
) -> None:
    make_cred(1)
    source = tmp_path / "in.csv"
    with source.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["providerCredLicense_Key", "providerCred_Key"])
        writer.writeheader()
        writer.writerows(
            {"providerCredLicense_Key": k, "providerCred_Key": 1} for k in range(1, 30)
        )
    with session_for() as session:
        before = analysed_at(session)
    result = runner.invoke(args=["import-licenses", str(source), "--database", "main"])
    assert result.exit_code == 0, result.output
    with session_for() as session:
        after = analysed_at(session)
    assert after is not None
    assert before is None or after > before


def test_the_summary_of_one_row_says_row(runner: Any, make_cred: Any, tmp_path: Path) -> None:
    make_cred(1)
    source = tmp_path / "in.csv"
    source.write_text("providerCredLicense_Key,providerCred_Key\n1,1\n")
    result = runner.invoke(args=["import-licenses", str(source), "--database", "main"])
    assert result.exit_code == 0, result.output
    assert "1 row imported (0 unchanged), 0 failed" in result.output


def test_import_vacuums_what_it_loaded_on_postgresql(
    runner: Any, session_for: Any, make_cred: Any, tmp_path: Path, backend: str
) -> None:
    """PostgreSQL: the import's VACUUM sets the new pages' visibility map (index-only counts)."""
    if backend != "postgresql":
        pytest.skip("SQLite has no VACUUM of one table")
    make_cred(1)
    source = tmp_path / "in.csv"
    source.write_text("providerCredLicense_Key,providerCred_Key\n1,1\n2,1\n")

    def vacuumed() -> dict[str, Any]:
        with session_for() as session:
            rows = session.execute(
                text(
                    "SELECT relname, last_vacuum FROM pg_stat_user_tables "
                    "WHERE schemaname = current_schema() AND relname IN "
                    "('provider_cred_license', 'license_change')"
                )
            )
            return dict(rows.all())

    before = vacuumed()
    result = runner.invoke(args=["import-licenses", str(source), "--database", "main"])
    assert result.exit_code == 0, result.output
    after = vacuumed()
    for table in ("provider_cred_license", "license_change"):
        assert after[table] is not None
        assert before.get(table) is None or after[table] > before[table]


#: Stored names (the service trims whitespace, so tab and CR starts are tested on their own).
FORMULAS = [
    '=HYPERLINK("http://x")',
    "+1+2",
    "-3",
    "@SUM(A1)",
    "'=already",
    "'plain",
    # Full-width = + - @, which some spreadsheets read as the ASCII ones.
    "\uff1d1+1",
    "\uff0b1",
    "\uff0d1",
    "\uff20SUM(A1)",
    "'\uff1dalready",
]


def seed_formulas(session_for: Any, make_cred: Any) -> None:
    make_cred(1)
    with session_for() as session:
        outcomes = upsert_licenses(
            session,
            1,
            [license_item(i + 1, license_Name=name) for i, name in enumerate(FORMULAS)],
            actor="tester",
            activity_id="t",
        )
    assert all(o.status < 300 for o in outcomes), [o.body for o in outcomes]


def exported_names(runner: Any, *options: str) -> list[str]:
    result = runner.invoke(args=["export-licenses", *options])
    assert result.exit_code == 0, result.output
    body = result.stdout
    return [r["license_Name"] for r in csv.DictReader(io.StringIO(body))]


def test_export_defuses_spreadsheet_formulas(runner: Any, session_for: Any, make_cred: Any) -> None:
    seed_formulas(session_for, make_cred)
    names = exported_names(runner)
    assert names == [
        '\'=HYPERLINK("http://x")',
        "'+1+2",
        "'-3",
        "'@SUM(A1)",
        "''=already",
        "'plain",
        "'\uff1d1+1",
        "'\uff0b1",
        "'\uff0d1",
        "'\uff20SUM(A1)",
        "''\uff1dalready",
    ]
    assert exported_names(runner, "--raw") == FORMULAS


def test_an_escaped_export_re_imports_unchanged(
    runner: Any, session_for: Any, make_cred: Any, tmp_path: Path
) -> None:
    seed_formulas(session_for, make_cred)
    exported = tmp_path / "out.csv"
    runner.invoke(args=["export-licenses", "-o", str(exported)])
    with session_for() as session:
        session.execute(ProviderCredLicense.__table__.update().values(license_name="changed"))
        session.commit()
    result = runner.invoke(args=["import-licenses", str(exported)])
    assert result.exit_code == 0, result.output
    with session_for() as session:
        stored = session.scalars(
            select(ProviderCredLicense.license_name).order_by(
                ProviderCredLicense.provider_cred_license_key
            )
        ).all()
    assert stored == FORMULAS


@pytest.mark.parametrize(
    ("value", "escaped"),
    [
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("x=1", "x=1"),
        ("", ""),
        (None, None),
        (-3, -3),
        # A formula after leading white space still runs in a spreadsheet.
        (" =1+1", "' =1+1"),
        ("\t@SUM()", "'\t@SUM()"),
        ("  -2", "'  -2"),
        ("\u3000+1", "'\u3000+1"),
        (" plain", " plain"),
        ("' =1", "'' =1"),
        # Full-width = + - @.
        ("\uff1d1+1", "'\uff1d1+1"),
        ("\uff0b1", "'\uff0b1"),
        ("\uff0d1", "'\uff0d1"),
        ("\uff20SUM()", "'\uff20SUM()"),
        (" \uff1d1", "' \uff1d1"),
        ("'\uff20x", "''\uff20x"),
        ("a\uff1d1", "a\uff1d1"),
    ],
)
def test_escape_formula_cells(value: Any, escaped: Any) -> None:
    assert escape_formula(value) == escaped
    if isinstance(value, str):
        assert unescape_formula(escape_formula(value)) == value


@pytest.mark.parametrize("cell", [" =1+1", "\t@SUM()", "\uff1d1", "\uff20x", "x", "' x", "'"])
def test_a_cell_not_escaped_by_the_export_is_imported_as_it_is(cell: str) -> None:
    """Only a cell the export could have written loses a quote: ``'`` then a formula."""
    assert unescape_formula(cell) == cell


def test_an_export_into_a_pipe_whose_reader_has_gone_stops_quietly(tmp_path: Path) -> None:
    """``flask export-licenses | head``: once the reader has gone, the command stops as other
    commands do, exit status 1 and nothing on standard error (no "Broken pipe", no traceback).
    A real process and a real pipe, its reading end closed before the export starts."""
    import os
    import subprocess

    env = flask_environment(tmp_path / "instance")

    def flask(*args: str, **options: Any) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*FLASK, *args],
            cwd=REPOSITORY,
            env=env,
            text=True,
            timeout=120,
            **options,
        )

    assert flask("demo", capture_output=True).returncode == 0
    reading, writing = os.pipe()
    os.close(reading)
    try:
        result = flask("export-licenses", stdout=writing, stderr=subprocess.PIPE)
    finally:
        os.close(writing)
    assert (result.returncode, result.stderr) == (1, "")


def test_an_import_whose_report_cannot_be_written_says_how_far_it_got(tmp_path: Path) -> None:
    """``flask import-licenses big.csv | head`` (or ``> /dev/full``): the import stopped at the
    first report line it could not write, without a word (a closed pipe) or with a traceback (a
    full disk), its file partly imported. It stops there still, saying on standard error which
    rows were processed. A real process, reading ahead two rows at a time."""
    import os
    import subprocess
    import sys

    env = flask_environment(tmp_path / "instance", FLASK_BATCH_MAX_ITEMS="1")
    two_rows_ahead = (  # Ctrl-C acts as in a terminal, whether or not pytest ignores it
        "import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
        "from app.licenses import csv_io; csv_io.READ_AHEAD_ROWS = 2; "
        "from flask.cli import main; sys.exit(main())"
    )

    def flask(*args: str, **options: Any) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", two_rows_ahead, "--app", "app", *args],
            cwd=REPOSITORY,
            env=env,
            text=True,
            timeout=120,
            **options,
        )

    assert flask("init-db", capture_output=True).returncode == 0
    assert flask("seed", "--providers", "1", capture_output=True).returncode == 0
    source = tmp_path / "in.csv"
    source.write_text(
        "providerCredLicense_Key,providerCred_Key,credLicenseType_Key,state\n"
        + "".join(f"{key},1001,1,NY\n" for key in range(900_001, 900_006))
    )
    for output in ("closed pipe", "/dev/full"):
        reading, writing = os.pipe()
        os.close(reading)
        stdout = writing if output == "closed pipe" else open(output, "w")  # noqa: SIM115
        try:
            result = flask("import-licenses", str(source), stdout=stdout, stderr=subprocess.PIPE)
        finally:
            os.close(writing)
            if output != "closed pipe":
                stdout.close()
        # The credgrid.admin line of the import (tests/test_admin_log.py) follows.
        stderr, admin = result.stderr.split("\n", 1)
        assert " INFO cli import-licenses " in admin and " imported=2 " in admin, admin
        assert (result.returncode, stderr + "\n") == (
            1,
            "Error: the report could not be written to standard output "
            f"({'Broken pipe' if output == 'closed pipe' else 'No space left on device'}): the "
            "import stopped. The rows to line 3 were processed, no row after it.\n",
        ), output
    again = flask("import-licenses", str(source), capture_output=True)
    assert again.stdout.splitlines()[:5] == [
        "line 2: providerCredLicense_Key 900001: 200 Unchanged",
        "line 3: providerCredLicense_Key 900002: 200 Unchanged",
        "line 4: providerCredLicense_Key 900003: 201 Created",
        "line 5: providerCredLicense_Key 900004: 201 Created",
        "line 6: providerCredLicense_Key 900005: 201 Created",
    ]


def test_an_export_to_a_closed_standard_output_is_one_line(tmp_path: Path) -> None:
    """``flask export-licenses >&-`` (standard output closed, as some service managers leave
    it): a TypeError traceback ("argument 1 must have a "write" method")."""
    import subprocess

    env = flask_environment(tmp_path / "instance")
    subprocess.run([*FLASK, "init-db"], cwd=REPOSITORY, env=env, check=True, capture_output=True)
    result = run_flask_writing_to(env, CLOSED, "export-licenses")
    assert (result.returncode, result.stderr) == (
        1,
        "Error: Cannot write -: standard output is closed.\n",
    )


def test_an_import_from_a_closed_standard_input_is_one_line(tmp_path: Path) -> None:
    """``flask import-licenses - <&-``: click's RuntimeError traceback ("Was not able to
    determine binary stream for sys.stdin")."""
    import subprocess

    env = flask_environment(tmp_path / "instance")
    result = subprocess.run(
        ["sh", "-c", 'exec <&- && exec "$@"', "sh", *FLASK, "import-licenses", "-"],
        cwd=REPOSITORY,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1] == (
        "Error: Invalid value for 'SOURCE': standard input is closed."
    )


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_import_says_what_stays_and_runs_again_safely(
    database_urls: dict[str, str], make_cred: Any, tmp_path: Path, signum: int
) -> None:
    """Ctrl-C (or a service manager's SIGTERM) halfway through a large file: the import stops
    once the read-ahead window being written is committed and reported, says so and how to
    finish (run the file again), and logs its admin line as any import does. It said
    ``Aborted!`` (or, terminated, nothing at all and no admin line), having committed rows it
    never reported. Running the file again imports the rest and writes nothing twice."""
    import subprocess

    make_cred(1)
    url = database_urls["main"]
    rows = 400
    # Ctrl-C acts as in a terminal, whether or not pytest ignores it
    run = import_signalled(url, tmp_path, rows, "default_int_handler", signum)
    command, env, stdout, stderr = run.command, run.env, run.stdout, run.stderr
    assert run.returncode == 128 + signum, stderr
    assert "Traceback" not in stderr
    assert (
        "Interrupted: every row reported above is imported, no row after them. Run the same "
        "file again to import the rest: rows already imported answer 200 Unchanged and get no "
        "second history row."
    ) in stderr
    assert " INFO cli import-licenses " in stderr and " interrupted=True " in stderr
    engine = create_engine(url)
    try:
        licenses, history = history_and_licenses(engine)
        reported = 1 + stdout.count(" 201 Created\n")
        assert reported == licenses == history < rows  # stopped halfway, nothing half-written
        again = subprocess.run(command, cwd=REPOSITORY, env=env, capture_output=True, text=True)
        assert again.returncode == 0, again.stderr
        assert again.stdout.count(" 200 Unchanged\n") == licenses
        assert history_and_licenses(engine) == (rows, rows)
    finally:
        engine.dispose()


class SignalledImport(NamedTuple):
    command: list[str]
    env: dict[str, str]
    returncode: int
    stdout: str
    stderr: str


def import_signalled(
    url: str, tmp_path: Path, rows: int, sigint_handler: str, signum: int
) -> SignalledImport:
    """``import-licenses`` of ``rows`` rows into ProviderCred 1 of ``url`` (one row a batch, two
    read ahead), in a process that starts with ``sigint_handler`` (a name in ``signal``) for
    SIGINT and is sent ``signum`` once it reported its first row; ``command`` runs the same
    import again."""
    import json
    import subprocess
    import sys

    env = flask_environment(
        tmp_path / "instance", FLASK_DATABASES=json.dumps({"main": url}), FLASK_BATCH_MAX_ITEMS="1"
    )
    program = (
        f"import signal, sys; signal.signal(signal.SIGINT, signal.{sigint_handler}); "
        "from app.licenses import csv_io; csv_io.READ_AHEAD_ROWS = 2; "
        "from flask.cli import main; sys.exit(main())"
    )
    source = tmp_path / "in.csv"
    source.write_text(
        "providerCredLicense_Key,providerCred_Key,state\n"
        + "".join(f"{key},1,NY\n" for key in range(1, rows + 1))
    )
    command = [sys.executable, "-c", program, "--app", "app", "import-licenses", str(source)]
    with subprocess.Popen(
        command, cwd=REPOSITORY, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as process:
        assert process.stdout is not None and process.stderr is not None
        assert process.stdout.readline() == "line 2: providerCredLicense_Key 1: 201 Created\n"
        process.send_signal(signum)
        stdout = process.stdout.read()  # not communicate(), which skips what readline buffered
        stderr = process.stderr.read()  # a few lines: never fills its pipe meanwhile
        process.wait(timeout=120)
    return SignalledImport(command, env, process.returncode, stdout, stderr)


def history_and_licenses(engine: Any) -> tuple[int, int]:
    with engine.connect() as connection:
        return (
            connection.scalar(text("SELECT count(*) FROM provider_cred_license")),
            connection.scalar(text("SELECT count(*) FROM license_change")),
        )


def test_sigterm_stops_an_export_as_ctrl_c_does_leaving_no_partial_file(
    runner: Any,
    session_for: Any,
    make_cred: Any,
    make_license_type: Any,
    tmp_path: Path,
) -> None:
    """``kill``, ``timeout`` or systemd stopping an export sends SIGTERM, whose default ended
    the process at once: the unfinished ``.out.csv.….partial`` file (100 MB at 600,000
    licenses) was left beside the target. It stops the command as Ctrl-C does now: the file
    is removed, the target kept, "Aborted!", exit status 1. (The signal is sent from the
    export's own read; the test's handler stands for Python's default, which would end the
    test run, and would let the export finish.)"""
    import gc
    import signal
    import warnings

    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    seed_licenses(session_for, make_cred, make_license_type)
    directory = tmp_path / "exports"
    directory.mkdir()
    target = directory / "out.csv"
    target.write_text("the last complete export\n")
    received: list[int] = []
    previous = signal.signal(signal.SIGTERM, lambda number, _frame: received.append(number))

    def terminate(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if "FROM provider_cred_license" in statement:
            os.kill(os.getpid(), signal.SIGTERM)

    event.listen(Engine, "after_cursor_execute", terminate)
    try:
        result = runner.invoke(args=["export-licenses", "-o", str(target), "--database", "main"])
    finally:
        event.remove(Engine, "after_cursor_execute", terminate)
        signal.signal(signal.SIGTERM, previous)
    assert received == [] and result.exit_code == 1, result.output
    assert "Aborted!" in result.output
    with warnings.catch_warnings():
        # Stopped inside its DECLARE, PostgreSQL's cursor object is dropped unclosed (the
        # transaction's end closed it on the server): not a finding of a later test.
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()
    assert [p.name for p in directory.iterdir()] == ["out.csv"]
    assert target.read_text() == "the last complete export\n"


def test_an_import_started_with_ctrl_c_ignored_is_not_stopped_by_it(
    database_urls: dict[str, str], make_cred: Any, tmp_path: Path
) -> None:
    """A command started with SIGINT ignored (a script's ``&`` job, as a shell starts it) is
    meant to outlive the terminal's Ctrl-C. The import put its own handler in place of that,
    and stopped halfway (exit 130) on the Ctrl-C it was started to ignore."""
    make_cred(1)
    url = database_urls["main"]
    rows = 200
    run = import_signalled(url, tmp_path, rows, "SIG_IGN", signal.SIGINT)
    stdout, stderr = run.stdout, run.stderr
    assert run.returncode == 0, stderr
    assert "Interrupted" not in stderr
    assert 1 + stdout.count(" 201 Created\n") == rows
    engine = create_engine(url)
    try:
        assert history_and_licenses(engine) == (rows, rows)
    finally:
        engine.dispose()


def test_a_stop_asked_while_the_last_rows_are_written_is_not_an_interrupted_import(
    database_urls: dict[str, str], make_cred: Any, tmp_path: Path
) -> None:
    """SIGTERM arrives while the file's last window is being written: every row is imported.
    The command said "Interrupted ... Run the same file again to import the rest" and logged
    ``interrupted=True``, though no row was left. It stops (the refresh of the statistics is
    skipped, as asked), saying that every row is imported."""
    import json
    import subprocess
    import sys

    make_cred(1)
    url = database_urls["main"]
    env = flask_environment(tmp_path / "instance", FLASK_DATABASES=json.dumps({"main": url}))
    term_while_writing = (
        "import signal, sys; from app.licenses import csv_io; real = csv_io._import_window\n"
        "def window(*args):\n"
        "    rows = real(*args); signal.raise_signal(signal.SIGTERM); return rows\n"
        "csv_io._import_window = window\n"
        "from flask.cli import main; sys.exit(main())"
    )
    source = tmp_path / "in.csv"
    source.write_text(
        "providerCredLicense_Key,providerCred_Key,state\n"
        + "".join(f"{key},1,NY\n" for key in range(1, 4))
    )
    command = [sys.executable, "-c", term_while_writing, "--app", "app", "import-licenses"]
    result = subprocess.run(
        [*command, str(source)], cwd=REPOSITORY, env=env, capture_output=True, text=True
    )
    assert result.returncode == 128 + signal.SIGTERM, result.stderr
    assert result.stdout.count(" 201 Created\n") == 3
    assert "Run the same file again" not in result.stderr
    assert "interrupted=True" not in result.stderr
    assert (
        "Stopped after the file's last row: every row is imported; the planner statistics "
        "were not refreshed (run ANALYZE later, PostgreSQL: VACUUM ANALYZE)."
    ) in result.stderr
