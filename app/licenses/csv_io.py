"""CSV export and import of licenses (SPEC section 6). Import goes through the license service."""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import IO, Any

from sqlalchemy import Select, bindparam, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from app.batch.outcome import ConcurrentWrites, ParentNotFound
from app.batch.write import key_in, key_set
from app.licenses.export_cells import ExportCells
from app.licenses.models import ProviderCredLicense
from app.licenses.schemas import KEY_FIELD, LICENSE_OUT_SCHEMA, WRITABLE_FIELDS
from app.licenses.service import upsert_licenses
from app.wire.fields import INT32_MAX, INT32_MIN, is_int32
from app.wire.records import AUDIT_FIELDS

CSV_COLUMNS = [*WRITABLE_FIELDS.values(), "entry_Date", "update_Date", "entry_User", "update_User"]
INTEGER_COLUMNS = {"providerCredLicense_Key", "providerCred_Key", "credLicenseType_Key"}
#: ASCII digits only: ``\d`` also matches other scripts' digits, which ``int`` reads.
# Any length Python reads as a number (its limit is 4,300 digits), so a key too long for int32
# is told so, not called "not an integer". A point and zeros may follow, as a spreadsheet or a
# script that read the column as decimals writes it ("5012.0"); "5012.5" stays text, refused.
_INTEGER = re.compile(r"^\s*(-?[0-9]{1,4000})(?:\.0*)?\s*$")
EXPORT_CHUNK = 1000
#: Without these two columns no row of a file could be imported.
REQUIRED_COLUMNS = (KEY_FIELD, "providerCred_Key")
#: How many unknown header names an error message lists.
MAX_NAMED_COLUMNS = 10
#: What a spreadsheet runs as a formula (OWASP "CSV injection"): a cell whose first character
#: after any leading white space is one of these, or their full-width forms (U+FF1D, U+FF0B,
#: U+FF0D, U+FF20), which some spreadsheets read as the ASCII ones.
FORMULA_CHARACTERS = "=+-@\uff1d\uff0b\uff0d\uff20"
#: A cell a spreadsheet would run: a formula character after any white space, or a tab or a CR
#: first (OWASP names those too).
_FORMULA = rf"(?:[\t\r]|\s*[{re.escape(FORMULA_CHARACTERS)}])"
_FORMULA_CELL = re.compile(_FORMULA)
#: An escaped cell: quotes, then a formula. Cells of that shape are escaped once more on
#: export and lose one quote on import, so every value survives an export and re-import.
_ESCAPED = re.compile("'+" + _FORMULA)


def escape_formula(value: Any) -> Any:
    """``value`` with a leading ``'`` if a spreadsheet would read it as a formula."""
    if isinstance(value, str) and (_FORMULA_CELL.match(value) or _ESCAPED.match(value)):
        return "'" + value
    return value


def unescape_formula(cell: str) -> str:
    """Undo ``escape_formula``: drop the one quote it added."""
    return cell[1:] if _ESCAPED.match(cell) else cell


def escape_cell(column: str, value: Any) -> Any:
    """``escape_formula``, and a leading ``'`` on a license number or specialty code that
    reads as a number a spreadsheet cut short (``1.5E+10``, after any quotes): the import
    refuses such a cell written bare (``spreadsheet_damage``), and took an export's own
    ``1.5E+10`` for one."""
    if isinstance(value, str) and value[:1].isalpha():
        # Most cells, and never escaped: a formula starts with white space or one of
        # FORMULA_CHARACTERS, an escaped cell with a quote, a number with a digit or "-".
        return value
    if column in NUMBER_TEXT_COLUMNS and isinstance(value, str) and _QUOTED_NUMBER.fullmatch(value):
        return "'" + value
    return escape_formula(value)


#: The export's cells: ``CSV_COLUMNS`` as ``LICENSE_OUT_SCHEMA`` writes them, escaped by
#: ``escape_cell``.
EXPORT_CELLS = ExportCells(CSV_COLUMNS, escape_cell)


def unescape_cell(column: str, cell: str) -> str:
    """Undo ``escape_cell``: drop the one quote it added."""
    if column in NUMBER_TEXT_COLUMNS and _ESCAPED_NUMBER.fullmatch(cell):
        return cell[1:]
    return unescape_formula(cell)


