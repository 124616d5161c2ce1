"""import-licenses on files that are not what the export writes, and on a failing database.

Whatever the file or the database does, the operator gets a line naming where and why, never a
traceback, and a report of every row that was written.
"""

from __future__ import annotations

import csv
import io
import os
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import DataError, OperationalError

from app.licenses import csv_io
from app.licenses.csv_io import CSV_COLUMNS
from app.licenses.models import ProviderCredLicense
from app.licenses.service import upsert_licenses
from tests.factories import license_item

HEADER = ",".join(CSV_COLUMNS)
KEYS = "providerCredLicense_Key,providerCred_Key"


def import_file(runner: Any, path: Path, *options: str) -> Any:
    result = runner.invoke(args=["import-licenses", str(path), *options])
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    return result


def stored(session_for: Any) -> dict[int, ProviderCredLicense]:
    with session_for() as session:
        rows = session.scalars(select(ProviderCredLicense)).all()
        return {row.provider_cred_license_key: row for row in rows}


def license_count(session_for: Any) -> int:
    with session_for() as session:
        return session.scalar(select(func.count()).select_from(ProviderCredLicense))


def write_rows(path: Path, rows: list[dict[str, Any]], columns: list[str] = CSV_COLUMNS) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return path


# ---------------------------------------------------------------------------------------------
# keys outside int32


def test_keys_outside_int32_are_refused_per_row_before_any_database_work(
    runner: Any, session_for: Any, make_cred: Any, tmp_path: Path
) -> None:
    """PostgreSQL used to fail the whole import on the ProviderCred lookup (integer overflow)."""
    make_cred(1)
    source = tmp_path / "in.csv"
    source.write_text(
        "providerCredLicense_Key,providerCred_Key,credLicenseType_Key\n"
        "1,2147483648,\n"
        "2,-2147483649,\n"
        "2147483648,1,\n"
        "4,1,2147483648\n"
        "5,1,\n"
        "99999999999999,1,\n"
        "7,1,-99999999999999\n"
        ",1,\n"
    )
    result = import_file(runner, source)
    assert result.exit_code == 1
    int32 = "Must be a 32-bit integer (-2147483648 to 2147483647)."
    assert result.output.splitlines()[:8] == [
        f"line 2: providerCredLicense_Key 1: 400 providerCred_Key: {int32}",
        f"line 3: providerCredLicense_Key 2: 400 providerCred_Key: {int32}",
        f"line 4: providerCredLicense_Key 2147483648: 400 providerCredLicense_Key: {int32}",
        f"line 5: providerCredLicense_Key 4: 400 credLicenseType_Key: {int32}",
        "line 6: providerCredLicense_Key 5: 201 Created",
        # However many digits, the same words (13 or more were "Not a valid integer.").
        f"line 7: providerCredLicense_Key 99999999999999: 400 providerCredLicense_Key: {int32}",
        f"line 8: providerCredLicense_Key 7: 400 credLicenseType_Key: {int32}",
        # An empty key cell is not called "None".
        "line 9: providerCredLicense_Key (empty): 400 providerCredLicense_Key: Field may not "
        "be null.",
    ]
    assert list(stored(session_for)) == [5]


# ---------------------------------------------------------------------------------------------
# a database error partway, a failed ANALYZE


def fail_on_cred(monkeypatch: pytest.MonkeyPatch, cred_key: int) -> None:
    """The service raises a database error (as PostgreSQL's did) for one ProviderCred."""
    real = csv_io.upsert_licenses

    def upsert(session: Any, provider_cred_key: int, *args: Any, **kwargs: Any) -> Any:
        if provider_cred_key == cred_key:
            raise DataError("SELECT …", {}, Exception("numeric value out of range\nDETAIL: …"))
        return real(session, provider_cred_key, *args, **kwargs)

    monkeypatch.setattr(csv_io, "upsert_licenses", upsert)


@pytest.fixture
def failing_on_cred_2(
    app: Any, make_cred: Any, monkeypatch: pytest.MonkeyPatch
) -> pytest.MonkeyPatch:
    """ProviderCreds 1-3, batches of two, and a database error for ProviderCred 2."""
    for key in (1, 2, 3):
        make_cred(key)
    app.config["BATCH_MAX_ITEMS"] = 2
    fail_on_cred(monkeypatch, 2)
    return monkeypatch


