"""Import a spreadsheet (CSV with the export's columns) into one ProviderCred's grid.

First a preview: the rows go through the license service's batch dry run (nothing is written),
and the page shows per row what would happen: created, updated with old → new per cell,
unchanged, or the errors in staff words. Then Apply sends the same rows through the same
service. The preview carries the CSV text and the versions of the rows it previewed, so Apply
writes nothing over a row someone changed after the preview (that row is a conflict).

A preview is applied once. Its form carries a signed one-time token; Apply claims it in the
idempotency store (the database, so every worker and host sees the claim) before writing, and
keeps the result there for the result page it redirects to (Post/Redirect/Get). A reload, a
second click, Back and Apply again, or a replayed POST find the claim and write nothing: rows
without a key would otherwise be created again with new keys.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import secrets
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy.orm import Session

from app.batch.outcome import (
    CONFLICT,
    CREATED,
    INVALID,
    UNCHANGED,
    UPDATED,
    ItemOutcome,
    ParentNotFound,
)
from app.idempotency.store import (
    RETENTION,
    STAFF_UI_SCOPE_ID,
    Claim,
    KeyBusy,
    KeyReused,
    KeyScope,
    StoredAnswer,
    claim_key,
    release_key,
    store_answer,
    stored_record,
)
from app.licenses.csv_io import (
    WRONG_CELL_COUNT,
    CsvFileError,
    absent_columns,
    keep_absent_columns,
    read_items,
    table_records,
)
from app.licenses.keys import upsert_assigning_keys
from app.licenses.schemas import KEY_FIELD
from app.ui.cell_messages import cell_messages
from app.ui.cell_values import format_date_cell, state_cell
from app.ui.grid import COLUMN_NAMES, COLUMNS
from app.ui.grid_data import license_types, load_licenses_by_key
from app.wire.fields import is_int32

PARENT_FIELD = "providerCred_Key"
LABELS = {column.name: column.label for column in COLUMNS}
DATE_FIELDS = {column.name for column in COLUMNS if column.kind == "date"}
UNREADABLE_FILE = (
    "This file is not a CSV saved as UTF-8 text (line {line} is not); save it as “CSV UTF-8” "
    "and retry."
)
NOT_CSV = "This file has no header row with the export's columns (e.g. license_Number)."
CONFLICT_MESSAGE = "Changed by someone else after the preview; not imported. Preview again."
OTHER_CRED = "This row belongs to provider credential {cred}; import it on that grid."
KEY_TAKEN = "This key belongs to another license; leave the key empty to get a free one."
TYPE_FIELD = "credLicenseType_Key"
#: A date as the export writes it, for the message about a date the import cannot read.
CSV_DATE_EXAMPLE = "2027-03-31"
TOO_MANY_ROWS = (
    "This file has {rows:,} rows; import at most {max_rows:,}. Split it into files of "
    "{max_rows:,} rows or fewer and import each of them."
)
REPEATED_KEY = (
    "This key is on {count} rows of this file, so none of them is imported; keep it on one row."
)


class ImportFileError(ValueError):
    """The upload cannot be read as the export's CSV at all (a message for the page)."""


@dataclass(frozen=True)
class CellChange:
    label: str
    old: str
    new: str


@dataclass
class PreviewRow:
    """One CSV row and what the service said (or would say) about it."""

    line: int
    key: int | None
    action: str
    changes: list[CellChange] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return self.action in (INVALID, CONFLICT)


@dataclass
class ImportResult:
    rows: list[PreviewRow]
    versions: dict[int, str | None]

    def count(self, action: str) -> int:
        return sum(1 for row in self.rows if row.action == action)

    @property
    def failed(self) -> int:
        return sum(1 for row in self.rows if row.failed)


