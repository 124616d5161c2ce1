"""The license CSV export's cells (``app.licenses.export_cells``) are what the schema's dump and
the formula escaping write, for every kind of value a license can hold; and the export writes
them without marshmallow per row (three quarters of a download's time at 200,000 licenses)."""

from __future__ import annotations

import io
from datetime import date, datetime
from typing import Any

import pytest

from app.licenses.csv_io import CSV_COLUMNS, EXPORT_CELLS, escape_cell, export_licenses
from app.licenses.models import ProviderCredLicense
from app.licenses.schemas import LICENSE_OUT_SCHEMA, LicenseOutSchema

#: Text cells: formulas (ASCII and full-width, after white space), quotes, numbers a
#: spreadsheet cuts short, line ends, letters of other scripts, empty and missing.
TEXTS = [
    None,
    "",
    "plain",
    "=1+2",
    " +cmd",
    "\t@x",
    "\rx",
    "-5",
    "\uff1dSUM(A1)",
    "'=quoted",
    "''+twice",
    "1.5E+10",
    "-1.5E+10",
    "'1E+10",
    "00123",
    "Line1\rLine2",
    "\u00e9l\u00e8ve",
    "\u6771\u4eac",
    "\U0001f3e5 emoji",
    "E+10",
    "\u00a0=nbsp first",
]
DATES: list[Any] = [None, datetime(1, 1, 1), datetime(9999, 12, 31, 23, 59, 59, 999999)]
DATES += [datetime(2024, 2, 29, 13, 14, 15, 500), date(2024, 1, 2)]


def licenses() -> list[ProviderCredLicense]:
    """Licenses (never stored) holding each text in each text column, each date in each date
    column, the smallest and largest keys."""
    made = []
    for n, text in enumerate(TEXTS):
        when = DATES[n % len(DATES)]
        made.append(
            ProviderCredLicense(
                provider_cred_license_key=-(2**31) + n,
                provider_cred_key=2**31 - 1,
                cred_license_type_key=None if n % 2 else n,
                license_name=text,
                license_number=text if text is None else text[:50],
                state=text if text is None else text[:2],
                specialty_code=text if text is None else text[:10],
                effective_date=when,
                term_date=DATES[(n + 1) % len(DATES)],
                psv_date=DATES[(n + 2) % len(DATES)],
                entry_date=when or datetime(2020, 1, 1),
                entry_user=text,
                update_date=DATES[(n + 3) % len(DATES)] or datetime(2021, 1, 1),
                update_user=text,
            )
        )
    return made


@pytest.mark.parametrize("raw", [False, True])
def test_cells_are_the_schemas_dump_escaped(raw: bool) -> None:
    for license in licenses():
        dumped = LICENSE_OUT_SCHEMA.dump(license)
        expected = [
            dumped[column] if raw else escape_cell(column, dumped[column]) for column in CSV_COLUMNS
        ]
        assert EXPORT_CELLS.cells(license, raw=raw) == expected, license.license_name


class ListedSession:
    """What ``export_licenses`` asks of a session: the licenses its statement selects."""

    def __init__(self, rows: list[ProviderCredLicense]) -> None:
        self.rows = rows

    def execute(self, statement: Any) -> list[ProviderCredLicense]:
        return self.rows


def test_export_writes_rows_without_the_schema(monkeypatch: pytest.MonkeyPatch) -> None:
    dumps = []

    def counted(self: Any, obj: Any, *, many: bool | None = None) -> Any:
        dumps.append(obj)
        raise AssertionError("the export dumped a row through marshmallow")

    rows = licenses()
    out = io.StringIO()
    monkeypatch.setattr(LicenseOutSchema, "dump", counted)
    count = export_licenses(ListedSession(rows), out)  # type: ignore[arg-type]
    monkeypatch.undo()
    assert (count, dumps) == (len(rows), [])
    lines = out.getvalue().splitlines()
    assert lines[0] == ",".join(CSV_COLUMNS)


def test_the_export_writes_every_field_of_the_schema() -> None:
    """The export's columns are the schema's fields (a field of a kind without a conversion
    stops ``app.licenses.export_cells``'s import, naming it)."""
    assert sorted(CSV_COLUMNS) == sorted(LICENSE_OUT_SCHEMA.fields)
