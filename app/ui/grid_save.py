"""Save of the grid: the rows a person touched go to the license service, outcomes come back.

Only touched rows are sent (a row left as loaded is not re-sent, so another user's later change
to it is not reported as a conflict), each with the version it was loaded at: the service writes
nothing over a row changed since. Before anything is sent, a row is refused on its cells when a
date cell does not hold a real date (never read as "clear it") or when it has content but
neither a license number nor a name; the service's dry run of the rest of such a row adds its
other errors (an unknown type, a bad state), so that the row shows every one at once. A new
row without a key gets one from the server (``app.licenses.keys``).

A row someone else changed meanwhile is merged per cell: the user's changed cells are applied
onto the stored row. When no cell was changed by both, the merge is written at once; otherwise
the row comes back rebased on the stored one, with only the cells both changed marked, and the
user chooses whose values those keep. :func:`reconcile` turns the per-item outcomes back into
rows, with messages worded from the outcome's action and the stored row, never from the
engine's text.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from app.batch.outcome import CONFLICT, CREATED, DELETED, INVALID, ItemOutcome
from app.licenses.keys import upsert_assigning_keys
from app.licenses.models import ProviderCredLicense
from app.licenses.schemas import KEY_FIELD
from app.licenses.service import delete_licenses, upsert_licenses
from app.ui.cell_messages import NAME_OR_NUMBER, UNREADABLE_DATE, cell_messages
from app.ui.cell_values import UnreadableDate, parse_date_cell, state_cell
from app.ui.grid import (
    COLUMN_NAMES,
    COLUMNS,
    REFRESHED,
    ROW_LEVEL,
    Conflict,
    GridLine,
    as_input_holds,
    as_int_key,
    cell_integer,
    parse_loaded,
    parse_version,
    same_cell,
    stored_line,
    stored_values,
    version_of,
)
from app.ui.grid_data import load_licenses_by_key
from app.wire.fields import format_wire_datetime, is_int32

PARENT_FIELD = "providerCred_Key"
MINE, THEIRS = "mine", "theirs"
COLUMN_BY_NAME = {column.name: column for column in COLUMNS}
DATE_CELLS = frozenset(column.name for column in COLUMNS if column.kind == "date")
IDENTITY_CELLS = ("license_Number", "license_Name")


@dataclass
class SubmittedRow:
    """One grid row as the browser sent it: its cells and the hidden state it carried."""

    values: dict[str, str]
    version: str = ""
    loaded: str = ""
    conflicts: str = ""
    resolve: str = ""
    delete: bool = False

    @classmethod
    def from_form_data(cls, data: Mapping[str, Any]) -> SubmittedRow:
        return cls(
            values={name: data.get(name) or "" for name in COLUMN_NAMES},
            version=data.get("version") or "",
            loaded=data.get("loaded") or "",
            conflicts=data.get("conflicts") or "",
            resolve=data.get("resolve") or "",
            delete=bool(data.get("delete")),
        )

    @property
    def is_new(self) -> bool:
        return not self.version

    @property
    def blank(self) -> bool:
        return not any(value.strip() for value in self.values.values())

    @property
    def loaded_values(self) -> dict[str, str] | None:
        return parse_loaded(self.loaded)

    @property
    def conflict_cells(self) -> list[str]:
        return [name for name in self.conflicts.split(",") if name in COLUMN_NAMES]

    def changed_cells(self) -> set[str]:
        """The cells a person changed since the row was loaded (all filled ones, if new)."""
        loaded = self.loaded_values
        if loaded is None:
            return {name for name, value in self.values.items() if value.strip()}
        return {
            column.name
            for column in COLUMNS
            if not same_cell(column, self.values[column.name], loaded[column.name])
        }

    @property
    def untouched(self) -> bool:
        """A blank row left blank, or a row exactly as loaded."""
        if self.is_new:
            return self.blank
        return self.loaded_values is not None and not self.changed_cells()

    @property
    def sent(self) -> bool:
        """Whether Save acts on this row: a new row filled in, a stored row changed, ticked
        for deletion or with a conflict to settle. The others are only shown again."""
        if self.is_new:
            return not (self.delete or self.untouched)
        return self.delete or not self.untouched or bool(self.conflict_cells)

    def kept(self, **state: Any) -> GridLine:
        """This row as typed, for showing it again with an outcome."""
        state.setdefault("values", dict(self.values))
        state.setdefault("version", self.version)
        state.setdefault("loaded", self.loaded)
        state.setdefault("conflicts", self.conflicts)
        state.setdefault("delete", self.delete)
        return GridLine(**state)


def cell_errors(values: Mapping[str, str]) -> dict[str, list[str]]:
    """What the grid refuses before asking the service: unreadable dates, and a row that has
    content but neither a license number nor a name."""
    errors: dict[str, list[str]] = {}
    for column in COLUMNS:
        if column.kind == "date":
            try:
                parse_date_cell(values.get(column.name, ""))
            except UnreadableDate:
                errors[column.name] = [UNREADABLE_DATE]
    if not any(values.get(name, "").strip() for name in IDENTITY_CELLS):
        errors.setdefault("license_Number", []).append(NAME_OR_NUMBER)
    return errors


def to_item(values: Mapping[str, str], provider_cred_key: int) -> dict[str, Any]:
    """A row's cells as a service item (call only when ``cell_errors`` found no date error).

    Dates become the wire form and state names their USPS code; an integer cell that reads as
    an integer becomes one, anything else is passed on as typed so the schema names the problem
    on that cell. An empty key is left out (the server assigns one); an empty type or date
    cell is null.
    """
    item: dict[str, Any] = {PARENT_FIELD: provider_cred_key}
    for column in COLUMNS:
        raw = values.get(column.name, "")
        if column.kind in ("key", "type"):
            text = raw.strip()
            if not text:
                if column.kind == "type":
                    item[column.name] = None
                continue
            number = cell_integer(text)
            item[column.name] = raw if number is None else number
        elif column.kind == "date":
            item[column.name] = format_wire_datetime(parse_date_cell(raw))
        elif column.kind == "state":
            item[column.name] = state_cell(raw) if raw.strip() else None
        else:
            item[column.name] = raw
    return item


@dataclass
class SavePlan:
    """Which row goes where: upsert items, delete keys, rows not sent, rows refused up front."""

    items: list[dict[str, Any]] = field(default_factory=list)
    item_rows: list[int] = field(default_factory=list)
    item_versions: dict[int, datetime | None] = field(default_factory=dict)
    delete_keys: list[int] = field(default_factory=list)
    delete_rows: list[int] = field(default_factory=list)
    delete_versions: dict[int, datetime | None] = field(default_factory=dict)
    skipped: set[int] = field(default_factory=set)
    refused: dict[int, dict[str, list[str]]] = field(default_factory=dict)
    #: Refused rows whose conflict still waits for the user's choice (a subset of ``refused``).
    unchosen: set[int] = field(default_factory=set)
    #: Rows refused on ``cell_errors`` (a subset of ``refused``), as items with their unreadable
    #: date cells empty: the service's dry run names the rest of their errors.
    checked: dict[int, dict[str, Any]] = field(default_factory=dict)


UNREADABLE_VERSION = "The page sent an unreadable row version; reload the grid."
LOCKED_KEY = "The key of a saved license cannot be changed; reload the grid."
CHOOSE = "Changed by someone else too: choose whose value to keep, then Save."


def resolved_values(row: SubmittedRow) -> dict[str, str] | None:
    """The row's cells after the user's choice on its conflicting cells; ``None``: no choice."""
    cells = row.conflict_cells
    if not cells:
        return dict(row.values)
    if row.resolve == MINE:
        return dict(row.values)
    loaded = row.loaded_values
    if row.resolve == THEIRS and loaded is not None:
        return {**row.values, **{name: loaded[name] for name in cells}}
    return None


def with_loaded_cells(row: SubmittedRow, values: dict[str, str]) -> dict[str, str]:
    """``values`` with every cell the browser sent back as it was loaded put back to the loaded
    text: a text input cannot hold a line break, so a stored "Line1\\nLine2" returns as
    "Line1Line2" with the rest of an edited row, and writing it would change a cell nobody
    touched. A cell typed to anything else is the user's value."""
    loaded = row.loaded_values
    if loaded is None:
        return values
    return {
        name: loaded[name] if value == as_input_holds(loaded[name]) else value
        for name, value in values.items()
    }


