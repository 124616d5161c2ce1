"""The one expiry rule (SPEC section 4b): buckets, PSV age, and the bounded expiring worklist.

A license expires at its ``term_Date``: ``expired`` is ``term_Date < now``. The other buckets
count calendar days in UTC, as the days left shown beside each license do: a license's days
left is its term date's calendar day minus today's, and ``withinN`` holds the unexpired
licenses with at most N days left and more than the previous window's (``within30``: 0–30 days
left, ``within60``: 31–60, ``within90``: 61–90), whatever the time of day of the term date or
of now. So the SQL bounds of ``withinN`` are midnights: ``term_Date <`` the start of the day
N + 1 days after today. A license without a term date is in ``noTermDate`` (a flag and a bucket
of its own, never "OK"). The buckets do not overlap.
PSV is overdue when ``psV_Date`` is null or its calendar day is more than ``PSV_WINDOW_DAYS``
days before today's. Each rule is one SQL
condition (for counts and lists, each backed by an index) and one Python check (for display);
the API, the credential list and the expiring page all use this module.

Every answer is bounded: counts are one index range per bucket, lists are pages. A page past
the middle of its list is read from the other end (the order reversed, the offset counted from
the end), so the last page costs what the first does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from marshmallow import Schema, fields
from sqlalchemy import ColumnElement, Select, and_, case, func, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from app.credentials.models import ProviderCred
from app.license_types.models import CredLicenseType
from app.licenses.models import ProviderCredLicense
from app.licenses.schemas import LicenseOutSchema
from app.licenses.unindexed import Unindexed

License = ProviderCredLicense

EXPIRY_WINDOWS = (30, 60, 90)
EXPIRED = "expired"
WITHIN_30, WITHIN_60, WITHIN_90 = (f"within{days}" for days in EXPIRY_WINDOWS)
PSV_OVERDUE = "psvOverdue"
NO_TERM_DATE = "noTermDate"
#: Where a license's term date puts it: exactly one of these, or none (more than 90 days away).
TERM_BUCKETS = (EXPIRED, WITHIN_30, WITHIN_60, WITHIN_90, NO_TERM_DATE)
#: Every filter of the worklist and the API, in the order they are shown and counted.
BUCKETS = (EXPIRED, WITHIN_30, WITHIN_60, WITHIN_90, PSV_OVERDUE, NO_TERM_DATE)
#: The days left of the "within" buckets, each ``(low, high]``: 0–30 (from now on), 31–60, 61–90.
WINDOW_BOUNDS = {
    f"within{high}": (low, high)
    for low, high in zip((0, *EXPIRY_WINDOWS), EXPIRY_WINDOWS, strict=False)
}
#: The columns an expiry list can be sorted by, each backed by an index.
SORT_COLUMNS: dict[str, InstrumentedAttribute[Any]] = {
    "term_Date": License.term_date,
    "psV_Date": License.psv_date,
    "providerCredLicense_Key": License.provider_cred_license_key,
    "providerCred_Key": License.provider_cred_key,
}


#: Earlier than any stored date: the lower bound of the open-ended ranges.
EARLIEST = datetime(1, 1, 1)


def before(column: ColumnElement[Any], moment: datetime) -> ColumnElement[bool]:
    """``column < moment``, stated as a closed range from :data:`EARLIEST`. Same rows; but a
    planner without statistics (a freshly loaded table) estimates a one-sided comparison at a
    third of the table and reads all of it, while it takes a closed range for a narrow one and
    uses the index: the plan no longer depends on fresh statistics."""
    return and_(column >= EARLIEST, column < moment)


@dataclass(frozen=True)
class ExpiryClock:
    """The instants the buckets are measured from (naive UTC, like the stored values).

    :meth:`days_left` is the one definition of how far a term date is; :meth:`beyond` turns
    "at most N days left" into the instant a SQL range can use, and :meth:`bucket` and
    :meth:`condition` are both stated with it, so a license's days left always match its bucket.
    """

    now: datetime
    psv_window_days: int

    @property
    def today(self) -> datetime:
        """The start of today (UTC)."""
        return datetime.combine(self.now.date(), time())

    def beyond(self, days: int) -> datetime:
        """The first instant with more than ``days`` days left: the start of the day
        ``days + 1`` days after today. ``term_Date < beyond(days)`` is exactly
        ``days_left(term_Date) <= days``."""
        return self.today + timedelta(days=days + 1)

    def window_start(self, name: str) -> datetime:
        """Where bucket ``withinN`` starts: now (not yet expired) for the first window, else
        the end of the previous one."""
        low, _ = WINDOW_BOUNDS[name]
        return self.now if low == 0 else self.beyond(low)

    @property
    def psv_cutoff(self) -> datetime:
        """PSV is overdue when its date is before this: the start of the day
        ``psv_window_days`` days before today. In calendar days, as dates are shown: a PSV
        exactly that many days ago is not overdue, one a day older is, whatever its time."""
        return self.today - timedelta(days=self.psv_window_days)

    def condition(self, name: str, *, unindexed: bool = False) -> ColumnElement[bool]:
        """The SQL condition of bucket ``name``: a closed range of one indexed column each
        (see :func:`before`), or ``IS NULL``; ``unindexed``: not to be read through that
        column's index on SQLite (:class:`Unindexed`)."""
        term: ColumnElement[Any] = License.term_date
        psv: ColumnElement[Any] = License.psv_date
        if unindexed:
            term, psv = Unindexed(term), Unindexed(psv)
        if name == EXPIRED:
            return before(term, self.now)
        if name == PSV_OVERDUE:
            return or_(psv.is_(None), before(psv, self.psv_cutoff))
        if name == NO_TERM_DATE:
            return term.is_(None)
        _, high = WINDOW_BOUNDS[name]
        return and_(term >= self.window_start(name), term < self.beyond(high))

    def disjoint_parts(self, name: str) -> list[ColumnElement[bool]]:
        """Bucket ``name`` as conditions that never hold together, each one index range: a
        count sums their counts, each an index-only scan (an ``OR`` would have to visit the
        rows of both)."""
        if name == PSV_OVERDUE:
            psv = License.psv_date
            return [psv.is_(None), before(psv, self.psv_cutoff)]
        return [self.condition(name)]

    def bucket(self, term_date: datetime | None) -> str | None:
        """The term bucket of one license (for display; the queries use :meth:`condition`)."""
        if term_date is None:
            return NO_TERM_DATE
        if term_date < self.now:
            return EXPIRED
        left = self.days_to(term_date)
        for name, (_, high) in WINDOW_BOUNDS.items():
            if left <= high:
                return name
        return None

    def days_left(self, term_date: datetime | None) -> int | None:
        """Calendar days (UTC) from today to the term date's day, whatever the time of either:
        0 on the day itself, negative once that day has passed."""
        return None if term_date is None else self.days_to(term_date)

    def days_to(self, term_date: datetime) -> int:
        """:meth:`days_left` of a term date that is there."""
        return (term_date.date() - self.now.date()).days

    def psv_overdue(self, psv_date: datetime | None) -> bool:
        return psv_date is None or psv_date < self.psv_cutoff