class LineEndSafeWriter:
    """CSV rows ending in LF, a cell holding a CR quoted too.

    Python 3.11's writer quotes a cell holding a character of its line terminator, not a CR
    when lines end in LF: "Line1\\rLine2" was written bare, and a reader (the import, which
    takes a lone CR as a line end, as Excel's "CSV (Macintosh)" writes it; a spreadsheet) cut
    the row in two there. Such a row is written with every cell quoted, which reads the same.
    """

    def __init__(self, out: IO[str]) -> None:
        self._minimal = csv.writer(out, lineterminator="\n")
        self._quoted = csv.writer(out, lineterminator="\n", quoting=csv.QUOTE_ALL)

    def writerow(self, row: Iterable[Any]) -> None:
        cells = list(row)
        has_cr = any(isinstance(cell, str) and "\r" in cell for cell in cells)
        (self._quoted if has_cr else self._minimal).writerow(cells)


def export_licenses(
    session: Session,
    out: IO[str],
    *,
    statement: Select[Any] | None = None,
    raw: bool = False,
) -> int:
    """Write every license (or those ``statement`` selects, in its order) as CSV (header =
    the JSON field names); returns the row count.

    Text that a spreadsheet would run as a formula gets a leading ``'`` unless ``raw``;
    ``import_licenses`` removes it again. The licenses are read as rows of the license
    table's columns (``statement``'s own columns replaced by those, its joins, filters and
    order kept), not as mapped objects: a fifth of a download's time went to making them.
    """
    writer = LineEndSafeWriter(out)
    writer.writerow(CSV_COLUMNS)
    count = 0
    if statement is None:
        statement = select(ProviderCredLicense).order_by(
            ProviderCredLicense.provider_cred_key, ProviderCredLicense.provider_cred_license_key
        )
    columns = statement.with_only_columns(*ProviderCredLicense.__table__.columns)
    for row in session.execute(columns.execution_options(yield_per=EXPORT_CHUNK)):
        writer.writerow(EXPORT_CELLS.cells(row, raw=raw))
        count += 1
    return count


@dataclass
class ImportedRow:
    line: int
    key: str
    status: int
    body: str
    #: The service's outcome (``app.batch.outcome``: created, updated, unchanged, …); ``None``
    #: for a row refused before it (its cells, its key).
    action: str | None = None


class CsvFileError(ValueError):
    """The file cannot be read as the export's CSV; the message names the line and why.

    Raised by the import's first pass (``scan_file``), so nothing has been written then.
    """


class ImportStopped(RuntimeError):
    """A database error stopped the import. ``processed`` are the rows of the last read-ahead
    window that were processed before it (report them: they are committed, as is everything
    yielded before); no other row was imported, the first of them being on ``line``."""

    def __init__(self, line: int, cause: BaseException, processed: list[ImportedRow]) -> None:
        super().__init__(f"line {line}: {cause}")
        self.line = line
        self.cause = cause
        self.processed = processed


@dataclass(frozen=True)
class CsvRecord:
    """One CSV record and the physical line where it starts."""

    line: int
    cells: list[str]


#: Where a line ends in a CR that no LF follows.
_AFTER_LONE_CR = re.compile(rb"(?<=\r)(?!\n)")


def text_lines(source: IO[bytes]) -> Iterator[str]:
    """The file's physical lines as text, line ends kept and a UTF-8 BOM dropped.

    Decoded line by line (a line break is byte 0x0A in UTF-8, never part of another
    character), so a file that is not UTF-8 is refused naming the first line that is not.
    """
    number = 0
    for chunk in source:
        # A file whose lines end in a lone CR (Excel's "CSV (Macintosh)") is one chunk here.
        for raw in _AFTER_LONE_CR.split(chunk):
            number += 1
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise CsvFileError(
                    f"line {number}: not UTF-8 text; save the file as UTF-8."
                ) from None
            yield line.removeprefix("\ufeff") if number == 1 else line


def csv_records(lines: Iterable[str]) -> Iterator[CsvRecord]:
    """Every non-blank record with the physical line where it starts (a record of empty cells
    only, a spreadsheet's cleared row ``,,,,``, is blank too).

    ``csv.reader`` yields blank lines as empty records (``DictReader`` drops them, which is why
    the line is counted here, from the reader's own line count). Strict: a quote never closed
    is an error, not a cell that swallows every line after it to the end of the file, and
    ``"ab"c`` is an error, not ``abc``.
    """
    reader = csv.reader(lines, strict=True)
    start = 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise CsvFileError(f"line {start}: {_csv_error_reason(exc)}") from None
        if any(cell.strip() for cell in cells):
            yield CsvRecord(start, cells)
        start = reader.line_num + 1