def plan_save(rows: Sequence[SubmittedRow], provider_cred_key: int) -> SavePlan:
    """Decide per row: not sent (untouched), deleted, created/updated, or refused up front.

    The expected version is the one the row was loaded at (after a conflict: the version the
    merged row was rebased on).
    """
    plan = SavePlan()
    for index, row in enumerate(rows):
        if not row.sent:
            plan.skipped.add(index)
            continue
        try:
            expected = parse_version(row.version)
        except ValueError:
            plan.refused[index] = {ROW_LEVEL: [UNREADABLE_VERSION]}
            continue
        key = as_int_key(row.values[KEY_FIELD])
        # A loaded row's key cell is read-only: a key that is no key (or beyond 32 bits, which
        # the database refuses) is the page's doing, not the person's. (A new row is not sent
        # with Delete ticked.)
        if not row.is_new and not is_int32(key):
            plan.refused[index] = {KEY_FIELD: [LOCKED_KEY]}
            continue
        if row.delete:
            assert key is not None
            plan.delete_keys.append(key)
            plan.delete_rows.append(index)
            plan.delete_versions[key] = expected
            continue
        values = resolved_values(row)
        if values is None:
            plan.refused[index] = {name: [CHOOSE] for name in row.conflict_cells}
            plan.unchosen.add(index)
            continue
        values = with_loaded_cells(row, values)
        errors = cell_errors(values)
        if errors:
            plan.refused[index] = errors
            readable = {**values, **{name: "" for name in errors if name in DATE_CELLS}}
            plan.checked[index] = to_item(readable, provider_cred_key)
            continue
        plan.items.append(to_item(values, provider_cred_key))
        plan.item_rows.append(index)
        if key is not None:
            plan.item_versions[key] = expected
    return plan