def expiry_status(clock: ExpiryClock, buckets: Sequence[str]) -> ColumnElement[str | None]:
    """Each license's bucket among ``buckets`` as one SQL expression (``None``: in none)."""
    return case(*((clock.condition(name), name) for name in buckets), else_=None)


@dataclass(frozen=True)
class ExpiryFilter:
    """Which licenses a worklist shows: one bucket (or, with none, every license expired or
    with at most ``within_days`` days left), optionally of one state and one license type."""

    bucket: str | None = None
    state: str | None = None
    license_type_key: int | None = None
    within_days: int = EXPIRY_WINDOWS[-1]

    def narrowing(self) -> list[ColumnElement[bool]]:
        """The state and type conditions: what the counts are taken over."""
        conditions: list[ColumnElement[bool]] = []
        if self.state is not None:
            conditions.append(License.state == self.state)
        if self.license_type_key is not None:
            conditions.append(License.cred_license_type_key == self.license_type_key)
        return conditions

    def conditions(
        self, clock: ExpiryClock, *, unindexed: bool = False
    ) -> list[ColumnElement[bool]]:
        if self.bucket is not None:
            chosen = clock.condition(self.bucket, unindexed=unindexed)
        else:
            term = Unindexed(License.term_date) if unindexed else License.term_date
            chosen = before(term, clock.beyond(self.within_days))
        return [chosen, *self.narrowing()]

    @property
    def date_column(self) -> InstrumentedAttribute[Any]:
        """The date the filter's bucket is a range (or the nulls) of."""
        return License.psv_date if self.bucket == PSV_OVERDUE else License.term_date


@dataclass(frozen=True)
class SortKey:
    """One sort column; a missing date sorts after every date (never expires, never verified),
    so last ascending and first descending: each index's natural order on PostgreSQL."""

    column: InstrumentedAttribute[Any]
    descending: bool = False

    def reversed(self) -> SortKey:
        return SortKey(self.column, not self.descending)

    def expression(self) -> ColumnElement[Any]:
        if self.descending:
            return self.column.desc().nulls_first()
        return self.column.asc().nulls_last()


