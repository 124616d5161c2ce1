"""CSV export and import of licenses (SPEC section 6). Import goes through the license service."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Any

from sqlalchemy import Select, select, text
from sqlalchemy.orm import Session

from app.batch.outcome import ParentNotFound
from app.licenses.models import ProviderCredLicense
from app.licenses.schemas import LICENSE_OUT_SCHEMA, WRITABLE_FIELDS
from app.licenses.service import upsert_licenses
from app.wire.records import AUDIT_FIELDS

CSV_COLUMNS = [*WRITABLE_FIELDS.values(), "entry_Date", "entry_User", "update_Date", "update_User"]
INTEGER_COLUMNS = {"providerCredLicense_Key", "providerCred_Key", "credLicenseType_Key"}
_INTEGER = re.compile(r"^\s*-?\d{1,12}\s*$")
EXPORT_CHUNK = 1000
#: A text cell starting with one of these is a formula to a spreadsheet (OWASP "CSV injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
#: An escaped cell: quotes, then a formula start. Cells of that shape are escaped once more on
#: export and lose one quote on import, so every value survives an export and re-import.
_ESCAPED = re.compile(r"^'+[=+\-@\t\r]")


def escape_formula(value: Any) -> Any:
    """``value`` with a leading ``'`` if a spreadsheet would read it as a formula."""
    if (
        isinstance(value, str)
        and value
        and (value.startswith(FORMULA_STARTS) or _ESCAPED.match(value))
    ):
        return "'" + value
    return value


def unescape_formula(cell: str) -> str:
    """Undo ``escape_formula``: drop the one quote it added."""
    return cell[1:] if _ESCAPED.match(cell) else cell


def export_licenses(
    session: Session,
    out: IO[str],
    *,
    statement: Select[Any] | None = None,
    raw: bool = False,
) -> int:
    """Write every license (or those ``statement`` selects first, in its order) as CSV
    (header = the JSON field names); returns the row count.

    Text that a spreadsheet would run as a formula gets a leading ``'`` unless ``raw``;
    ``import_licenses`` removes it again.
    """
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    count = 0
    if statement is None:
        statement = select(ProviderCredLicense).order_by(
            ProviderCredLicense.provider_cred_key, ProviderCredLicense.provider_cred_license_key
        )
    for row in session.scalars(statement.execution_options(yield_per=EXPORT_CHUNK)):
        record = LICENSE_OUT_SCHEMA.dump(row)
        if not raw:
            record = {column: escape_formula(value) for column, value in record.items()}
        writer.writerow(record)
        count += 1
    return count


@dataclass
class ImportedRow:
    line: int
    key: str
    status: int
    body: str


def csv_cell_to_json(column: str, cell: str | None) -> Any:
    """CSV has only text: empty is null, and whole numbers in integer columns are integers.

    A formula escape added by the export is removed first.
    """
    if cell is None or cell == "":
        return None
    cell = unescape_formula(cell)
    if column in INTEGER_COLUMNS and _INTEGER.match(cell):
        return int(cell)
    return cell


def read_items(source: IO[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(first line of the record, item)``; a quoted cell may span several lines."""
    reader = csv.DictReader(source)
    _ = reader.fieldnames  # reads the header
    start = reader.line_num + 1
    for record in reader:
        item = {
            column: csv_cell_to_json(column, cell)
            for column, cell in record.items()
            if column is not None and column not in AUDIT_FIELDS
        }
        if None in record:  # more cells than header columns
            item["(extra cells)"] = record[None]  # type: ignore[index]
        yield start, item
        start = reader.line_num + 1


def import_licenses(
    session: Session,
    source: IO[str],
    *,
    actor: str,
    activity_id: str,
    batch_size: int = 5000,
) -> list[ImportedRow]:
    """Upsert every CSV row through the license service, grouped by ProviderCred."""
    groups: dict[Any, list[tuple[int, dict[str, Any]]]] = {}
    for line, item in read_items(source):
        groups.setdefault(item.get("providerCred_Key"), []).append((line, item))
    report: list[ImportedRow] = []
    for cred_key, rows in groups.items():
        for chunk in _chunks(rows, batch_size):
            report.extend(_import_group(session, cred_key, chunk, actor, activity_id))
    report.sort(key=lambda r: r.line)
    return report


#: What an import fills: the planner's statistics of these are refreshed after it.
ANALYZED_TABLES = ("provider_cred_license", "license_change")


def analyze_licenses(session: Session) -> None:
    """Refresh the planner's statistics of the tables an import filled, so the next reads and
    batches are planned for what is there now rather than for what autovacuum last saw
    (SQLite: ``ANALYZE`` then ``PRAGMA optimize``).

    PostgreSQL: ``VACUUM (ANALYZE)``, which also sets the visibility map of the new pages, so
    the expiry counts are answered from their indexes alone: on a million freshly loaded
    licenses the counts read the heap instead, 0.8-1.1 s per expirables page against
    33-152 ms after a VACUUM. VACUUM cannot run in a transaction: the session's is committed
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


def _import_group(
    session: Session,
    cred_key: Any,
    rows: list[tuple[int, dict[str, Any]]],
    actor: str,
    activity_id: str,
) -> list[ImportedRow]:
    keys = [str(item.get("providerCredLicense_Key", "")) for _, item in rows]
    if not isinstance(cred_key, int) or isinstance(cred_key, bool):
        body = (
            "providerCred_Key: Not a valid integer."
            if cred_key is not None
            else ("providerCred_Key: Missing data for required field.")
        )
        return [
            ImportedRow(line, key, 400, body) for (line, _), key in zip(rows, keys, strict=True)
        ]
    try:
        outcomes = upsert_licenses(
            session, cred_key, [item for _, item in rows], actor=actor, activity_id=activity_id
        )
    except ParentNotFound:
        body = f"No provider credential {cred_key} in this database."
        return [
            ImportedRow(line, key, 404, body) for (line, _), key in zip(rows, keys, strict=True)
        ]
    return [
        ImportedRow(line, key, outcome.status, outcome.body)
        for (line, _), key, outcome in zip(rows, keys, outcomes, strict=True)
    ]


def _chunks(rows: list[Any], size: int) -> Iterable[list[Any]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]