# ---------------------------------------------------------------------------------------------
# Conflicts: merge per cell


@dataclass
class Merge:
    """A row changed by someone else since it was loaded, merged with the user's changes;
    ``key`` and ``version`` are the stored row's."""

    values: dict[str, str]
    key: int
    version: datetime
    both: frozenset[str]


def merge(row: SubmittedRow, current: ProviderCredLicense) -> Merge:
    """The stored row with the user's changed cells applied; ``both``: the cells both people
    changed to different values (those need the user's choice)."""
    now = stored_values(current)
    loaded = row.loaded_values or now
    mine = row.changed_cells() - {KEY_FIELD}
    values = dict(now)
    both = set()
    for name in mine:
        column = COLUMN_BY_NAME[name]
        values[name] = row.values[name]
        theirs_changed = not same_cell(column, now[name], loaded[name])
        if theirs_changed and not same_cell(column, now[name], row.values[name]):
            both.add(name)
    return Merge(
        values=values,
        key=current.provider_cred_license_key,
        version=current.update_date,
        both=frozenset(both),
    )


# ---------------------------------------------------------------------------------------------
# After Save: outcomes → rows


def reconcile(
    rows: Sequence[SubmittedRow],
    plan: SavePlan,
    outcomes: Mapping[int, ItemOutcome],
    stored: Mapping[int, ProviderCredLicense],
    page_keys: Sequence[int] = (),
    provider_cred_key: int | None = None,
    loaded_at: datetime | None = None,
    merged: frozenset[int] = frozenset(),
) -> list[GridLine]:
    """The grid after Save, in the submitted order, plus the page's other rows now.

    ``outcomes`` maps row index → the service's outcome; ``stored`` holds the licenses of the
    rows sent and of the page as they are now (read after the writes); ``page_keys`` are the
    keys of the page now, to show rows added meanwhile, or moved onto the page (see
    :func:`_arrived_line`); ``loaded_at``: when the page was loaded; ``merged``: the rows whose
    outcome is that of their per-cell merge.
    """
    lines: list[GridLine] = []
    shown: set[int] = set()
    typed_keys = [as_int_key(row.values[KEY_FIELD]) for row in rows]
    # Keys typed on more than one row *sent*: an untouched stored row is not sent, so a new
    # row given its key is told the key is taken, not to change "one of them".
    sent_keys = Counter(typed_keys[index] for index in outcomes)
    for index, row in enumerate(rows):
        key = typed_keys[index]
        before = len(lines)
        if index in plan.unchosen:
            lines.append(_unchosen_line(row, key, plan.refused[index], stored, provider_cred_key))
        elif index in plan.refused:
            lines.append(row.kept(outcome="invalid", errors=plan.refused[index], conflict=None))
        elif index in plan.skipped:
            line = _untouched_line(row, key, stored)
            if line is None:
                continue
            lines.append(line)
        else:
            outcome = outcomes[index]
            key = outcome.key if outcome.key is not None else key
            duplicate = key is not None and sent_keys[key] > 1
            current = _this_grids(stored.get(key) if key is not None else None, provider_cred_key)
            if index in merged and not outcome.ok and outcome.errors and current is not None:
                lines.append(_failed_merge_line(row, key, outcome, current))
            else:
                lines.append(_outcome_line(row, key, outcome, current, duplicate))
        if len(lines) > before:
            lines[-1].row_index = index
            _with_stored_expiry(lines[-1], stored, provider_cred_key)
        if key is not None:
            shown.add(key)
    for key in page_keys:
        license = stored.get(key)
        if key not in shown and license is not None:
            lines.append(_arrived_line(license, loaded_at))
    return lines