DEFAULT_ORDER = (SortKey(License.term_date),)


@dataclass(frozen=True)
class ExpiringLicense:
    license: ProviderCredLicense
    provider_id: str
    type_display: str | None


def bucket_counts(session: Session, clock: ExpiryClock, chosen: ExpiryFilter) -> dict[str, int]:
    """Licenses per bucket among those of the filter's state and type, in one statement
    (one indexed count per bucket, never a pass over the whole table)."""
    narrowing = chosen.narrowing()

    def count(condition: ColumnElement[bool]) -> ColumnElement[int]:
        return (
            select(func.count()).select_from(License).where(condition, *narrowing)
        ).scalar_subquery()

    counted = [
        sum_of([count(part) for part in clock.disjoint_parts(name)]).label(name) for name in BUCKETS
    ]
    row = session.execute(select(*counted)).mappings().one()
    return {name: int(row[name]) for name in BUCKETS}


def sum_of(terms: list[ColumnElement[int]]) -> ColumnElement[int]:
    total = terms[0]
    for term in terms[1:]:
        total = total + term
    return total


def matching_total(
    session: Session, clock: ExpiryClock, chosen: ExpiryFilter, counts: dict[str, int]
) -> int:
    """How many licenses the filter lists: from ``counts`` when it names a bucket, or a
    window (expired and every bucket up to ``within_days``: the buckets do not overlap), so
    that no range is counted twice (on SQLite, narrowed by state or type, each count reads
    the range's index entries)."""
    if chosen.bucket is not None:
        return counts[chosen.bucket]
    if chosen.within_days in EXPIRY_WINDOWS:
        windows = [name for name, (_, high) in WINDOW_BOUNDS.items() if high <= chosen.within_days]
        return sum(counts[name] for name in (EXPIRED, *windows))
    statement = select(func.count()).select_from(License).where(*chosen.conditions(clock))
    return session.scalar(statement) or 0


def expiring_statement(
    clock: ExpiryClock, chosen: ExpiryFilter, order: Sequence[SortKey] = DEFAULT_ORDER
) -> Select[Any]:
    """Every license the filter shows, with its provider ID and type name, in ``order``
    (then by key): the CSV download's query (a page is :func:`page_statement`).

    All of them, so the bucket is read through its own index and sorted: the walk of the
    order's index that a page of the other date's order takes (:func:`_crossed`) stops at
    the page, but for the whole list it read every license of the table, each looked up
    (SQLite, 200,000 licenses: the PSV bucket soonest term first 171 ms, narrowed to one
    state 29 ms; read through the bucket's index, 128 and 4 ms)."""
    keys = _with_tiebreak(order)
    return (
        _joined(select(License, ProviderCred.provider_id, CredLicenseType.display))
        .where(*chosen.conditions(clock))
        .order_by(*(key.expression() for key in keys))
    )


def page_statement(
    clock: ExpiryClock, chosen: ExpiryFilter, keys: Sequence[SortKey], limit: int, offset: int
) -> Select[Any]:
    """One page of :func:`expiring_statement` (``keys`` with their tiebreak): the page's keys
    chosen first, from the licenses' index entries alone where an index holds the filter's
    columns (SQLite's date indexes, ``app/licenses/models.py``), then only those rows read
    and joined. Read in one statement, each license skipped to reach the offset was also
    read and joined with its ProviderCred and type: the middle page of the PSV bucket at
    200,000 licenses read 9,000 rows for its 100."""
    order = [key.expression() for key in keys]
    chosen_keys = (
        select(License.provider_cred_license_key)
        .where(*chosen.conditions(clock, unindexed=_crossed(chosen, keys)))
        .order_by(*order)
        .limit(limit)
        .offset(offset)
        .subquery("page")
    )
    return (
        _joined(select(License, ProviderCred.provider_id, CredLicenseType.display))
        .join(
            chosen_keys,
            chosen_keys.c.provider_cred_license_key == License.provider_cred_license_key,
        )
        .order_by(*order)
    )