def decode_upload(data: bytes) -> str:
    """The upload as text, a UTF-8 BOM dropped; refused naming the first line not UTF-8 (a
    spreadsheet's plain "CSV" is Windows-1252: "Café" is byte E9 there)."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) or data.count(b"\r", 0, exc.start)
        raise ImportFileError(UNREADABLE_FILE.format(line=line + 1)) from None


def parse_rows(
    text: str, provider_cred_key: int
) -> tuple[list[tuple[int, dict[str, Any]]], list[str]]:
    """The CSV's rows as service items of this ProviderCred (``csv_io``'s parsing)."""
    rows: list[tuple[int, dict[str, Any]]] = []
    try:
        # The header as the rows are read (the first line not blank; "State" is the state
        # column, not one absent).
        first = next(table_records(io.StringIO(text, newline="")), None)
        names = first.cells if first is not None else []
        header = ",".join(names).casefold()
        if not any(name.casefold() in header for name in COLUMN_NAMES if name != KEY_FIELD):
            raise ImportFileError(NOT_CSV)
        absent = absent_columns(names)
        for line, item in read_items(io.StringIO(text, newline="")):
            if item.get(PARENT_FIELD) is None:
                item[PARENT_FIELD] = provider_cred_key
            if isinstance(item.get("state"), str):  # a state's name, as the grid reads it
                item["state"] = state_cell(item["state"])
            rows.append((line, item))
    except CsvFileError as exc:
        raise ImportFileError(f"This file cannot be read as CSV: {exc}") from None
    return rows, absent


def run_import(
    session: Session,
    provider_cred_key: int,
    text: str,
    *,
    actor: str,
    activity_id: str,
    dry_run: bool,
    versions: dict[int, str | None] | None = None,
    max_rows: int,
) -> ImportResult:
    """Preview (``dry_run``) or apply the CSV ``text``. Raises ``ImportFileError``."""
    rows, absent = parse_rows(text, provider_cred_key)
    if not rows:
        raise ImportFileError("This file has a header but no rows to import.")
    if len(rows) > max_rows:
        raise ImportFileError(TOO_MANY_ROWS.format(rows=len(rows), max_rows=max_rows))
    results: dict[int, PreviewRow] = {}
    sent: list[int] = []
    for index, (line, item) in enumerate(rows):
        parent = item.get(PARENT_FIELD)
        if WRONG_CELL_COUNT in item:
            results[index] = PreviewRow(line, None, INVALID, errors=[item[WRONG_CELL_COUNT]])
        elif parent != provider_cred_key:
            results[index] = PreviewRow(
                line, None, INVALID, errors=[OTHER_CRED.format(cred=parent)]
            )
        else:
            sent.append(index)
    items = [rows[i][1] for i in sent]
    # Columns the file lacks keep a stored license's values, as the CLI's import does.
    expected = keep_absent_columns(session, provider_cred_key, items, absent) if absent else None
    if versions is not None:  # applying: every row as the preview saw it, or not at all
        expected = {
            key: None if v is None else datetime.fromisoformat(v) for key, v in versions.items()
        }
    outcomes = upsert_assigning_keys(
        session,
        provider_cred_key,
        items,
        actor=actor,
        activity_id=activity_id,
        dry_run=dry_run,
        expected_versions=expected,
    )
    repeats = Counter(item.get(KEY_FIELD) for item in items)
    types = {choice.key: choice.label for choice in license_types(session)}
    for index, outcome in zip(sent, outcomes, strict=True):
        key = rows[index][1].get(KEY_FIELD)
        results[index] = _preview_row(
            rows[index][0],
            outcome,
            keyless=key is None,
            repeats=repeats[key] if key is not None else 1,
            type_labels=types,
        )
    ordered = [results[i] for i in range(len(rows))]
    return ImportResult(ordered, _versions(session, ordered) if dry_run else {})


def _versions(session: Session, rows: Sequence[PreviewRow]) -> dict[int, str | None]:
    """What the preview saw for each keyed row: the stored version of a row it would update,
    ``None`` for a typed key it would create (one query)."""
    keys = [
        row.key
        for row in rows
        if row.action in (CREATED, UPDATED, UNCHANGED) and row.key is not None and is_int32(row.key)
    ]
    stored = load_licenses_by_key(session, keys)
    session.rollback()
    return {key: (stored[key].update_date.isoformat() if key in stored else None) for key in keys}


def _preview_row(
    line: int,
    outcome: ItemOutcome,
    keyless: bool,
    repeats: int,
    type_labels: Mapping[int, str],
) -> PreviewRow:
    key = None if keyless and outcome.action == CREATED else outcome.key
    if outcome.ok:
        changes = [
            CellChange(LABELS[name], _shown(name, old, type_labels), _shown(name, new, type_labels))
            for name, (old, new) in (outcome.changes or {}).items()
            if name in LABELS and old != new
        ]
        return PreviewRow(line, key, outcome.action, changes)
    if outcome.action == CONFLICT:
        if repeats > 1:
            message = REPEATED_KEY.format(count=repeats)
        else:
            message = CONFLICT_MESSAGE if outcome.current is not None else KEY_TAKEN
        return PreviewRow(line, key, CONFLICT, errors=[message])
    worded = (
        cell_messages(outcome.errors, COLUMN_NAMES, date_example=CSV_DATE_EXAMPLE)
        if outcome.errors
        else {}
    )
    errors = [
        f"{LABELS[name]}: {' '.join(messages)}" if name in LABELS else " ".join(messages)
        for name, messages in worded.items()
    ] or ["Not imported because of a server error; try again."]
    return PreviewRow(line, key, outcome.action, errors=errors)


def _shown(name: str, value: Any, type_labels: Mapping[int, str]) -> str:
    if value is None or value == "":
        return "—"
    if name == TYPE_FIELD and value in type_labels:  # the type as the grid shows it
        return type_labels[value]
    if name in DATE_FIELDS and isinstance(value, str):
        try:
            return format_date_cell(datetime.fromisoformat(value.removesuffix("Z")))
        except ValueError:
            return value
    return str(value)


def carried_csv(text: str) -> str:
    """The CSV text as the preview's Apply form carries it: its UTF-8 bytes in URL-safe base64.

    No line break in the page: a browser reads each CR of a page as LF and posts each line
    break of a form back as CRLF, so a cell's "Line1\\nLine2", unchanged in the preview, was
    applied as "Line1\\r\\nLine2": a change the preview did not show, and a history row. And
    a size that does not depend on what the file holds: a browser posts the form
    percent-encoded, which leaves these characters alone; carried as a JSON string, each comma,
    quote or non-ASCII byte took three bytes or more, and the Apply of a file the preview had
    accepted was over the size limit (413). ``app.ui.form_limits`` bounds the Apply by this.
    """
    return base64.urlsafe_b64encode(text.encode("utf-8")).decode("ascii")


#: The characters of what ``carried_csv`` writes (``b64decode`` alone would also take ``+/``).
CARRIED = re.compile(r"[A-Za-z0-9_-]*={0,2}")


def read_carried_csv(value: str) -> str | None:
    """The CSV text an Apply form carried (``carried_csv``); ``None`` when it is not one."""
    if len(value) % 4 or not CARRIED.fullmatch(value):  # b64decode takes "TmV3=" as "New"
        return None
    try:
        return base64.b64decode(value, altchars=b"-_", validate=True).decode("utf-8")
    except ValueError:  # binascii.Error (bad padding) and UnicodeDecodeError are ones
        return None


def versions_text(versions: dict[int, str | None]) -> str:
    return json.dumps({str(k): v for k, v in versions.items()}, separators=(",", ":"))


def parse_versions(text: str) -> dict[int, str | None] | None:
    """The versions a preview page carried; ``None`` when they are not readable."""
    try:
        raw = json.loads(text or "{}")
        versions = {int(k): None if v is None else str(v) for k, v in raw.items()}
        for value in versions.values():
            if value is not None:
                datetime.fromisoformat(value)
    except (ValueError, AttributeError, TypeError):
        return None
    return versions


# ---------------------------------------------------------------------------------------------
# Apply once


TOKEN_SALT = "credgrid.ui.import-apply"
#: Random bytes of a preview's nonce, and the nonce's text (``secrets.token_urlsafe``: four
#: URL-safe characters per three bytes). A nonce in a URL is checked against it before any
#: query: anything else (a NUL, which PostgreSQL refuses in a query) is no such apply.
NONCE_BYTES = 18
NONCE = re.compile(rf"[A-Za-z0-9_-]{{{NONCE_BYTES * 4 // 3}}}")
#: A preview older than this is not applied. Well within the store's ``RETENTION``, so a token
#: is never accepted after its claim may have been purged.
TOKEN_MAX_AGE = RETENTION / 2
NO_TOKEN = "This preview cannot be applied (it is too old or incomplete); preview the file again."
ALREADY_APPLIED = "This import was already applied; nothing was written again."
BEING_APPLIED = (
    "This import is already being applied (or its apply was interrupted); nothing was written "
    "again. Open the grid to see the licenses, or preview the file again."
)
OTHER_FILE = "This preview was applied with another file; preview the file again."


class ImportNotApplied(Exception):
    """The apply was refused before writing anything; ``done``: the preview was applied
    before, and its result page can be shown."""

    def __init__(self, message: str, done: bool = False) -> None:
        super().__init__(message)
        self.done = done


def issue_token(secret_key: str | bytes) -> str:
    """A fresh one-time token for a preview's Apply form (signed, so its age can be trusted)."""
    return _serializer(secret_key).dumps(secrets.token_urlsafe(NONCE_BYTES))