def _with_stored_expiry(
    line: GridLine, stored: Mapping[int, ProviderCredLicense], provider_cred_key: int | None
) -> None:
    """A stored license's row given back as typed (in error, in conflict) takes its Expiry
    cell from the license as stored, not from nothing: it said "No term date" whatever the
    license's term date was."""
    if line.is_new or not line.editable or line.term_date or line.psv_date:
        return
    key = line.license_key
    license = _this_grids(stored.get(key) if key is not None else None, provider_cred_key)
    if license is not None:
        line.term_date, line.psv_date = license.term_date, license.psv_date


def _arrived_line(license: ProviderCredLicense, loaded_at: datetime | None) -> GridLine:
    """A license on the page now that the page did not show: added since it was loaded, or
    an older one that moved onto this page (a license before it was deleted). Only the first
    is reported as added; without a load time, nobody can tell, so neither is."""
    if loaded_at is None or license.entry_date < loaded_at:
        return stored_line(license)
    by = license.entry_user or "someone else"
    return stored_line(license, outcome=REFRESHED, message=f"Added by {by} meanwhile.")


def _unchosen_line(
    row: SubmittedRow,
    key: int | None,
    errors: dict[str, list[str]],
    stored: Mapping[int, ProviderCredLicense],
    provider_cred_key: int | None,
) -> GridLine:
    """A conflict saved without a choice: shown again as typed, the choice still offered beside
    the stored values (its hidden ``conflicts`` are sent again, so without the choice offered
    the row could never be saved). Changed again meanwhile: merged again on the new values."""
    current = _this_grids(stored.get(key) if key is not None else None, provider_cred_key)
    if current is None or version_of(current) != row.version:
        return _conflict_line(row, key, current, duplicate=False)
    return row.kept(
        outcome=CONFLICT,
        errors=errors,
        conflict=Conflict(
            stored=stored_values(current),
            updated_by=current.update_user,
            differs=frozenset(row.conflict_cells),
        ),
    )