def test_a_database_error_stops_the_import_after_reporting_every_committed_row(
    runner: Any, session_for: Any, tmp_path: Path, failing_on_cred_2: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "in.csv"
    source.write_text(f"{KEYS}\n1,1\n2,1\n3,1\nx,1\n4,2\n5,3\n")
    result = import_file(runner, source)
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[:4] == [
        "line 2: providerCredLicense_Key 1: 201 Created",
        "line 3: providerCredLicense_Key 2: 201 Created",
        "line 4: providerCredLicense_Key 3: 201 Created",
        "line 5: providerCredLicense_Key x: 400 providerCredLicense_Key: Not a valid integer.",
    ]
    assert lines[4].startswith("3 rows imported (0 unchanged), 1 failed (activity ")
    assert lines[5:] == [
        "Error: database error DataError (builtins.Exception): numeric value out of range. "
        "The rows listed above were processed; no other row was imported (the first: line 6)."
    ]
    assert sorted(stored(session_for)) == [1, 2, 3]


def test_a_database_error_in_a_later_window_reports_what_earlier_ones_wrote(
    runner: Any, session_for: Any, tmp_path: Path, failing_on_cred_2: pytest.MonkeyPatch
) -> None:
    failing_on_cred_2.setattr(csv_io, "READ_AHEAD_ROWS", 2)
    source = tmp_path / "in.csv"
    source.write_text(f"{KEYS}\n1,1\n2,3\n3,3\n4,2\n5,1\n")
    result = import_file(runner, source)
    assert result.exit_code == 1
    assert result.output.splitlines()[:3] == [
        "line 2: providerCredLicense_Key 1: 201 Created",
        "line 3: providerCredLicense_Key 2: 201 Created",
        "line 4: providerCredLicense_Key 3: 201 Created",
    ]
    assert "no other row was imported (the first: line 5)" in result.output
    assert sorted(stored(session_for)) == [1, 2, 3]


def test_rows_of_interleaved_provider_creds_go_in_one_batch_each(
    runner: Any, make_cred: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file sorted by license key, its ProviderCreds interleaved, is still written a batch
    per ProviderCred (not a batch per run of equal ProviderCreds), reported in file order."""
    make_cred(1)
    make_cred(2)
    calls: list[int] = []
    real = csv_io.upsert_licenses

    def upsert(session: Any, provider_cred_key: int, *args: Any, **kwargs: Any) -> Any:
        calls.append(provider_cred_key)
        return real(session, provider_cred_key, *args, **kwargs)

    monkeypatch.setattr(csv_io, "upsert_licenses", upsert)
    source = tmp_path / "in.csv"
    source.write_text(KEYS + "\n" + "".join(f"{k},{1 + k % 2}\n" for k in range(1, 11)))
    result = import_file(runner, source)
    assert result.exit_code == 0
    assert calls == [2, 1]
    reported = [line.split(":")[0] for line in result.output.splitlines()[:10]]
    assert reported == [f"line {n}" for n in range(2, 12)]


def test_a_failed_analyze_after_every_row_is_written_is_a_warning(
    runner: Any, session_for: Any, make_cred: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_cred(1)
    source = tmp_path / "in.csv"
    source.write_text(f"{KEYS}\n1,1\n")

    def analyze(_session: Any) -> None:
        raise OperationalError("ANALYZE provider_cred_license", {}, Exception("disk I/O error"))

    monkeypatch.setattr(csv_io, "analyze_licenses", analyze)
    result = import_file(runner, source)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == "line 2: providerCredLicense_Key 1: 201 Created"
    assert result.stderr == (
        "Warning: every row was processed, but refreshing the planner statistics failed "
        "(OperationalError (builtins.Exception): disk I/O error); run ANALYZE (PostgreSQL: "
        "VACUUM ANALYZE) on provider_cred_license and license_change later.\n"
    )
    assert list(stored(session_for)) == [1]


# ---------------------------------------------------------------------------------------------
# rows of the wrong length, keys repeated in the file


def test_a_cut_off_row_is_refused_and_keeps_the_stored_values(
    runner: Any, session_for: Any, make_cred: Any, make_license_type: Any, tmp_path: Path
) -> None:
    make_cred(1)
    make_license_type(1)
    with session_for() as session:
        upsert_licenses(
            session,
            1,
            [license_item(1, credLicenseType_Key=1), license_item(2)],
            actor="tester",
            activity_id="t",
        )
    exported = tmp_path / "out.csv"
    runner.invoke(args=["export-licenses", "-o", str(exported)])
    lines = exported.read_text().splitlines()
    cut = ",".join(lines[2].split(",")[:5])  # the last line, cut off after five cells
    extra = lines[1] + ",surplus"
    source = tmp_path / "in.csv"
    source.write_text(f"{lines[0]}\n{extra}\n{cut}\n")
    result = import_file(runner, source)
    assert result.exit_code == 1
    assert result.output.splitlines()[:2] == [
        "line 2: providerCredLicense_Key 1: 400 has 15 cells, the header has 14.",
        "line 3: providerCredLicense_Key 2: 400 has 5 cells, the header has 14.",
    ]
    after = stored(session_for)
    assert after[1].cred_license_type_key == 1
    assert after[2].state == "NY" and after[2].license_number is not None


def test_a_key_repeated_anywhere_in_the_file_is_409_on_every_occurrence(
    runner: Any, app: Any, session_for: Any, make_cred: Any, tmp_path: Path
) -> None:
    """Rows of one key in different batches: the later one used to win silently."""
    make_cred(1)
    app.config["BATCH_MAX_ITEMS"] = 2
    source = tmp_path / "in.csv"
    source.write_text(f"{KEYS},state\n1,1,NY\n2,1,NY\n3,1,NY\n01,1,CA\n2,1,TX\n1,1,WA\n")
    result = import_file(runner, source)
    assert result.exit_code == 1
    twice = "occurs 2 times in this file; every occurrence is rejected because the intended "
    thrice = "occurs 3 times in this file; every occurrence is rejected because the intended "
    ambiguous = "values are ambiguous."
    assert result.output.splitlines()[:6] == [
        f"line 2: providerCredLicense_Key 1: 409 providerCredLicense_Key 1 {thrice}{ambiguous}",
        f"line 3: providerCredLicense_Key 2: 409 providerCredLicense_Key 2 {twice}{ambiguous}",
        "line 4: providerCredLicense_Key 3: 201 Created",
        f"line 5: providerCredLicense_Key 1: 409 providerCredLicense_Key 1 {thrice}{ambiguous}",
        f"line 6: providerCredLicense_Key 2: 409 providerCredLicense_Key 2 {twice}{ambiguous}",
        f"line 7: providerCredLicense_Key 1: 409 providerCredLicense_Key 1 {thrice}{ambiguous}",
    ]
    assert list(stored(session_for)) == [3]


# ---------------------------------------------------------------------------------------------
# line numbers


def test_report_lines_are_the_physical_lines_where_rows_start(
    runner: Any, make_cred: Any, tmp_path: Path
) -> None:
    make_cred(1)
    source = tmp_path / "in.csv"
    source.write_bytes(
        b"providerCredLicense_Key,providerCred_Key,license_Name\r\n"
        b"\r\n"
        b"1,1,one\r\n"
        b"\n"
        b"\n"
        b'2,1,"two\nlines"\n'
        b"\n"
        b"3,1,three\n"
    )
    result = import_file(runner, source)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[:3] == [
        "line 3: providerCredLicense_Key 1: 201 Created",
        "line 6: providerCredLicense_Key 2: 201 Created",
        "line 9: providerCredLicense_Key 3: 201 Created",
    ]


# ---------------------------------------------------------------------------------------------
# files that cannot be imported at all: nothing is written


FIRST_ROW = "1,1,,,,NY,,,,,,,,"
EXPECTED = f"Expected names: {', '.join(CSV_COLUMNS)}."
BAD_FILES = {
    "empty": (b"", "Error: empty file: no header row and no rows. Nothing was imported."),
    "duplicated column": (
        f"{KEYS},license_Number,license_Number\n1,1,a,b\n".encode(),
        "Error: line 1: column 'license_Number' appears 2 times in the header; name each "
        "column once. Nothing was imported.",
    ),
    "no header row": (
        f"{FIRST_ROW}\n2,1,,,,NY,,,,,,,,\n".encode(),
        "Error: line 1: unknown column(s) '1', '1', '', '', '', 'NY' in the header. Is the "
        f"header row missing? {EXPECTED} Nothing was imported.",
    ),
    "semicolons": (
        f"{HEADER.replace(',', ';')}\n{FIRST_ROW.replace(',', ';')}\n".encode(),
        f"Error: line 1: unknown column(s) {HEADER.replace(',', ';')[:40]!r} in the header. "
        f"The columns must be separated by commas. {EXPECTED} Nothing was imported.",
    ),
    # It was "unknown column(s) ''", and why not said. (Empty columns that end the header, a
    # spreadsheet's, are dropped: test_a_spreadsheets_empty_columns_and_cleared_rows_are_ignored.)
    "a column without a name": (
        f"{KEYS},,state\n1,1,,NY\n".encode(),
        "Error: line 1: unknown column(s) '' in the header. A column has no name: is there "
        f"a comma too many? {EXPECTED} Nothing was imported.",
    ),
    "no key column": (
        b"providerCred_Key,state\n1,NY\n",
        "Error: line 1: the header has no providerCredLicense_Key column; every row needs one. "
        "Nothing was imported.",
    ),
    "windows-1252": (
        f"{HEADER}\n{FIRST_ROW}\n".encode() + b"2,1,,Jos\xe9,,NY,,,,,,,,\n",
        "Error: line 3: not UTF-8 text; save the file as UTF-8. Nothing was imported.",
    ),
    "utf-16": (
        f"{HEADER}\n{FIRST_ROW}\n".encode("utf-16"),
        "Error: line 1: not UTF-8 text; save the file as UTF-8. Nothing was imported.",
    ),
    "a cell over the csv field limit": (
        f'{HEADER}\n{FIRST_ROW}\n2,1,,"{"x" * 200_000},,NY,,,,,,,,\n'.encode(),
        f"Error: line 3: a cell is longer than {csv.field_size_limit()} characters (is a quote "
        "missing its closing quote?). Nothing was imported.",
    ),
    # Read leniently, the open quote took every line after it into one cell: those rows were
    # neither imported nor reported.
    "a quote never closed": (
        f'{HEADER}\n{FIRST_ROW}\n2,1,1,"abc,b,TX,,,,\n3,1,1,a,b,TX,,,,\n4,1,1,a,b,TX,,,,\n'.encode(),
        "Error: line 3: a quoted cell that starts on this line is never closed (is a quote "
        "missing its closing quote?). Nothing was imported.",
    ),
    "text after a closing quote": (
        f'{HEADER}\n{FIRST_ROW}\n2,1,1,"ab"c,b,TX,,,,\n'.encode(),
        "Error: line 3: a quoted cell is followed by more text before the next comma; quote "
        'the whole cell and double any quote inside it ("a ""b"" c"). Nothing was imported.',
    ),
}


@pytest.mark.parametrize(("content", "message"), BAD_FILES.values(), ids=list(BAD_FILES))
def test_a_file_that_is_not_the_exports_csv_is_refused_whole(
    runner: Any,
    session_for: Any,
    make_cred: Any,
    tmp_path: Path,
    content: bytes,
    message: str,
) -> None:
    make_cred(1)
    source = tmp_path / "in.csv"
    source.write_bytes(content)
    result = import_file(runner, source)
    assert result.exit_code == 1
    assert result.output == message + "\n"
    assert license_count(session_for) == 0


@pytest.mark.parametrize(
    "header",
    [
        "providerCredLicense_Key,providerCred_Key, state ",
        "ProviderCredLicense_Key,PROVIDERCRED_KEY,State",
        " providercredlicense_key ,providercred_key,STATE",
    ],
)
def test_a_column_named_in_another_letter_case_or_with_spaces_is_that_column(
    runner: Any, session_for: Any, make_cred: Any, tmp_path: Path, header: str
) -> None:
    """A retyped header or a spreadsheet's "Proper Case" was refused whole as unknown columns
    (and the grid's import took such a column as absent: its stored values were kept)."""
    make_cred(1)
    source = tmp_path / "in.csv"
    source.write_text(f"{header}\n7,1,ny\n", encoding="utf-8")
    result = import_file(runner, source)
    assert result.exit_code == 0, result.output
    assert stored(session_for)[7].state == "NY"


def test_a_column_named_twice_in_two_letter_cases_is_refused(
    runner: Any, session_for: Any, make_cred: Any, tmp_path: Path
) -> None:
    make_cred(1)
    source = tmp_path / "in.csv"
    source.write_text(f"{KEYS},state,State\n7,1,NY,CA\n", encoding="utf-8")
    result = import_file(runner, source)
    assert result.exit_code == 1
    assert "column 'state' appears 2 times in the header" in result.output
    assert license_count(session_for) == 0


def test_a_bom_and_known_columns_in_any_order_are_accepted(
    runner: Any, session_for: Any, make_cred: Any, tmp_path: Path
) -> None:
    make_cred(1)
    source = tmp_path / "in.csv"
    source.write_bytes("\ufeffstate,providerCred_Key,providerCredLicense_Key\nNY,1,7\n".encode())
    result = import_file(runner, source)
    assert result.exit_code == 0, result.output
    assert stored(session_for)[7].state == "NY"


# ---------------------------------------------------------------------------------------------
# standard input, and what the export writes comes back unchanged


def test_import_reads_standard_input(runner: Any, session_for: Any, make_cred: Any) -> None:
    make_cred(1)
    result = runner.invoke(args=["import-licenses", "-"], input=f"{KEYS}\n1,1\n1,1\n2,1\n")
    assert result.exit_code == 1
    assert result.output.splitlines()[2] == "line 4: providerCredLicense_Key 2: 201 Created"
    assert list(stored(session_for)) == [2]


def test_a_stream_that_cannot_seek_is_read_from_a_copy() -> None:
    from app.cli import seekable

    read_end, write_end = os.pipe()
    with os.fdopen(write_end, "wb") as writer:
        writer.write(b"a,b\n1,2\n")
    with os.fdopen(read_end, "rb") as pipe, seekable(pipe) as copy:
        assert not pipe.seekable()
        assert copy.read() == b"a,b\n1,2\n"
        copy.seek(0)
        assert copy.read() == b"a,b\n1,2\n"


def test_carriage_returns_inside_cells_survive_export_and_import(
    runner: Any, session_for: Any, make_cred: Any, tmp_path: Path
) -> None:
    make_cred(1)
    name = "a\rb\r\nc\nd"
    with session_for() as session:
        upsert_licenses(
            session, 1, [license_item(1, license_Name=name)], actor="t", activity_id="t"
        )
    exported = tmp_path / "out.csv"
    assert runner.invoke(args=["export-licenses", "-o", str(exported)]).exit_code == 0
    with session_for() as session:
        session.execute(ProviderCredLicense.__table__.update().values(license_name="changed"))
        session.commit()
    result = import_file(runner, exported)
    assert result.exit_code == 0, result.output
    assert stored(session_for)[1].license_name == name


def test_the_grid_import_reads_the_same_line_numbers() -> None:
    """``read_items`` (the grid's import) counts lines as the CLI does."""
    text = f"{KEYS}\n\n1,1\n\n2,1,extra\n3\n"
    assert list(csv_io.read_items(io.StringIO(text))) == [
        (3, {"providerCredLicense_Key": 1, "providerCred_Key": 1}),
        (
            5,
            {
                "providerCredLicense_Key": 2,
                "providerCred_Key": 1,
                csv_io.WRONG_CELL_COUNT: "This line has 3 cells and the header 2: is a comma or a "
                "quote out of place? Not imported.",
            },
        ),
        (
            6,
            {
                "providerCredLicense_Key": 3,
                "providerCred_Key": None,
                csv_io.WRONG_CELL_COUNT: "This line has 1 cells and the header 2: is it cut off? "
                "Not imported.",
            },
        ),
    ]


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("providerCredLicense_Key,license_Name,license_Name", "appears 2 times in the header"),
        ("providerCredLicense_Key,license_Name,foo", "unknown column"),
        ("providerCredLicense_Key;license_Name", "must be separated by commas"),
    ],
)
def test_the_grid_import_checks_the_header_as_the_cli_does(header: str, message: str) -> None:
    """A repeated column was read with its last value winning; an unknown one was refused row
    by row without naming it."""
    with pytest.raises(csv_io.CsvFileError, match=message):
        list(csv_io.read_items(io.StringIO(f"{header}\n1,x,y\n")))


#: A sheet saved by Excel after a column past term_Date was filled and cleared, and two rows
#: cleared: every line is as wide as the widest, the cleared rows commas only.
SPREADSHEET_SAVED = f"{KEYS},state,,\r\n1,1,NY,,\r\n,,,,\r\n2,1,CA,, \r\n,,,,\r\n3,1,TX,x,\r\n"


def test_a_spreadsheets_empty_columns_and_cleared_rows_are_ignored(
    runner: Any, session_for: Any, make_cred: Any, tmp_path: Path
) -> None:
    """The empty columns were "unknown column(s) ''" (nothing imported), and each cleared row
    a failed row ("providerCred_Key: Missing data"), the import exiting 1. A cell that is not
    empty past the header still makes its row too long."""
    make_cred(1)
    source = tmp_path / "saved.csv"
    source.write_bytes(SPREADSHEET_SAVED.encode())
    result = import_file(runner, source)
    assert result.exit_code == 1, result.output
    assert result.output.splitlines()[:3] == [
        "line 2: providerCredLicense_Key 1: 201 Created",
        "line 4: providerCredLicense_Key 2: 201 Created",
        "line 6: providerCredLicense_Key 3: 400 has 5 cells, the header has 3.",
    ]
    assert "2 rows imported (0 unchanged), 1 failed" in result.output
    assert {key: row.state for key, row in stored(session_for).items()} == {1: "NY", 2: "CA"}


def test_the_grid_import_ignores_a_spreadsheets_empty_columns_and_cleared_rows() -> None:
    items = list(csv_io.read_items(io.StringIO(SPREADSHEET_SAVED, newline="")))
    assert [(line, item.get("state"), csv_io.WRONG_CELL_COUNT in item) for line, item in items] == [
        (2, "NY", False),
        (4, "CA", False),
        (6, "TX", True),
    ]


def test_a_user_longer_than_the_audit_columns_is_refused(
    runner: Any, session_for: Any, make_cred: Any, tmp_path: Path
) -> None:
    """The audit columns hold 20 characters: a longer --user used to be cut silently."""
    make_cred(1)
    source = tmp_path / "in.csv"
    source.write_text(f"{KEYS}\n1,1\n")
    refused = runner.invoke(args=["import-licenses", str(source), "--user", "u" * 21])
    assert refused.exit_code == 2
    assert (
        f"Error: Invalid value for '--user': '{'u' * 21}' has 21 characters; the entry and "
        "update user columns hold at most 20." in refused.output
    )
    assert license_count(session_for) == 0
    result = import_file(runner, source, "--user", "u" * 20)
    assert result.exit_code == 0, result.output
    assert stored(session_for)[1].entry_user == "u" * 20


@pytest.mark.parametrize(
    ("user", "reason"),
    [
        ("", "must not be empty: it is recorded as who did this."),
        ("  ", "must not be empty: it is recorded as who did this."),
        ("a\x01b", "'a\\x01b' has a control character; use printable text."),
    ],
)
def test_a_blank_or_unprintable_user_is_refused(
    runner: Any, session_for: Any, make_cred: Any, tmp_path: Path, user: str, reason: str
) -> None:
    """An empty --user was accepted, and the history recorded no one."""
    make_cred(1)
    source = tmp_path / "in.csv"
    source.write_text(f"{KEYS}\n1,1\n")
    refused = runner.invoke(args=["import-licenses", str(source), "--user", user])
    assert refused.exit_code == 2
    assert f"Error: Invalid value for '--user': {reason}" in refused.output
    assert license_count(session_for) == 0


def test_a_file_with_lone_cr_line_ends_is_imported(
    runner: Any, session_for: Any, make_cred: Any, tmp_path: Path
) -> None:
    """Excel's "CSV (Macintosh)" ends lines with a CR alone; a CR inside a quoted cell stays."""
    make_cred(1)
    source = tmp_path / "mac.csv"
    source.write_bytes(f'{KEYS},license_Name\r1,1,"a\rb"\r2,1,x\r'.encode())
    result = import_file(runner, source)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[:2] == [
        "line 2: providerCredLicense_Key 1: 201 Created",
        "line 4: providerCredLicense_Key 2: 201 Created",
    ]
    assert stored(session_for)[1].license_name == "a\rb"


def stored_license(session_for: Any, key: int) -> dict[str, Any]:
    with session_for() as session:
        row = session.get(ProviderCredLicense, key)
        assert row is not None
        return csv_io.LICENSE_OUT_SCHEMA.dump(row)


def test_columns_a_file_lacks_keep_their_stored_values(
    runner: Any, session_for: Any, make_cred: Any, make_license_type: Any, tmp_path: Path
) -> None:
    """A file of keys and states changes the states: the other fields of a stored license are
    kept (a write replaces the whole license, so they were cleared, reported as '200 Updated')."""
    make_cred(1)
    make_license_type(9)
    full = license_item(
        7,
        credLicenseType_Key=9,
        license_Name="Pharmacist",
        license_Number="PharmD-NY-1",
        state="NY",
        effective_Date="2025-12-06",
    )
    with session_for() as session:
        assert all(o.ok for o in upsert_licenses(session, 1, [full], actor="t", activity_id="a"))
    before = stored_license(session_for, 7)
    source = tmp_path / "states.csv"
    source.write_text(f"{KEYS},state\n7,1,CA\n8,1,TX\n")
    result = import_file(runner, source)
    assert result.exit_code == 0, result.output
    after = stored_license(session_for, 7)
    changed = {k for k in before if before[k] != after[k]}
    assert changed - {"update_Date", "update_User"} == {"state"}
    assert after["state"] == "CA" and after["license_Number"] == "PharmD-NY-1"
    created = stored_license(session_for, 8)  # a new license has only what the file gives
    assert created["state"] == "TX" and created["license_Name"] is None


def test_a_license_changed_while_an_import_fills_its_absent_columns_is_not_overwritten(
    runner: Any, session_for: Any, make_cred: Any, tmp_path: Path, monkeypatch: Any
) -> None:
    make_cred(1)
    with session_for() as session:
        item = license_item(7, license_Name="Before", state="NY")
        assert all(o.ok for o in upsert_licenses(session, 1, [item], actor="t", activity_id="a"))
    real = csv_io.upsert_licenses

    def meanwhile(session: Any, cred: int, items: Any, **kwargs: Any) -> Any:
        # Someone renames the license between the import's read and its write.
        renamed = license_item(7, license_Name="Renamed meanwhile", state="NY")
        real(session, 1, [renamed], actor="colleague", activity_id="b")
        return real(session, cred, items, **kwargs)

    monkeypatch.setattr(csv_io, "upsert_licenses", meanwhile)
    source = tmp_path / "states.csv"
    source.write_text(f"{KEYS},state\n7,1,CA\n")
    result = import_file(runner, source)
    assert "409" in result.output and "changed since" in result.output
    after = stored_license(session_for, 7)
    assert (after["license_Name"], after["state"]) == ("Renamed meanwhile", "NY")


def test_digits_of_other_scripts_are_not_read_as_integers(
    runner: Any, session_for: Any, make_cred: Any, tmp_path: Path
) -> None:
    """``\\d`` matched Arabic-Indic and fullwidth digits, which ``int`` reads: a key written
    ``٨٠٠٢٠٥`` was created as 800205, where the API refuses it."""
    make_cred(1)
    source = tmp_path / "in.csv"
    source.write_text(
        "providerCredLicense_Key,providerCred_Key\n٨٠٠٢٠٥,1\n８００１２４,1\n", encoding="utf-8"
    )
    result = import_file(runner, source)
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0].startswith("line 2: ") and ": 400 providerCredLicense_Key: " in lines[0]
    assert lines[1].startswith("line 3: ") and ": 400 providerCredLicense_Key: " in lines[1]
    assert license_count(session_for) == 0