#: A column by its name in any letter case, spaces around it ignored: each is one column.
_COLUMNS_FOLDED = {column.casefold(): column for column in CSV_COLUMNS}


def _column_named(name: str) -> str:
    """The column ``name`` means, if it is one but for its letter case or the spaces around it
    (a spreadsheet's "Proper Case", a header retyped); else ``name`` as it is."""
    return _COLUMNS_FOLDED.get(name.strip().casefold(), name)


def table_records(lines: Iterable[str]) -> Iterator[CsvRecord]:
    """``csv_records`` as a table: the header, each name that is a column but for its letter
    case or surrounding spaces read as that column, without the empty cells that end it; then
    each record without the empty cells past the header's last column.

    A spreadsheet saves every row as wide as the widest it ever had: a column once filled and
    cleared ends each line, the header too, with empty cells (``…,term_Date,,``), and a row
    cleared is a line of commas only (``,,,,``), which ``csv_records`` skips as blank. A cell
    past the header that is not empty is kept, so that record is refused (more cells than
    the header).
    """
    records = csv_records(lines)
    header = next(records, None)
    if header is None:
        return
    names = [_column_named(name) for name in header.cells]
    while names and not names[-1].strip():
        names.pop()
    yield CsvRecord(header.line, names)
    width = len(names)
    for record in records:
        cells = record.cells
        if len(cells) > width and not any(cell.strip() for cell in cells[width:]):
            record = CsvRecord(record.line, cells[:width])
        yield record


def _csv_error_reason(exc: csv.Error) -> str:
    if "unexpected end of data" in str(exc):
        return (
            "a quoted cell that starts on this line is never closed "
            "(is a quote missing its closing quote?)."
        )
    if "expected after" in str(exc):
        return (
            "a quoted cell is followed by more text before the next comma; quote the whole "
            'cell and double any quote inside it ("a ""b"" c").'
        )
    if "field larger than field limit" in str(exc):
        return (
            f"a cell is longer than {csv.field_size_limit()} characters "
            "(is a quote missing its closing quote?)."
        )
    return f"not readable as CSV ({exc})."


def check_header(record: CsvRecord | None) -> list[str]:
    """The header's column names; ``CsvFileError`` unless each is one of ``CSV_COLUMNS``,
    named once, and the two key columns are there (no row could be imported otherwise)."""
    if record is None:
        raise CsvFileError("empty file: no header row and no rows.")
    names = check_column_names(record)
    for name in REQUIRED_COLUMNS:
        if name not in names:
            raise CsvFileError(
                f"line {record.line}: the header has no {name} column; every row needs one."
            )
    return names


def check_column_names(record: CsvRecord) -> list[str]:
    """The header's column names; ``CsvFileError`` unless each is one of ``CSV_COLUMNS``,
    named once (the grid's import, which fills a missing ProviderCred, checks only this)."""
    names = record.cells
    unknown = [name for name in names if name not in CSV_COLUMNS]
    if unknown:
        raise CsvFileError(f"line {record.line}: {_unknown_columns_message(names, unknown)}")
    for name in names:
        if names.count(name) > 1:
            raise CsvFileError(
                f"line {record.line}: column {name!r} appears {names.count(name)} times in the "
                "header; name each column once."
            )
    return names


def _unknown_columns_message(names: list[str], unknown: list[str]) -> str:
    shown = ", ".join(repr(name[:40]) for name in unknown[:MAX_NAMED_COLUMNS])
    more = (
        f" and {len(unknown) - MAX_NAMED_COLUMNS} more" if len(unknown) > MAX_NAMED_COLUMNS else ""
    )
    hint = ""
    if any(";" in name or "\t" in name for name in unknown):
        hint = " The columns must be separated by commas."
    elif len(unknown) == len(names):
        hint = " Is the header row missing?"
    elif any(not name.strip() for name in unknown):
        hint = " A column has no name: is there a comma too many?"
    return (
        f"unknown column(s) {shown}{more} in the header.{hint} "
        f"Expected names: {', '.join(CSV_COLUMNS)}."
    )