def _untouched_line(
    row: SubmittedRow, key: int | None, stored: Mapping[int, ProviderCredLicense]
) -> GridLine | None:
    if row.is_new:
        return None
    license = stored.get(key) if key is not None else None
    if license is None:
        return row.kept(
            editable=False,
            outcome=DELETED,
            message="Deleted by someone else since you loaded the page.",
        )
    if version_of(license) != row.version:
        by = license.update_user or "someone else"
        return stored_line(
            license,
            outcome=REFRESHED,
            message=f"Changed by {by} since you loaded the page; showing the stored values.",
        )
    return stored_line(license)


def _this_grids(
    license: ProviderCredLicense | None, provider_cred_key: int | None
) -> ProviderCredLicense | None:
    """``license``, unless it is another provider credential's (not a row of this grid)."""
    if license is not None and license.provider_cred_key != provider_cred_key:
        return None
    return license


def _failed_merge_line(
    row: SubmittedRow, key: int | None, outcome: ItemOutcome, current: ProviderCredLicense
) -> GridLine:
    """A per-cell merge the service refused (e.g. my term date before their new effective
    date): the row rebased on the stored one, with the stored row beside it, so the error
    reads against the values it is about."""
    line = _conflict_line(row, key, current, duplicate=False)
    line.errors = cell_messages(outcome.errors or {}, COLUMN_NAMES)
    if not line.conflicts:  # a third change that collides keeps its choice message
        by = current.update_user or "someone else"
        line.message = (
            f"Changed by {by} while you saved; your changes are applied on the stored values "
            "below, and together they are not valid: correct the marked cells, then Save."
        )
    return line


def _outcome_line(
    row: SubmittedRow,
    key: int | None,
    outcome: ItemOutcome,
    current: ProviderCredLicense | None,
    duplicate: bool,
) -> GridLine:
    if outcome.action == DELETED:
        return row.kept(editable=False, outcome=DELETED)
    if outcome.ok:
        if current is None:  # removed again between our write and the re-read
            return row.kept(editable=False, outcome=DELETED, message="Deleted meanwhile.")
        return stored_line(current, outcome=outcome.action)
    if outcome.action == CONFLICT:
        return _conflict_line(row, key, current, duplicate)
    if outcome.errors:
        return row.kept(outcome=outcome.action, errors=cell_messages(outcome.errors, COLUMN_NAMES))
    if outcome.status == 404:
        return row.kept(editable=False, outcome=DELETED, message="Already deleted by someone else.")
    return row.kept(
        outcome=outcome.action,
        errors={ROW_LEVEL: ["Not saved because of a server error; save again."]},
    )


def _conflict_line(
    row: SubmittedRow,
    key: int | None,
    current: ProviderCredLicense | None,
    duplicate: bool,
) -> GridLine:
    """A conflict, worded from what is stored now (never from the engine's text)."""
    if row.is_new:
        if duplicate:
            message = "Another row of this grid has the same key; change one of them."
        elif current is not None:
            message = "This key is taken by another license; clear it to get a free key."
        else:
            message = (
                "This key belongs to a license of another provider credential; "
                "clear it to get a free key."
            )
        return row.kept(outcome=CONFLICT, errors={KEY_FIELD: [message]})
    if current is None:
        if row.delete:
            return row.kept(
                editable=False, outcome=DELETED, message="Already deleted by someone else."
            )
        return row.kept(
            version="",
            loaded="",
            conflicts="",
            outcome=CONFLICT,
            message=(
                "Deleted by someone else since you loaded it. Save again to create it again "
                "with your values, or clear the row to leave it deleted."
            ),
            conflict=Conflict(stored=None),
        )
    by = current.update_user or "someone else"
    if row.delete:
        return stored_line(
            current,
            outcome=CONFLICT,
            message=(
                f"Changed by {by} since you loaded it, so it was not deleted; the stored "
                "values are shown. Tick Delete and Save to delete it anyway."
            ),
        )
    merged = merge(row, current)
    line = stored_line(
        current,
        values=merged.values,
        conflicts=",".join(sorted(merged.both)),
        outcome=CONFLICT,
        conflict=Conflict(
            stored=stored_values(current),
            updated_by=current.update_user,
            differs=merged.both,
        ),
    )
    if merged.both:
        line.message = (
            f"{by} changed the marked cells too. Your other changes are kept on their values; "
            "choose whose value to keep in the marked cells, then Save."
        )
    else:
        line.message = (
            f"Changed by {by} while you saved; your changes are applied on the stored values "
            "below. Save again to store them."
        )
    return line