def test_a_cell_of_spaces_is_empty_as_a_spreadsheet_shows_it(
    runner: Any, session_for: Any, make_cred: Any, make_license_type: Any, tmp_path: Path
) -> None:
    """A blank-looking cell was read as text: "Not a valid integer" in an integer column, "Not
    a valid date-time" in a date column, and a key of spaces was reported as that key."""
    make_cred(1)
    source = tmp_path / "in.csv"
    source.write_text(
        "providerCredLicense_Key,providerCred_Key,credLicenseType_Key,effective_Date,state\n"
        "800, 1 ,  , ,\t\n"
        "   ,1,,,\n"
        "801, ,,,\n",
        encoding="utf-8",
    )
    result = import_file(runner, source)
    assert result.exit_code == 1
    assert result.output.splitlines()[:3] == [
        "line 2: providerCredLicense_Key 800: 201 Created",
        "line 3: providerCredLicense_Key (empty): 400 providerCredLicense_Key: "
        "Field may not be null.",
        "line 4: providerCredLicense_Key 801: 400 providerCred_Key: "
        "Missing data for required field.",
    ]
    created = stored(session_for)[800]
    assert (created.cred_license_type_key, created.effective_date, created.state) == (
        None,
        None,
        None,
    )


# ---------------------------------------------------------------------------------------------
# dates as a spreadsheet saves them