#: The date columns an import writes (the audit dates are the server's).
DATE_COLUMNS = {"effective_Date", "term_Date", "psV_Date"}
_MONTHS = {
    name: number
    for number, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1
    )
}
_TIME = (
    r"(?:\s+(?P<hour>[0-9]{1,2}):(?P<minute>[0-9]{2})(?::(?P<second>[0-9]{2}))?"
    r"\s*(?P<ampm>[AaPp][Mm])?)?"
)
#: How a spreadsheet writes a date cell it recognised: the ISO date with its own time
#: ("2024-01-02 0:00"), US Excel's month first ("1/2/2024", "1/2/2024 13:30", "1/2/24": the
#: en-US short date LibreOffice writes), Excel's "02-Jan-24" / "2-Jan-2024". A two-digit year
#: is 1930-2029, as both spreadsheets read it. (Not the grid's reading, ``app.ui.date_cells``:
#: that one reads what a person types; this one what a spreadsheet wrote, after its own rule
#: placed the year the person typed.)
_SPREADSHEET_DATES = [
    re.compile(rf"(?P<year>[0-9]{{4}})-(?P<month>[0-9]{{1,2}})-(?P<day>[0-9]{{1,2}}){_TIME}"),
    re.compile(
        rf"(?P<month>[0-9]{{1,2}})/(?P<day>[0-9]{{1,2}})/(?P<year>[0-9]{{2}}|[0-9]{{4}}){_TIME}"
    ),
    re.compile(
        rf"(?P<day>[0-9]{{1,2}})-(?P<name>[A-Za-z]{{3}})-(?P<year>[0-9]{{2}}|[0-9]{{4}}){_TIME}"
    ),
]
#: A date cell formatted as a number shows Excel's serial: days since 1899-12-30. Five digits
#: only (1927-05-18 to 2173-10-13): a shorter number is no date a license has, and a longer one
#: is more likely a date written without separators (``240102``, ``20240102``) than a serial
#: centuries away, so it is refused, not read as one.
_SERIAL = re.compile(r"[0-9]{5}")
_EXCEL_EPOCH = date(1899, 12, 30)


def spreadsheet_date(cell: str) -> str:
    """A spreadsheet's spelling of a date as the wire's ISO form (``2024-01-02T00:00:00``,
    UTC as every date without an offset); any other cell as it is, for the license schema
    to accept (ISO 8601, the export's form) or refuse."""
    text = cell.strip()
    if _SERIAL.fullmatch(text) and int(text) >= 10_000:
        return (_EXCEL_EPOCH + timedelta(days=int(text))).isoformat() + "T00:00:00"
    for shape in _SPREADSHEET_DATES:
        match = shape.fullmatch(text)
        if match is not None:
            return _iso_date(match) or cell
    return cell


def _iso_date(match: re.Match[str]) -> str | None:
    """The match's date and time in ISO form; ``None`` if it is no date (2/30/2024, 25:00)."""
    parts = match.groupdict()
    year = int(parts["year"])
    if len(parts["year"]) == 2:  # Excel's rule: 00-29 are 2000-2029, 30-99 are 1930-1999
        year += 2000 if year < 30 else 1900
    month = _MONTHS.get(parts["name"].lower()) if parts.get("name") else int(parts["month"])
    hour = int(parts["hour"] or 0)
    if parts["ampm"]:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if parts["ampm"].lower() == "pm" else 0)
    try:
        value = datetime(
            year,
            month or 0,
            int(parts["day"]),
            hour,
            int(parts["minute"] or 0),
            int(parts["second"] or 0),
        )
    except ValueError:
        return None
    return value.isoformat()


def csv_cell_to_json(column: str, cell: str | None) -> Any:
    """CSV has only text: empty is null, and whole numbers in integer columns are integers.

    A cell of white space only is empty too: a spreadsheet shows it blank, and read as text it
    was "Not a valid integer" in a key column, "Not a valid date-time" in a date column. A
    formula escape added by the export is removed first; a date column's spreadsheet spelling
    is read as the date it shows (``spreadsheet_date``).
    """
    if cell is None or not cell.strip():
        return None
    cell = unescape_cell(column, cell)
    if column in INTEGER_COLUMNS and (whole := _INTEGER.match(cell)):
        return int(whole[1])
    if column in DATE_COLUMNS:
        return spreadsheet_date(cell)
    return cell