# ---------------------------------------------------------------------------------------------
# The service calls


def save_grid(
    session: Session,
    provider_cred_key: int,
    rows: Sequence[SubmittedRow],
    *,
    actor: str,
    activity_id: str,
    page_keys: Callable[[], Sequence[int]] = tuple,
    loaded_at: datetime | None = None,
) -> list[GridLine]:
    """Deletes first, then creates/updates, both through the service (which commits).

    A row someone else changed since it was loaded (a version conflict) is merged per cell:
    the user's changed cells on the stored row; when no cell was changed by both, the merge is
    written at once (against the version it was merged on), else the user chooses per row.
    ``loaded_at``: when the page was loaded (to tell licenses added since from ones that moved
    onto the page). Raises ``ParentNotFound`` if the ProviderCred no longer exists.
    """
    plan = plan_save(rows, provider_cred_key)
    _add_service_errors(session, provider_cred_key, plan, actor, activity_id)
    outcomes: dict[int, ItemOutcome] = {}
    merged: frozenset[int] = frozenset()
    if plan.delete_keys:
        results = delete_licenses(
            session,
            provider_cred_key,
            plan.delete_keys,
            actor=actor,
            activity_id=activity_id,
            expected_versions=plan.delete_versions,
        )
        outcomes.update(zip(plan.delete_rows, results, strict=True))
    if plan.items:
        results = upsert_assigning_keys(
            session,
            provider_cred_key,
            plan.items,
            actor=actor,
            activity_id=activity_id,
            expected_versions=plan.item_versions,
        )
        outcomes.update(zip(plan.item_rows, results, strict=True))
        merged = _apply_merges(session, provider_cred_key, rows, outcomes, actor, activity_id)
    keys = [o.key for o in outcomes.values() if o.key is not None]
    keys += [k for row in rows if is_int32(k := as_int_key(row.values[KEY_FIELD]))]
    on_page = list(page_keys())
    stored = load_licenses_by_key(session, [*keys, *on_page])
    return reconcile(rows, plan, outcomes, stored, on_page, provider_cred_key, loaded_at, merged)


def _add_service_errors(
    session: Session, provider_cred_key: int, plan: SavePlan, actor: str, activity_id: str
) -> None:
    """Add to each row refused on the grid's own checks the errors the service finds in the
    rest of it (a dry run: nothing is written), as the API names every field of an item at
    once; the grid's own message on a cell stands."""
    if not plan.checked:
        return
    results = upsert_assigning_keys(
        session,
        provider_cred_key,
        list(plan.checked.values()),
        actor=actor,
        activity_id=activity_id,
        dry_run=True,
    )
    for index, outcome in zip(plan.checked, results, strict=True):
        if outcome.action == INVALID:
            found = cell_messages(outcome.errors, COLUMN_NAMES)
            plan.refused[index] = {**found, **plan.refused[index]}


