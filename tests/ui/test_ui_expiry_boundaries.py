"""The expiring page and the grid show each license's days left under the heading of its
bucket: at the 29/30/31, 60/61 and 90/91-day boundaries, for term dates at midnight and with a
time of day (the API accepts ``2030-07-01 15:00:00 UTC``)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import pytest
from gridpage import text_of

from app.ui.expiry import ExpiryClock
from app.ui.grid_expiry import expiry_state
from app.wire.fields import format_wire_datetime
from tests.expiry_support import NOWS, boundary_terms, expected_status

#: Each tab and the days left its heading promises.
TABS = {
    "expired": ("Expired", range(-10_000, 1)),
    "within30": ("Within 30 days", range(0, 31)),
    "within60": ("In 31–60 days", range(31, 61)),
    "within90": ("In 61–90 days", range(61, 91)),
}
ROW = re.compile(r"<tr>\s*<th scope=\"row\">.*?</tr>", re.S)
KEY = re.compile(r'class="row-link"[^>]*>(-?\d+)<')
DAYS = re.compile(r'class="num days-left">\s*(\d+) days?( ago)?\s*<')


def rows_of(html: str) -> dict[int, int]:
    """License key → days left (negative: ago) of each row of an expiring page."""
    found = {}
    for row in ROW.findall(html):
        key, days = KEY.search(row), DAYS.search(row)
        assert key is not None and days is not None, row
        found[int(key.group(1))] = -int(days.group(1)) if days.group(2) else int(days.group(1))
    return found


@pytest.mark.parametrize("now", NOWS, ids=lambda now: now.strftime("now-%H%M"))
def test_each_tab_lists_exactly_the_days_its_heading_says(
    now: datetime,
    make_cred: Any,
    put_licenses: Any,
    login: Any,
    client: Any,
    app: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app.config["UI_PAGE_SIZE"] = 500
    terms = boundary_terms(now)
    make_cred(1)
    put_licenses(
        1,
        *(
            {"providerCredLicense_Key": key, "term_Date": format_wire_datetime(term)}
            for key, (term, _) in terms.items()
        ),
    )
    monkeypatch.setattr("app.ui.views.utcnow", lambda: now)
    login()
    for show, (label, days_range) in TABS.items():
        html = client.get(f"/ui/licenses/expiring?show={show}").get_data(as_text=True)
        assert label in text_of(html)
        shown = rows_of(html)
        assert shown == {
            key: days
            for key, (term, days) in terms.items()
            if expected_status(now, term, days) == show
        }, show
        assert all(days in days_range for days in shown.values()), (show, shown)


@pytest.mark.parametrize("now", NOWS, ids=lambda now: now.strftime("now-%H%M"))
def test_the_grid_states_days_left_within_its_bucket(now: datetime) -> None:
    clock = ExpiryClock(now, 120)
    for term, days in boundary_terms(now).values():
        state = expiry_state(clock, term, None)
        status = expected_status(now, term, days)
        if status in ("within30", "within60", "within90"):
            high = int(status.removeprefix("within"))
            left = f"{days} day{'s' if days != 1 else ''} left"
            assert state.text == f"≤ {high} days ({left})", (term, state.text)
            assert high - 30 < days <= high or (high == 30 and days == 0)
        elif status is None:
            assert state.text.startswith("Current (") and days > 90
        else:
            assert state.bucket == "expired" and days <= 0
            # earlier today, or yesterday (boundary_terms' two expired dates)
            assert state.text == {0: "Expired today", -1: "Expired 1 day ago"}[days], term