def record_item(header: list[str], record: CsvRecord) -> dict[str, Any]:
    """The service item of a record: its cells by column name, the audit columns left out
    (the server stamps them). A missing cell is null, as ``csv.DictReader`` has it."""
    cells = record.cells + [""] * (len(header) - len(record.cells))
    return {
        column: csv_cell_to_json(column, cell)
        for column, cell in zip(header, cells, strict=False)
        if column not in AUDIT_FIELDS
    }


#: The key ``read_items`` gives a record it refuses (fewer or more cells than the header, a
#: number a spreadsheet cut short): why.
WRONG_CELL_COUNT = "(wrong cell count)"
#: Text columns that hold digits, which a spreadsheet reads as a number: 12 digits or more it
#: shows, and saves, as "1.23457E+15", the other digits lost.
NUMBER_TEXT_COLUMNS = ("license_Number", "specialty_Code")
_NUMBER = r"-?[0-9](?:\.[0-9]+)?[Ee]\+[0-9]{2,3}"
_SCIENTIFIC = re.compile(rf"\s*{_NUMBER}\s*")
#: Such a number after any quotes, as a stored text (``escape_cell``), and as escaped.
_QUOTED_NUMBER = re.compile(f"'*{_NUMBER}")
_ESCAPED_NUMBER = re.compile(f"'+{_NUMBER}")


def spreadsheet_damage(header: list[str], cells: list[str]) -> str | None:
    """Why a record must not be imported if a spreadsheet cut one of its numbers short (a
    license number no one writes "1.23457E+15"), else ``None``: stored, the digits are lost.
    Read from the cells as written: one the export escaped (``'1.5E+10``) is a stored text."""
    for column, cell in zip(header, cells, strict=False):
        if column in NUMBER_TEXT_COLUMNS and _SCIENTIFIC.fullmatch(cell):
            return (
                f"{column}: {cell.strip()} is how a spreadsheet shows a long number, its last "
                "digits lost; format the column as Text, enter the numbers again and save again."
            )
    return None