def read_token(secret_key: str | bytes, token: str) -> str | None:
    """The preview's nonce in ``token``; ``None`` when it is forged, malformed or too old."""
    try:
        nonce = _serializer(secret_key).loads(token, max_age=int(TOKEN_MAX_AGE.total_seconds()))
    except BadSignature:  # SignatureExpired is one
        return None
    return nonce if isinstance(nonce, str) and nonce else None


def _serializer(secret_key: str | bytes) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt=TOKEN_SALT)


def _scope(username: str, nonce: str) -> KeyScope:
    return KeyScope(STAFF_UI_SCOPE_ID, username, f"ui-import:{nonce}")


def apply_once(
    session: Session,
    provider_cred_key: int,
    nonce: str,
    text: str,
    versions: dict[int, str | None],
    *,
    actor: str,
    activity_id: str,
    max_rows: int,
) -> ImportResult:
    """Apply a preview's CSV unless this preview (``nonce``) was applied before.

    Raises ``ImportNotApplied`` (claimed before: nothing written), ``ImportFileError`` or
    ``ParentNotFound`` (the claim is then given up: nothing was written either).
    """
    claim = _claim(session, _scope(actor, nonce), _fingerprint(text, versions))
    try:
        result = run_import(
            session,
            provider_cred_key,
            text,
            actor=actor,
            activity_id=activity_id,
            dry_run=False,
            versions=versions,
            max_rows=max_rows,
        )
    except (ImportFileError, ParentNotFound):
        # Refused before anything was written: the preview may be applied again. Any other
        # failure may have come after the service's commit, so the claim stays and a second
        # apply is refused ("being applied") until the claim's lease ends.
        session.rollback()
        release_key(session, claim)
        raise
    store_answer(session, claim, 200, _result_json(provider_cred_key, result))
    return result