SPREADSHEET_DATES = {
    "1/2/2024": datetime(2024, 1, 2),  # US Excel's short date: month first
    "12/31/2026 0:00": datetime(2026, 12, 31),
    "1/2/24": datetime(2024, 1, 2),  # m/d/yy, LibreOffice's (en-US) default: 00-29 are 20xx
    "12/31/99": datetime(1999, 12, 31),
    "1/2/29": datetime(2029, 1, 2),
    "1/2/30": datetime(1930, 1, 2),
    "1/2/2024 1:30 PM": datetime(2024, 1, 2, 13, 30),
    "1/2/2024 12:15 AM": datetime(2024, 1, 2, 0, 15),
    "1/2/2024 12:15 PM": datetime(2024, 1, 2, 12, 15),
    "2024-01-02 0:00": datetime(2024, 1, 2),  # LibreOffice, or Excel's ISO format
    "02-Jan-24": datetime(2024, 1, 2),  # Excel's d-mmm-yy
    "2-Jan-2024": datetime(2024, 1, 2),
    "45292": datetime(2024, 1, 1),  # a date cell formatted as a number: Excel's serial
    "2024-01-02T00:00:00Z": datetime(2024, 1, 2),  # the export's own form, as it was
}


@pytest.mark.parametrize(("cell", "meant"), SPREADSHEET_DATES.items(), ids=list(SPREADSHEET_DATES))
def test_a_date_as_a_spreadsheet_saves_it_is_the_date_it_shows(
    runner: Any, session_for: Any, make_cred: Any, tmp_path: Path, cell: str, meant: datetime
) -> None:
    """Each was 400 "Not a valid date-time" on every row of a file a spreadsheet re-saved."""
    make_cred(1)
    source = tmp_path / "in.csv"
    source.write_text(f"{KEYS},effective_Date\n1,1,{cell}\n", encoding="utf-8")
    result = import_file(runner, source)
    assert result.exit_code == 0, result.output
    assert stored(session_for)[1].effective_date == meant