def read_items(source: Iterable[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(first line of the record, item)``; a quoted cell may span several lines.

    A record with more or fewer cells than the header carries ``WRONG_CELL_COUNT``, a message
    for its reader to refuse it with: a cut-off line's missing cells would clear those fields,
    and extra cells mean a comma or a quote out of place.
    """
    records = table_records(source)
    header = next(records, None)
    if header is None:
        return
    check_column_names(header)
    for record in records:
        item = record_item(header.cells, record)
        if len(record.cells) > len(header.cells):
            item[WRONG_CELL_COUNT] = (
                f"This line has {len(record.cells)} cells and the header "
                f"{len(header.cells)}: is a comma or a quote out of place? Not imported."
            )
        elif len(record.cells) < len(header.cells):
            item[WRONG_CELL_COUNT] = (
                f"This line has {len(record.cells)} cells and the header "
                f"{len(header.cells)}: is it cut off? Not imported."
            )
        elif damage := spreadsheet_damage(header.cells, record.cells):
            item[WRONG_CELL_COUNT] = f"{damage} Not imported."
        yield record.line, item


@dataclass
class FileScan:
    """What the first pass over an import file found."""

    header: list[str]
    #: Keys on more than one row → on how many rows.
    repeated_keys: dict[int, int]


def scan_file(source: IO[bytes]) -> FileScan:
    """Read the whole file once before anything is written: it must be UTF-8 CSV with a
    valid header; returns the keys that occur on more than one row.

    Memory: one set of the file's keys (a million keys take some tens of MB).
    """
    records = table_records(text_lines(source))
    header = check_header(next(records, None))
    key_column = header.index(KEY_FIELD)
    seen: set[int] = set()
    repeated: dict[int, int] = {}
    for record in records:
        if key_column >= len(record.cells):
            continue
        key = csv_cell_to_json(KEY_FIELD, record.cells[key_column])
        if not isinstance(key, int):
            continue
        if key in seen:
            repeated[key] = repeated.get(key, 1) + 1
        seen.add(key)
    return FileScan(header, repeated)


@dataclass
class ParsedRow:
    """One data row: its item for the service, or why it is refused before any database work."""

    line: int
    key: str
    item: dict[str, Any]
    refusal: tuple[int, str] | None = None

    @property
    def cred_key(self) -> Any:
        return self.item.get("providerCred_Key")


def parse_rows(source: IO[bytes], scan: FileScan) -> Iterator[ParsedRow]:
    """The file's data rows (second pass), each refused here when it cannot be sent."""
    records = table_records(text_lines(source))
    next(records, None)  # the header, checked by ``scan_file``
    for record in records:
        item = record_item(scan.header, record)
        key = item.get(KEY_FIELD)
        key = "" if key is None else str(key)
        yield ParsedRow(record.line, key, item, row_refusal(scan, record, item))


def row_refusal(scan: FileScan, record: CsvRecord, item: dict[str, Any]) -> tuple[int, str] | None:
    """Status and body of a row that must not reach the service, else ``None``.

    The service's own rules are not repeated here: only what the file's shape decides (a
    cut-off or overlong row, a number a spreadsheet cut short, a key repeated elsewhere in the
    file) and the ProviderCred key, which the service takes as its parent and looks up, so it
    must be a valid int32 first.
    """
    if len(record.cells) != len(scan.header):
        return 400, f"has {len(record.cells)} cells, the header has {len(scan.header)}."
    damage = spreadsheet_damage(scan.header, record.cells)
    if damage is not None:
        return 400, damage
    key = item.get(KEY_FIELD)
    if isinstance(key, int) and key in scan.repeated_keys:
        return 409, (
            f"{KEY_FIELD} {key} occurs {scan.repeated_keys[key]} times in this file; every "
            "occurrence is rejected because the intended values are ambiguous."
        )
    cred_key = item.get("providerCred_Key")
    if cred_key is None:
        return 400, "providerCred_Key: Missing data for required field."
    if not isinstance(cred_key, int):
        return 400, "providerCred_Key: Not a valid integer."
    if not is_int32(cred_key):
        return 400, f"providerCred_Key: Must be a 32-bit integer ({INT32_MIN} to {INT32_MAX})."
    return None


#: Rows read ahead and grouped by ProviderCred before any of them is written: a file in any
#: order still reaches the service in batches of one ProviderCred (a file sorted by license
#: key, its ProviderCreds interleaved, otherwise makes many small batches, each one
#: transaction), while memory stays bounded whatever the file's size.
READ_AHEAD_ROWS = 20_000


def import_licenses(
    session: Session,
    source: IO[bytes],
    *,
    actor: str,
    activity_id: str,
    batch_size: int = 5000,
    stop_requested: Callable[[], bool] = lambda: False,
) -> Iterator[list[ImportedRow]]:
    """Upsert every CSV row through the license service; yields the report of each
    read-ahead window, in file order, once all of its batches are committed.

    ``source`` is read twice (it must be seekable): first ``scan_file`` (``CsvFileError``
    before anything is written), then the rows, ``READ_AHEAD_ROWS`` at a time, each window's
    rows grouped by ProviderCred, each group in batches of at most ``batch_size`` (one
    service call and one commit each). A database error raises ``ImportStopped``. Once
    ``stop_requested()`` is true (asked before each window), no further window is imported.
    """
    scan = scan_file(source)
    source.seek(0)
    absent = absent_columns(scan.header)
    window: list[ParsedRow] = []
    for row in parse_rows(source, scan):
        window.append(row)
        if len(window) >= max(READ_AHEAD_ROWS, batch_size):
            if stop_requested():
                return
            yield _import_window(session, window, batch_size, actor, activity_id, absent)
            window = []
    if window and not stop_requested():
        yield _import_window(session, window, batch_size, actor, activity_id, absent)


def absent_columns(header: list[str]) -> list[str]:
    """The data columns a file's header lacks: an import leaves them as stored. The key and the
    ProviderCred are never filled from what is stored (the CLI requires both; the grid's import
    gives a keyless row a free key and a row without a ProviderCred its own grid's)."""
    return [
        column
        for column in WRITABLE_FIELDS.values()
        if column not in header and column not in REQUIRED_COLUMNS
    ]


def _import_window(
    session: Session,
    rows: list[ParsedRow],
    batch_size: int,
    actor: str,
    activity_id: str,
    absent: list[str],
) -> list[ImportedRow]:
    """The rows' report in file order: refused rows as refused, the others through the
    service, a batch per ProviderCred (in the order each first appears) and ``batch_size``."""
    report = [ImportedRow(r.line, r.key, *r.refusal) for r in rows if r.refusal is not None]
    groups: dict[int, list[ParsedRow]] = {}
    for row in rows:
        if row.refusal is None:
            groups.setdefault(row.cred_key, []).append(row)
    batches = [
        (cred_key, group[start : start + batch_size])
        for cred_key, group in groups.items()
        for start in range(0, len(group), batch_size)
    ]
    for done, (cred_key, batch) in enumerate(batches):
        try:
            answers = _service_answers(session, cred_key, batch, actor, activity_id, absent)
        except (SQLAlchemyError, ConcurrentWrites) as exc:
            not_imported = [row.line for _, rest in batches[done:] for row in rest]
            report.sort(key=lambda r: r.line)
            raise ImportStopped(min(not_imported), exc, report) from exc
        report.extend(
            ImportedRow(row.line, row.key, *answer)
            for row, answer in zip(batch, answers, strict=True)
        )
    report.sort(key=lambda r: r.line)
    return report


@lru_cache(maxsize=4)
def _stored_licenses_of(dialect_name: str) -> Select[Any]:
    """The licenses of one ProviderCred among a key set: one statement whatever the count."""
    table = ProviderCredLicense
    return select(table).where(
        key_in(table.provider_cred_license_key, "keys", dialect_name),
        table.provider_cred_key == bindparam("cred"),
    )


def keep_absent_columns(
    session: Session, cred_key: int, items: list[dict[str, Any]], absent: list[str]
) -> dict[int, datetime | None]:
    """Fill each item of a stored license of ``cred_key`` with its stored values of the
    ``absent`` columns (a file of keys and states changes the states only; a write replaces a
    whole license, so the columns would otherwise be cleared); returns the versions read, for
    the service to refuse a license changed in between (409) rather than overwrite it with
    what was read. One query per batch.
    """
    # A key outside int32 is refused by the service; PostgreSQL would refuse the whole read.
    keys = {key for item in items if is_int32(key := item.get(KEY_FIELD))}
    dialect = session.get_bind().dialect.name
    parameters = {"keys": key_set(dialect, keys), "cred": cred_key}
    stored = session.scalars(_stored_licenses_of(dialect), parameters).all() if keys else []
    read = {
        row.provider_cred_license_key: (LICENSE_OUT_SCHEMA.dump(row), row.update_date)
        for row in stored
    }
    session.rollback()  # the read's transaction ends here; the service takes its own
    # A key not stored at the read is expected absent: created meanwhile, it is not overwritten.
    versions: dict[int, datetime | None] = dict.fromkeys(keys)
    for item in items:
        values, version = read.get(item.get(KEY_FIELD), (None, None))  # type: ignore[arg-type]
        if values is not None:
            item.update({column: values[column] for column in absent})
            versions[item[KEY_FIELD]] = version
    return versions


#: What an import fills: the planner's statistics of these are refreshed after it.
ANALYZED_TABLES = ("provider_cred_license", "license_change")


def analyze_licenses(session: Session) -> None:
    """Refresh the planner's statistics of the tables an import filled, so the next reads and
    batches are planned for what is there now rather than for what autovacuum last saw
    (SQLite: ``ANALYZE`` then ``PRAGMA optimize``).

    PostgreSQL: ``VACUUM (ANALYZE)``, which also sets the visibility map of the new pages, so
    the expiry counts are answered from their indexes alone: on freshly loaded licenses
    without it the counts read the table's pages instead, several times slower at a million
    licenses (docs/performance.md). VACUUM cannot run in a transaction: the session's is committed
    first and the tables are vacuumed on a connection of their own, in autocommit.
    """
    engine = session.get_bind()
    if engine.dialect.name == "postgresql":
        session.commit()
        with engine.connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT")
            for table in ANALYZED_TABLES:
                connection.execute(text(f"VACUUM (ANALYZE) {table}"))
        return
    for table in ANALYZED_TABLES:
        session.execute(text(f"ANALYZE {table}"))
    session.execute(text("PRAGMA optimize"))
    session.commit()


def _service_answers(
    session: Session,
    cred_key: int,
    rows: list[ParsedRow],
    actor: str,
    activity_id: str,
    absent: list[str],
) -> list[tuple[int, str, str | None]]:
    items = [row.item for row in rows]
    expected = keep_absent_columns(session, cred_key, items, absent) if absent else None
    try:
        outcomes = upsert_licenses(
            session,
            cred_key,
            items,
            actor=actor,
            activity_id=activity_id,
            expected_versions=expected,
        )
    except ParentNotFound:
        return [(404, f"No provider credential {cred_key} in this database.", None)] * len(rows)
    return [(outcome.status, outcome.body, outcome.action) for outcome in outcomes]