def _claim(session: Session, scope: KeyScope, fingerprint: str) -> Claim:
    session.rollback()  # end the request's reads: the claim begins its own write
    try:
        claimed = claim_key(session, scope, fingerprint, lease=TOKEN_MAX_AGE)
    except KeyBusy:
        raise ImportNotApplied(BEING_APPLIED) from None
    except KeyReused:
        raise ImportNotApplied(OTHER_FILE) from None
    if isinstance(claimed, StoredAnswer):
        raise ImportNotApplied(ALREADY_APPLIED, done=True)
    return claimed


def _fingerprint(text: str, versions: dict[int, str | None]) -> str:
    """The applied file and versions: the token cannot be reused for another file."""
    return hashlib.sha256(json.dumps([text, versions_text(versions)]).encode()).hexdigest()


def applied_result(
    session: Session, provider_cred_key: int, username: str, nonce: str
) -> ImportResult | None:
    """What the apply of this user's preview ``nonce`` did; ``None``: no such apply (kept)."""
    if not NONCE.fullmatch(nonce):
        return None
    record = stored_record(session, _scope(username, nonce))
    if record is None or record.status is None or not record.response_body:
        return None
    stored = json.loads(record.response_body)
    if stored.get("cred") != provider_cred_key:
        return None
    return ImportResult([_row_from_json(row) for row in stored["rows"]], {})


def _result_json(provider_cred_key: int, result: ImportResult) -> str:
    rows = [asdict(row) for row in result.rows]
    return json.dumps({"cred": provider_cred_key, "rows": rows}, separators=(",", ":"))


def _row_from_json(row: dict[str, Any]) -> PreviewRow:
    changes = [CellChange(**change) for change in row["changes"]]
    return PreviewRow(row["line"], row["key"], row["action"], changes, list(row["errors"]))
