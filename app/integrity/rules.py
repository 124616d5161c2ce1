"""The rules of the integrity review: each an inappropriate update, named, with its reason.

Pure functions over one license's history entries (oldest first); the service feeds them from
the database and adds the chain check (``app.history.chain``), whose findings are those of
``HISTORY_ALTERED``. Dates in ``changes`` are the API's ``YYYY-MM-DDTHH:MM:SSZ`` strings,
which compare in time order as strings.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from app.auth.usernames import normalized_username

TERM_FIELD = "term_Date"
PSV_FIELD = "psV_Date"
EDITORS_WINDOW = timedelta(hours=1)


@dataclass(frozen=True)
class Rule:
    name: str
    reason: str


class Entry(NamedTuple):
    """One history row, as the rules read it. A named tuple for the reason ``StoredRow`` is
    one: the review makes one per history row of its range."""

    id: int
    license_key: int
    provider_cred_key: int
    activity_id: str
    at: datetime
    user: str | None
    action: str
    changes: dict[str, list[Any]]


@dataclass(frozen=True)
class Finding:
    rule: Rule
    license_key: int
    provider_cred_key: int | None
    at: datetime | None
    user: str | None
    history_id: int | None
    #: The finding in words, as the CSV and ``integrity-report`` write it (stored values as
    #: stored: dates in the API's ISO form).
    detail: str
    #: ``detail`` cut into text and the stored values it quotes, alternately (text, value,
    #: text, …; joined, they are ``detail``), so that a page can show a quoted date its own
    #: way; empty when it quotes none.
    parts: tuple[str, ...] = ()


TERM_EXTENDED = Rule(
    "term-extended-without-psv",
    "A term date was extended without a newer primary-source verification in the same change.",
)
PSV_BACKWARDS = Rule(
    "psv-moved-backwards",
    "A PSV date was replaced by an earlier one: an older verification over a newer.",
)
LICENSE_DELETED = Rule(
    "license-deleted",
    "A license was deleted: its credentialing record left the live data.",
)
SEVERAL_EDITORS = Rule(
    "several-editors-within-an-hour",
    "More than one person changed the same license within an hour.",
)
HISTORY_ALTERED = Rule(
    "history-altered-outside-service",
    "History rows fail their hash: audit data was changed outside the license service.",
)
RULES = (TERM_EXTENDED, PSV_BACKWARDS, LICENSE_DELETED, SEVERAL_EDITORS, HISTORY_ALTERED)


def _finding(rule: Rule, entry: Entry, detail: str) -> Finding:
    return Finding(
        rule, entry.license_key, entry.provider_cred_key, entry.at, entry.user, entry.id, detail
    )


def _quoting(rule: Rule, entry: Entry, *parts: str) -> Finding:
    """A finding whose detail quotes stored values: ``parts`` are text and value alternately."""
    return Finding(
        rule,
        entry.license_key,
        entry.provider_cred_key,
        entry.at,
        entry.user,
        entry.id,
        "".join(parts),
        parts,
    )


def _moved(entry: Entry, field: str) -> tuple[str, str] | None:
    """``(old, new)`` when the entry changed ``field`` from one date to another."""
    pair = entry.changes.get(field)
    if not pair or len(pair) != 2 or pair[0] is None or pair[1] is None:
        return None
    return str(pair[0]), str(pair[1])


def _extended(entry: Entry) -> tuple[str, str] | None:
    """``(old, new)`` when the entry moved the term date later or removed it (``new`` then
    "none"): a license without a term date never expires, and an expired one so changed leaves
    the expired bucket. A deletion clears every field, and is ``license-deleted``'s."""
    pair = entry.changes.get(TERM_FIELD)
    if not pair or len(pair) != 2 or pair[0] is None:
        return None
    if pair[1] is None:
        if entry.action == "deleted":
            return None
        return str(pair[0]), "none"
    old, new = str(pair[0]), str(pair[1])
    return (old, new) if new > old else None


def term_extended_without_psv(entries: Sequence[Entry]) -> Iterator[Finding]:
    for entry in entries:
        term = _extended(entry)
        if term is None:
            continue
        psv = entry.changes.get(PSV_FIELD)
        refreshed = bool(psv) and psv[1] is not None and (psv[0] is None or psv[1] > psv[0])
        if not refreshed:
            old, new = term
            if new == "none":
                parts = ("term_Date ", old, " → none, psV_Date not renewed")
            else:
                parts = ("term_Date ", old, " → ", new, ", psV_Date not renewed")
            yield _quoting(TERM_EXTENDED, entry, *parts)


def psv_moved_backwards(entries: Sequence[Entry]) -> Iterator[Finding]:
    for entry in entries:
        psv = _moved(entry, PSV_FIELD)
        if psv is not None and psv[1] < psv[0]:
            yield _quoting(PSV_BACKWARDS, entry, "psV_Date ", psv[0], " → ", psv[1])


def license_deleted(entries: Sequence[Entry]) -> Iterator[Finding]:
    for entry in entries:
        if entry.action == "deleted":
            yield _finding(LICENSE_DELETED, entry, "deleted")


def several_editors_within_an_hour(entries: Sequence[Entry]) -> Iterator[Finding]:
    """A finding on each change that follows another person's change by less than an hour.

    Reads the hour before each change only (``entries`` are oldest first), keeping the count
    of each person's changes in it: comparing each change with every earlier one took minutes
    for a license changed every minute for a month. A person is a name in NFKC form: history
    rows keep the name as it was stored when they were written, and names stored before
    migration 0012 may be in another form of the same name."""
    if len(entries) < 2:  # nothing to follow: most licenses of a month's review
        return
    in_hour: Counter[str] = Counter()  # the users of entries[first:index]
    first = 0
    for entry in entries:
        while entry.at - entries[first].at >= EDITORS_WINDOW:
            _leave(in_hour, entries[first].user)
            first += 1
        if entry.user is None:
            continue
        user = normalized_username(entry.user)
        others = sorted(other for other in in_hour if other != user)
        if others:
            yield _finding(
                SEVERAL_EDITORS,
                entry,
                f"{user} after {', '.join(others)} within the hour before",
            )
        in_hour[user] += 1


def _leave(in_hour: Counter[str], user: str | None) -> None:
    if user is None:
        return
    user = normalized_username(user)
    in_hour[user] -= 1
    if not in_hour[user]:
        del in_hour[user]


#: The rules evaluated over the history entries; ``HISTORY_ALTERED`` comes from the chain.
ENTRY_RULES: tuple[Callable[[Sequence[Entry]], Iterator[Finding]], ...] = (
    term_extended_without_psv,
    psv_moved_backwards,
    license_deleted,
    several_editors_within_an_hour,
)


def review_license(entries: Sequence[Entry]) -> list[Finding]:
    """Every entry rule's findings for one license's entries (oldest first)."""
    return [finding for rule in ENTRY_RULES for finding in rule(entries)]