def _apply_merges(
    session: Session,
    provider_cred_key: int,
    rows: Sequence[SubmittedRow],
    outcomes: dict[int, ItemOutcome],
    actor: str,
    activity_id: str,
) -> frozenset[int]:
    """Write the per-cell merges of conflicting rows that no cell of both people touched;
    returns the rows whose outcome is now their merge's."""
    conflicted = {
        index: key
        for index, outcome in outcomes.items()
        if outcome.action == CONFLICT
        and not rows[index].is_new
        and not rows[index].delete
        and is_int32(key := as_int_key(rows[index].values[KEY_FIELD]))
    }
    if not conflicted:
        return frozenset()
    current = load_licenses_by_key(session, list(conflicted.values()))
    merged: dict[int, Merge] = {}
    for index, key in conflicted.items():
        license = current.get(key)
        if license is None or license.provider_cred_key != provider_cred_key:
            continue
        candidate = merge(rows[index], license)
        if not candidate.both and not cell_errors(candidate.values):
            merged[index] = candidate
    session.rollback()  # end the read: the write begins its own transaction
    if not merged:
        return frozenset()
    results = upsert_licenses(
        session,
        provider_cred_key,
        [to_item(m.values, provider_cred_key) for m in merged.values()],
        actor=actor,
        activity_id=activity_id,
        expected_versions={m.key: m.version for m in merged.values()},
    )
    outcomes.update(zip(merged, results, strict=True))
    return frozenset(merged)


NOT_WRITTEN = (
    "That Save could not write this row; here it is as you typed it. Correct it if need be, "
    "then Save."
)


def unwritten_rows(lines: Sequence[GridLine]) -> list[int]:
    """The rows of the Save's form that it did not write (shown in error)."""
    return [line.row_index for line in lines if line.failed and line.row_index is not None]


#: A row of the page shown again by Back, changed and saved under the Save id saved before.
NOT_SAVED_AGAIN = (
    "Not saved: this page had been saved before you came back to it. Here is the row as you "
    "typed it; check it, then Save."
)


def row_digest(row: SubmittedRow) -> str:
    """A row's typed cells, in short: the same new row sent again has the same."""
    return hashlib.sha256(json.dumps(sorted(row.values.items())).encode()).hexdigest()


def created_rows(lines: Sequence[GridLine], rows: Sequence[SubmittedRow]) -> list[str]:
    """The ``row_digest`` of each new row of the Save's form that it created."""
    return [
        row_digest(rows[line.row_index])
        for line in lines
        if line.outcome == CREATED and line.row_index is not None and line.row_index < len(rows)
    ]


def rows_sent_again(rows: Sequence[SubmittedRow], created: Collection[str]) -> list[int]:
    """The rows a Save acts on (``SubmittedRow.sent``) of a page shown again by Back and
    changed, under the Save id saved before, but the new rows that Save created (``created``:
    their digests): nothing is written, and these are shown as typed, to be saved. A change to
    a stored license is safe to save again (its version makes one the first Save wrote a
    conflict, not an overwrite); a new row the first Save created would be created twice."""
    return [
        index
        for index, row in enumerate(rows)
        if row.sent and not (row.is_new and row_digest(row) in created)
    ]


def with_unwritten_rows(
    page_lines: Sequence[GridLine],
    rows: Sequence[SubmittedRow],
    unwritten: Sequence[int],
    message: str = NOT_WRITTEN,
) -> list[GridLine]:
    """The page as stored, with the rows a Save did not write shown as typed in it (a Save
    sent again writes nothing: only the page shows what its first sending could not write).
    A stored license's row takes its line's place; a new row comes after the page's."""
    kept = [
        rows[index].kept(outcome=INVALID, errors={ROW_LEVEL: [message]})
        for index in unwritten
        if 0 <= index < len(rows)
    ]
    by_key = {line.license_key: line for line in kept if not line.is_new}
    lines = [_in_place_of(by_key.pop(line.license_key, None), line) for line in page_lines]
    return lines + list(by_key.values()) + [line for line in kept if line.is_new]


def _in_place_of(kept: GridLine | None, shown: GridLine) -> GridLine:
    """``kept`` (if any) shown in place of the stored license's line ``shown``, with its
    Expiry cell: the license's as stored, as the line it replaces has it."""
    if kept is None:
        return shown
    kept.term_date, kept.psv_date = shown.term_date, shown.psv_date
    return kept
