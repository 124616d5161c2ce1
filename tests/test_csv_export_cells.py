"""The license CSV export's cells (``app.licenses.export_cells``) are what the schema's dump and
the formula escaping write, for every kind of value a license can hold; and the export writes
them without marshmallow per row (three quarters of a download's time at 200,000 licenses)."""

from __future__ import annotations

import io
import itertools
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from app.licenses.csv_io import (
    CSV_COLUMNS,
    EXPORT_CELLS,
    LineEndSafeWriter,
    escape_cell,
    export_licenses,
)
from app.licenses.expiry import ExpiryClock
from app.licenses.models import ProviderCredLicense
from app.licenses.schemas import LICENSE_OUT_SCHEMA, LicenseOutSchema
from app.ui.expiry import FILTERS, SORTS, Worklist, worklist_statement

#: The CLI's export: every license by ProviderCred, then key.
EVERY_LICENSE = select(ProviderCredLicense).order_by(
    ProviderCredLicense.provider_cred_key, ProviderCredLicense.provider_cred_license_key
)

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


def dumped_export(session: Any, statement: Any, *, raw: bool) -> str:
    """What the export wrote before it read rows: each mapped license through the schema."""
    out = io.StringIO()
    writer = LineEndSafeWriter(out)
    writer.writerow(CSV_COLUMNS)
    for license in session.scalars(statement):
        dumped = LICENSE_OUT_SCHEMA.dump(license)
        writer.writerow(
            dumped[column] if raw else escape_cell(column, dumped[column]) for column in CSV_COLUMNS
        )
    return out.getvalue()


def test_every_download_writes_what_the_schemas_dump_of_its_licenses_writes(
    session_for: Any, make_cred: Any, make_license_type: Any
) -> None:
    """Read from the database as rows of the license table's columns (not as the unsaved
    licenses above), each of the expiring page's CSVs (every list, order and a state) and the
    CLI's export, escaped and raw, are the bytes the schema's dump of the mapped licenses
    gives: the statement's joins, filters and order kept, every column read under the
    schema's attribute name."""
    make_cred(1, provider_id="B")
    make_cred(2, provider_id="A")
    make_license_type(1, display="RN")
    now = datetime(2026, 12, 7, 12)
    days = [-400, -1, 10, 45, 80, 400]
    when = [None, datetime(1, 1, 1), datetime(9999, 12, 31, 23, 59, 59)]
    when += [now + timedelta(days=d) for d in days]
    with session_for() as session:
        for n, text in enumerate(TEXTS * 2):
            session.add(
                ProviderCredLicense(
                    provider_cred_license_key=1000 - n,
                    provider_cred_key=1 + n % 2,
                    cred_license_type_key=None if n % 3 else 1,
                    license_name=text,
                    license_number=text if text is None else text[:50],
                    state="TX" if n % 4 == 0 else (text if text is None else text[:2]),
                    specialty_code=text if text is None else text[:10],
                    effective_date=when[n % len(when)],
                    term_date=when[(n * 2) % len(when)],
                    psv_date=when[(n * 5) % len(when)],
                    entry_date=when[1 + n % 8],
                    entry_user=text if text is None else text[:20],
                    update_date=when[1 + (n + 3) % 8],
                    update_user=text if text is None else text[:20],
                )
            )
        session.commit()
    clock = ExpiryClock(now, 365)
    statements = [EVERY_LICENSE]
    for show, sort, state in itertools.product(FILTERS, SORTS, (None, "TX")):
        statements.append(worklist_statement(clock, Worklist(show=show, sort=sort, state=state)))
    rows = 0
    with session_for() as session:
        for statement, raw in itertools.product(statements, (False, True)):
            out = io.StringIO()
            export_licenses(session, out, statement=statement, raw=raw)
            assert out.getvalue() == dumped_export(session, statement, raw=raw), str(statement)
            rows += out.getvalue().count("\n") - 1
    assert rows > len(TEXTS) * 2 * 3
