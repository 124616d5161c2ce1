"""Term dates at the expiry buckets' boundaries, with and without a time of day, and the days
left and bucket each must show: what the API, the expiring page and a monitoring run are tested
against (one table, so they are held to the same rule)."""

from __future__ import annotations

from datetime import datetime, time, timedelta

#: Two clocks: mid-morning, and exactly midnight (where an instant-based window and a
#: calendar day used to part).
NOWS = (datetime(2030, 6, 1, 10, 0, 0), datetime(2030, 6, 1, 0, 0, 0))
#: Times of day of a term date: none (midnight), before now's time of day, after it.
TIMES = (time(0, 0), time(9, 0), time(15, 0), time(23, 59, 59))
DAYS = (0, 1, 29, 30, 31, 59, 60, 61, 89, 90, 91)


def expected_bucket(days_left: int) -> str | None:
    """The bucket a not-yet-expired license with ``days_left`` belongs to, by its headings:
    within 30 days, in 31–60 days, in 61–90 days, none beyond."""
    for high in (30, 60, 90):
        if days_left <= high:
            return f"within{high}"
    return None


def boundary_terms(now: datetime) -> dict[int, tuple[datetime, int]]:
    """License key → (term date, its days left) at every boundary day and time of day, plus
    term dates earlier today (expired, 0 days left) and yesterday (expired, 1 day ago)."""
    terms: dict[int, tuple[datetime, int]] = {}
    key = 1
    for days in DAYS:
        for at in TIMES:
            term = datetime.combine(now.date() + timedelta(days=days), at)
            if term >= now:  # today's earlier times are expired: listed below
                terms[key] = (term, days)
                key += 1
    terms[key] = (now - timedelta(seconds=1), 0 if now.time() != time() else -1)
    terms[key + 1] = (now - timedelta(days=1), -1)
    return terms


def expected_status(now: datetime, term: datetime, days_left: int) -> str | None:
    return "expired" if term < now else expected_bucket(days_left)