def _crossed(chosen: ExpiryFilter, keys: Sequence[SortKey]) -> bool:
    """Whether the list is in the order of a date its bucket is not one range of: the other
    date, or the PSV date for the PSV bucket (two ranges, the nulls and the old dates, whose
    ``OR`` SQLite reads range by range and then sorts). Oldest PSV first, the walk finds the
    bucket at the start of the index; newest first, the nulls come first and the old dates
    last, so a middle page walks most of the index's entries (26–44 ms at 200,000 licenses,
    docs/performance.md), about what sorting the bucket's keys costs."""
    first = keys[0].column
    if first is not License.term_date and first is not License.psv_date:
        return False
    return first is not chosen.date_column or chosen.bucket == PSV_OVERDUE


def expiring_licenses(
    session: Session,
    clock: ExpiryClock,
    chosen: ExpiryFilter,
    *,
    page: int,
    size: int,
    total: int,
    order: Sequence[SortKey] = DEFAULT_ORDER,
) -> list[ExpiringLicense]:
    """Page ``page`` (from 1) of ``size`` licenses of the filter, ``total`` of them in all."""
    keys = _with_tiebreak(order)
    start = (page - 1) * size
    if start >= total:
        return []
    stop = min(start + size, total)
    from_end = start > total - stop
    if from_end:  # read the page from the far end: offset total - stop instead of start
        keys = [key.reversed() for key in keys]
        offset, limit = total - stop, stop - start
    else:
        offset, limit = start, size
    statement = page_statement(clock, chosen, keys, limit, offset)
    rows = [ExpiringLicense(*row) for row in session.execute(statement)]
    return rows[::-1] if from_end else rows


def _with_tiebreak(order: Sequence[SortKey]) -> list[SortKey]:
    keys = list(order or DEFAULT_ORDER)
    if not any(key.column is License.provider_cred_license_key for key in keys):
        keys.append(SortKey(License.provider_cred_license_key))
    return keys


def _joined(statement: Select[Any]) -> Select[Any]:
    return statement.join(
        ProviderCred, ProviderCred.provider_cred_key == License.provider_cred_key
    ).outerjoin(
        CredLicenseType, CredLicenseType.cred_license_type_key == License.cred_license_type_key
    )


def counts_by_cred(
    session: Session, clock: ExpiryClock, provider_cred_keys: list[int]
) -> dict[int, dict[str, int]]:
    """Per ProviderCred: its number of licenses and of each bucket, in one query."""
    if not provider_cred_keys:
        return {}
    statement = (
        select(
            License.provider_cred_key,
            func.count().label("licenses"),
            *(func.count().filter(clock.condition(name)).label(name) for name in BUCKETS),
        )
        .where(License.provider_cred_key.in_(provider_cred_keys))
        .group_by(License.provider_cred_key)
    )
    result: dict[int, dict[str, int]] = {}
    for row in session.execute(statement).mappings():
        result[row["provider_cred_key"]] = {name: int(row[name]) for name in ("licenses", *BUCKETS)}
    return result


# ---------------------------------------------------------------------------------------------
# The API's shape of it


class ExpirableLicenseSchema(LicenseOutSchema):
    """A license with its provider and where it stands."""

    provider_ID = fields.String(attribute="provider_id")
    expiryStatus = fields.String(
        attribute="expiry_status",
        allow_none=True,
        metadata={"enum": [*TERM_BUCKETS, None]},
    )
    psvOverdue = fields.Boolean(attribute="psv_overdue")


class ExpiryCountsSchema(Schema):
    """How many licenses of the filter's state and type are in each bucket."""

    expired = fields.Integer(required=True)
    within30 = fields.Integer(required=True)
    within60 = fields.Integer(required=True)
    within90 = fields.Integer(required=True)
    psvOverdue = fields.Integer(required=True)
    noTermDate = fields.Integer(required=True)


class ExpirablesSchema(Schema):
    counts = fields.Nested(ExpiryCountsSchema, required=True)
    licenses = fields.List(fields.Nested(ExpirableLicenseSchema), required=True)


EXPIRABLES_SCHEMA = ExpirablesSchema()
COLUMN_NAMES = tuple(column.key for column in License.__table__.columns)


def expirables_data(
    clock: ExpiryClock, counts: dict[str, int], page: Sequence[ExpiringLicense]
) -> dict[str, Any]:
    """The API's ``data``: the counts and one page of licenses with status and PSV flag."""
    licenses = [
        {
            **{name: getattr(item.license, name) for name in COLUMN_NAMES},
            "provider_id": item.provider_id,
            "expiry_status": clock.bucket(item.license.term_date),
            "psv_overdue": clock.psv_overdue(item.license.psv_date),
        }
        for item in page
    ]
    return EXPIRABLES_SCHEMA.dump({"counts": counts, "licenses": licenses})
