"""Every page of an expiry list is that slice of the whole list, and its total is its length.

A page is its own statement (``page_statement``: the page's keys chosen first, then joined;
the bucket's date hidden from SQLite's planner in the other date's order, and a page past the
middle read in the reversed order from the far end), the CSV export another
(``expiring_statement``), and the total of a list without a bucket is summed from the bucket
counts (``matching_total``). They must agree for every filter and order, the edges included:
dates that tie, dates missing (last ascending, first descending), the PSV bucket's two ranges.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest

from app.licenses.expiry import (
    BUCKETS,
    EXPIRY_WINDOWS,
    SORT_COLUMNS,
    ExpiryClock,
    ExpiryFilter,
    SortKey,
    bucket_counts,
    expiring_licenses,
    expiring_statement,
    matching_total,
)
from app.licenses.models import ProviderCredLicense

NOW = datetime(2030, 6, 1, 10, 0, 0)
SIZE = 7


def a_date(rnd: random.Random) -> datetime | None:
    """Missing, exactly now (ties), a midnight, or any time, within a year either side."""
    draw = rnd.random()
    if draw < 0.15:
        return None
    if draw < 0.25:
        return NOW
    day = NOW + timedelta(days=rnd.randint(-300, 120))
    return day.replace(hour=0) if draw < 0.5 else day + timedelta(seconds=rnd.randint(0, 86399))


@pytest.fixture
def licenses(
    make_cred: Callable[..., int],
    make_license_type: Callable[..., int],
    session_for: Callable[..., Any],
) -> None:
    for key in (1, 2, 3):
        make_cred(key)
    make_license_type(1)
    rnd = random.Random(15)
    with session_for() as session:
        for key in range(1, 121):
            session.add(
                ProviderCredLicense(
                    provider_cred_license_key=key,
                    provider_cred_key=rnd.randint(1, 3),
                    cred_license_type_key=rnd.choice([1, None]),
                    state=rnd.choice(["TX", "CA", None]),
                    term_date=a_date(rnd),
                    psv_date=a_date(rnd),
                )
            )
        session.commit()


def filters() -> list[ExpiryFilter]:
    chosen = [ExpiryFilter(within_days=days) for days in EXPIRY_WINDOWS]
    chosen += [ExpiryFilter(bucket=bucket) for bucket in BUCKETS]
    return [
        ExpiryFilter(f.bucket, state, type_key, f.within_days)
        for f in chosen
        for state, type_key in ((None, None), ("TX", None), (None, 1))
    ]


def test_every_page_is_the_whole_lists_slice_and_the_total_its_length(
    licenses: None, session_for: Callable[..., Any]
) -> None:
    clock = ExpiryClock(NOW, 120)
    orders = [
        [SortKey(column, descending)]
        for column in SORT_COLUMNS.values()
        for descending in (False, True)
    ]
    with session_for() as session:
        for chosen in filters():
            counts = bucket_counts(session, clock, chosen)
            total = matching_total(session, clock, chosen, counts)
            for order in orders:
                whole = [
                    row[0].provider_cred_license_key
                    for row in session.execute(expiring_statement(clock, chosen, order))
                ]
                what = (chosen, order[0].column.key, order[0].descending)
                assert total == len(whole), what
                pages = -(-total // SIZE)
                for number in range(1, pages + 2):  # and one past the end: empty
                    page = expiring_licenses(
                        session, clock, chosen, page=number, size=SIZE, total=total, order=order
                    )
                    keys = [item.license.provider_cred_license_key for item in page]
                    assert keys == whole[(number - 1) * SIZE : number * SIZE], (*what, number)
