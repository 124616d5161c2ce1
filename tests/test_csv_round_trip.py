"""An export imported again changes nothing, whatever the licenses hold: every edge of every
field (the smallest and largest keys, text at its length limit, line breaks, non-ASCII and
combining text, years 1 and 9999, times of day), as written and as rewritten with CRLF line
ends. Each row answers ``200 Unchanged`` and no history row, no audit stamp is written."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from app.history.models import LicenseChange
from app.licenses.models import ProviderCredLicense
from app.licenses.schemas import LICENSE_OUT_SCHEMA
from app.licenses.service import upsert_licenses
from tests.factories import bare_license_item

SMALLEST, LARGEST = -(2**31), 2**31 - 1
#: Text a license may hold, one per license: each a way a value could be read back otherwise.
NAMES = [
    "Line1\rLine2",  # a CR alone ends a line of Excel's "CSV (Macintosh)"
    "Line1\nLine2",
    "Line1\r\nLine2",
    "a, \"b\" 'c'",
    "e\u0301 \u00e9 \U0001f3e5 \u6771\u4eac",  # combining, precomposed, emoji, CJK
    "x\u2028y\x0bz",
    "\U0001f3e5" * 512,  # the length limit, in characters
    "'=quoted",
    "-5",
]
#: License numbers and specialty codes that look like what a spreadsheet does to numbers.
NUMBERS = ["00123", "45292", "1/2/24", "5012.0", "1.5E+10", "-1.5E+10", "1e+10", "'1E+10"]
DATES = {
    "effective_Date": "0001-01-01T00:00:00Z",
    "term_Date": "9999-12-31T23:59:59Z",
    "psV_Date": "2024-02-29T13:14:15Z",
}


def seed(session_for: Any, make_cred: Any, make_license_type: Any) -> None:
    make_cred(SMALLEST)
    make_cred(LARGEST)
    make_license_type(LARGEST)
    by_cred = {
        SMALLEST: [
            bare_license_item(
                SMALLEST + n, cred=SMALLEST, license_Name=name, credLicenseType_Key=LARGEST, **DATES
            )
            for n, name in enumerate(NAMES)
        ],
        LARGEST: [
            bare_license_item(
                LARGEST - n,
                cred=LARGEST,
                license_Number=number,
                specialty_Code=number[:10],
                state="pr",
            )
            for n, number in enumerate(NUMBERS)
        ],
    }
    for cred, items in by_cred.items():
        with session_for() as session:
            outcomes = upsert_licenses(session, cred, items, actor="seed", activity_id="seed")
        assert {o.status for o in outcomes} == {201}, outcomes


def stored(session_for: Any) -> tuple[list[dict[str, Any]], int]:
    """Every license as the API writes it (audit fields included), and the history's size."""
    with session_for() as session:
        rows = session.scalars(
            select(ProviderCredLicense).order_by(ProviderCredLicense.provider_cred_license_key)
        ).all()
        history = session.scalar(select(func.count()).select_from(LicenseChange))
        return [LICENSE_OUT_SCHEMA.dump(row) for row in rows], history or 0


def with_crlf_line_ends(text: str) -> str:
    """The file as a Windows program writes it again: each line ends in CRLF, a line break in
    a cell stays as it is."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(csv.reader(io.StringIO(text, newline="")))
    return out.getvalue()


@pytest.mark.parametrize("crlf", [False, True], ids=["as-exported", "crlf"])
def test_an_export_imports_again_unchanged(
    runner: Any,
    session_for: Any,
    make_cred: Any,
    make_license_type: Any,
    tmp_path: Path,
    crlf: bool,
) -> None:
    seed(session_for, make_cred, make_license_type)
    exported = tmp_path / "licenses.csv"
    result = runner.invoke(args=["export-licenses", "-o", str(exported)])
    assert result.exit_code == 0, result.output
    if crlf:
        exported.write_bytes(with_crlf_line_ends(exported.read_bytes().decode()).encode())
    before = stored(session_for)
    result = runner.invoke(args=["import-licenses", str(exported)])
    lines = [line for line in result.output.splitlines() if line.startswith("line ")]
    assert [line.split(": ", 1)[1] for line in lines] == [
        f"providerCredLicense_Key {key}: 200 Unchanged"
        for key in sorted(row["providerCredLicense_Key"] for row in before[0])
    ]
    assert result.exit_code == 0, result.output
    assert stored(session_for) == before


def test_a_cell_holding_a_cr_is_quoted(session_for: Any, make_cred: Any) -> None:
    """Python 3.11's writer quotes a cell holding the line terminator's characters only: with
    lines ending in LF, "Line1\\rLine2" was written bare, and a reader (the import, a
    spreadsheet) ended the line at the CR, the row cut in two."""
    from app.licenses.csv_io import export_licenses

    make_cred(1)
    with session_for() as session:
        upsert_licenses(
            session,
            1,
            [bare_license_item(5, license_Name="Line1\rLine2")],
            actor="seed",
            activity_id="seed",
        )
    out = io.StringIO()
    with session_for() as session:
        export_licenses(session, out)
    assert '"Line1\rLine2"' in out.getvalue()
    rows = list(csv.reader(io.StringIO(out.getvalue(), newline="")))
    assert [len(row) for row in rows] == [14, 14]


@pytest.mark.parametrize(
    ("value", "escaped"),
    [
        ("1.5E+10", "'1.5E+10"),
        ("1e+100", "'1e+100"),
        ("-1.5E+10", "'-1.5E+10"),  # a formula's escape too
        ("'1.5E+10", "''1.5E+10"),
        ("1.5E+1", "1.5E+1"),  # no spreadsheet shows a number so
        ("1.5E10", "1.5E10"),
        ("MD-1.5E+10", "MD-1.5E+10"),
        ("=1", "'=1"),
    ],
)
def test_a_number_a_spreadsheet_would_cut_short_is_escaped(value: str, escaped: str) -> None:
    """In the columns whose cells of that shape the import refuses, and only there."""
    from app.licenses.csv_io import escape_cell, escape_formula, unescape_cell

    for column in ("license_Number", "specialty_Code"):
        assert escape_cell(column, value) == escaped
        assert unescape_cell(column, escaped) == value
    assert escape_cell("license_Name", value) == escape_formula(value)


def test_a_bare_number_a_spreadsheet_cut_short_is_still_refused(
    runner: Any, make_cred: Any, tmp_path: Path
) -> None:
    make_cred(1)
    source = tmp_path / "in.csv"
    source.write_text(
        "providerCredLicense_Key,providerCred_Key,license_Number\n5,1,1.23457E+15\n6,1,'1.5E+10\n"
    )
    result = runner.invoke(args=["import-licenses", str(source)])
    assert result.output.splitlines()[:2] == [
        "line 2: providerCredLicense_Key 5: 400 license_Number: 1.23457E+15 is how a spreadsheet "
        "shows a long number, its last digits lost; format the column as Text, enter the numbers "
        "again and save again.",
        "line 3: providerCredLicense_Key 6: 201 Created",
    ]