@pytest.mark.parametrize(
    "cell",
    [
        "2/30/2024",
        "13/1/2024",
        "02.01.2024",
        "1/2/224",
        "45292.5",
        "99",
        "240102",
        "20240102",
        "09999",  # five digits, but a serial below 10000 is not read as a date
        "1/2/2024 0:30 AM",
    ],
)
def test_a_date_no_spreadsheet_spelling_reads_is_refused_naming_the_column(
    runner: Any, session_for: Any, make_cred: Any, tmp_path: Path, cell: str
) -> None:
    """Not guessed: a day-first date (13/1/2024) or one that does not exist is refused."""
    make_cred(1)
    source = tmp_path / "in.csv"
    source.write_text(f"{KEYS},effective_Date\n1,1,{cell}\n", encoding="utf-8")
    result = import_file(runner, source)
    assert result.exit_code == 1
    assert result.output.startswith(
        "line 2: providerCredLicense_Key 1: 400 effective_Date: Not a valid date-time"
    ), result.output
    assert license_count(session_for) == 0


def test_the_grid_import_reads_a_spreadsheets_dates() -> None:
    text = f"{KEYS},term_Date,psV_Date\n1,1,1/2/2026,45292\n"
    (_, item), *_ = csv_io.read_items(io.StringIO(text, newline=""))
    assert (item["term_Date"], item["psV_Date"]) == ("2026-01-02T00:00:00", "2024-01-01T00:00:00")


