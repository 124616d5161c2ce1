"""The expiring worklist as staff see it: their words for the buckets, the filters and sorts a
request can ask for, and one page of it. The rule itself (buckets, PSV age, the bounded
queries) is :mod:`app.licenses.expiry`; the names re-exported here keep older imports working.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import Select
from sqlalchemy.orm import Session

from app.licenses.expiry import (
    BUCKETS,
    EXPIRED,
    EXPIRY_WINDOWS,
    NO_TERM_DATE,
    PSV_OVERDUE,
    WINDOW_BOUNDS,
    WITHIN_30,
    WITHIN_60,
    WITHIN_90,
    ExpiringLicense,
    ExpiryClock,
    ExpiryFilter,
    License,
    SortKey,
    bucket_counts,
    counts_by_cred,
    expiring_licenses,
    expiring_statement,
)
from app.ui.paging import Page, clamp
from app.wire.fields import query_integer

__all__ = [
    "EXPIRED",
    "EXPIRY_WINDOWS",
    "FILTERS",
    "LABELS",
    "NO_TERM_DATE",
    "PSV_OVERDUE",
    "SHORT_LABELS",
    "SORTS",
    "WINDOW_BOUNDS",
    "WITHIN_30",
    "WITHIN_60",
    "WITHIN_90",
    "ExpiringLicense",
    "ExpiryClock",
    "Worklist",
    "counts_by_cred",
    "worklist_page",
    "worklist_statement",
]

#: Every tab of the expiring page.
FILTERS = BUCKETS
LABELS = {
    EXPIRED: "Expired",
    WITHIN_30: "Within 30 days",
    WITHIN_60: "In 31–60 days",
    WITHIN_90: "In 61–90 days",
    PSV_OVERDUE: "PSV overdue",
    NO_TERM_DATE: "No term date",
}
SHORT_LABELS = {
    EXPIRED: "Expired",
    WITHIN_30: "≤ 30 d",
    WITHIN_60: "≤ 60 d",
    WITHIN_90: "≤ 90 d",
    NO_TERM_DATE: "No term date",
}


@dataclass(frozen=True)
class SortChoice:
    label: str
    order: tuple[SortKey, ...]


SORTS = {
    "term": SortChoice("Term, soonest first", (SortKey(License.term_date),)),
    "-term": SortChoice("Term, latest first", (SortKey(License.term_date, descending=True),)),
    "psv": SortChoice("PSV, oldest first", (SortKey(License.psv_date),)),
    "-psv": SortChoice("PSV, newest first", (SortKey(License.psv_date, descending=True),)),
    "key": SortChoice("License key", (SortKey(License.provider_cred_license_key),)),
}
DEFAULT_SORT = "term"


@dataclass(frozen=True)
class Worklist:
    """What one request of the expiring page asks for; unknown values fall back to the
    defaults (a link with a stale filter still shows a page)."""

    show: str = EXPIRED
    state: str | None = None
    license_type_key: int | None = None
    sort: str = DEFAULT_SORT

    @classmethod
    def from_args(cls, args: Mapping[str, str], states: set[str], type_keys: set[int]) -> Worklist:
        show = args.get("show", EXPIRED)
        state = (args.get("state") or "").strip().upper() or None
        type_key = query_integer(args.get("type"))
        sort = args.get("sort", DEFAULT_SORT)
        return cls(
            show=show if show in FILTERS else EXPIRED,
            state=state if state in states else None,
            license_type_key=type_key if type_key in type_keys else None,
            sort=sort if sort in SORTS else DEFAULT_SORT,
        )

    @property
    def filter(self) -> ExpiryFilter:
        return ExpiryFilter(
            bucket=self.show, state=self.state, license_type_key=self.license_type_key
        )

    def query(self, **changes: object) -> dict[str, object]:
        """The query string of this worklist (with ``changes``), defaults left out."""
        chosen = replace(self, **changes)  # type: ignore[arg-type]
        query = {
            "show": chosen.show,
            "state": chosen.state,
            "type": chosen.license_type_key,
            "sort": None if chosen.sort == DEFAULT_SORT else chosen.sort,
        }
        return {name: value for name, value in query.items() if value is not None}


def worklist_page(
    session: Session, clock: ExpiryClock, worklist: Worklist, page: int, size: int
) -> tuple[dict[str, int], Page[ExpiringLicense]]:
    """The counts of the worklist's state and type, and one page of its bucket."""
    chosen = worklist.filter
    per_bucket = bucket_counts(session, clock, chosen)
    total = per_bucket[worklist.show]
    number = clamp(page, total, size)
    items = expiring_licenses(
        session,
        clock,
        chosen,
        page=number,
        size=size,
        total=total,
        order=SORTS[worklist.sort].order,
    )
    return per_bucket, Page(items=items, number=number, size=size, total=total)


def worklist_statement(clock: ExpiryClock, worklist: Worklist) -> Select[Any]:
    """Every license of the worklist, in its order: what its CSV download holds."""
    return expiring_statement(clock, worklist.filter, SORTS[worklist.sort].order)