def test_a_whole_number_written_with_decimals_is_that_integer(
    runner: Any, session_for: Any, make_cred: Any, make_license_type: Any, tmp_path: Path
) -> None:
    """A key column a spreadsheet or a script read as decimals ("5012.0") was 400 "Not a valid
    integer" on every row; a fraction or a thousands separator is still refused."""
    make_cred(1)
    make_license_type(3)
    source = tmp_path / "in.csv"
    source.write_text(
        f'{KEYS},credLicenseType_Key\n5012.0,1.0,3.00\n5013.5,1,\n"5,014",1,\n',
        encoding="utf-8",
    )
    result = import_file(runner, source)
    assert result.exit_code == 1
    assert result.output.splitlines()[:3] == [
        "line 2: providerCredLicense_Key 5012: 201 Created",
        "line 3: providerCredLicense_Key 5013.5: 400 providerCredLicense_Key: Not a valid integer.",
        "line 4: providerCredLicense_Key 5,014: 400 providerCredLicense_Key: Not a valid integer.",
    ]
    assert stored(session_for)[5012].cred_license_type_key == 3


def test_a_long_number_a_spreadsheet_cut_short_is_refused_not_stored(
    runner: Any, session_for: Any, make_cred: Any, tmp_path: Path
) -> None:
    """Excel saves a license number of 12 digits or more, read as a number, as "1.23457E+15":
    it was stored so, the digits lost without a word. A number written in full is kept."""
    make_cred(1)
    source = tmp_path / "in.csv"
    source.write_text(
        f"{KEYS},license_Number\n1,1,1.23457E+15\n2,1,1234567890123456\n3,1,'1E+05\n",
        encoding="utf-8",
    )
    result = import_file(runner, source)
    assert result.exit_code == 1
    assert result.output.splitlines()[:3] == [
        "line 2: providerCredLicense_Key 1: 400 license_Number: 1.23457E+15 is how a spreadsheet "
        "shows a long number, its last digits lost; format the column as Text, enter the numbers "
        "again and save again.",
        "line 3: providerCredLicense_Key 2: 201 Created",
        "line 4: providerCredLicense_Key 3: 201 Created",
    ]
    assert {key: row.license_number for key, row in stored(session_for).items()} == {
        2: "1234567890123456",
        3: "1E+05",  # the quote marks it text, as the export writes such a license number
    }


def test_the_grid_import_refuses_a_long_number_a_spreadsheet_cut_short() -> None:
    text = f"{KEYS},specialty_Code\n1,1,2.0E+11\n"
    ((_, item),) = csv_io.read_items(io.StringIO(text, newline=""))
    assert item[csv_io.WRONG_CELL_COUNT].startswith("specialty_Code: 2.0E+11 is how a spreadsheet")


@pytest.mark.parametrize(
    ("cell", "refused"),
    [
        ("-1.23457E+15", True),  # a negative number, cut short as well
        (" 1.23457E+15 ", True),
        ("1.23457E+15-B", False),  # text after it: no spreadsheet shows a number so
        ("TX-1.23457E+15", False),
    ],
)
def test_only_a_whole_cell_a_spreadsheet_shows_as_a_number_is_refused(
    cell: str, refused: bool
) -> None:
    text = f"{KEYS},license_Number\n1,1,{cell}\n"
    ((_, item),) = csv_io.read_items(io.StringIO(text, newline=""))
    assert (csv_io.WRONG_CELL_COUNT in item) is refused, item
