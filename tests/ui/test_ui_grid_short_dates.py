"""The grid reads a date cell the same with or without JavaScript: the short forms the
script reads ("1/2/24", "Jan 31, 2025", "31-Jan-25") are read by the server too, with the
same two-digit-year window and month-first order, when the form is posted as typed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import select

from app.licenses.models import ProviderCredLicense
from app.tenancy import session_scope
from app.ui.date_cells import UnreadableDate, format_date_cell, full_year, parse_date_cell
from app.wire.fields import parse_wire_datetime
from tests.date_cell_forms import NOT_DATES, SHORT_DATES, THIS_YEAR


@pytest.mark.parametrize(("text", "expected"), SHORT_DATES.items())
def test_a_short_date_cell_is_read_as_the_script_reads_it(text: str, expected: datetime) -> None:
    assert parse_date_cell(text, this_year=THIS_YEAR) == expected


@pytest.mark.parametrize("text", NOT_DATES)
def test_a_text_the_script_refuses_the_server_refuses(text: str) -> None:
    with pytest.raises(UnreadableDate):
        parse_date_cell(text, this_year=THIS_YEAR)


@pytest.mark.parametrize(
    ("stored", "shown"),
    [
        (datetime(2027, 3, 31), "03/31/2027"),
        (datetime(2027, 3, 31, 15, 30), "03/31/2027 15:30"),
        (datetime(2027, 3, 31, 0, 30), "03/31/2027 00:30"),  # a time in the midnight hour
        (datetime(2027, 3, 31, 0, 0, 5), "03/31/2027 00:00:05"),
        (datetime(1, 1, 1), "01/01/0001"),
    ],
)
def test_a_stored_date_is_shown_with_its_time_and_reads_back_the_same(
    stored: datetime, shown: str
) -> None:
    """Only a time of exactly midnight is left out: 00:30 is a time, and dropping it would
    show (and, once the cell is edited, save) another instant."""
    assert format_date_cell(stored) == shown
    assert parse_date_cell(shown, this_year=THIS_YEAR) == stored


@pytest.mark.parametrize(
    ("yy", "this_year", "year"),
    [(46, 2026, 2046), (47, 2026, 1947), (0, 2026, 2000), (99, 2026, 1999), (1, 2099, 2101)],
)
def test_a_two_digit_year_is_read_from_79_years_back_to_20_ahead(
    yy: int, this_year: int, year: int
) -> None:
    assert full_year(yy, this_year) == year


def test_the_api_wire_format_stays_strict() -> None:
    for text in ("1/2/24", "Jan 31, 2025", "31-Jan-25", "03/31/2027"):
        assert parse_wire_datetime(text) is None


def test_a_grid_save_without_javascript_stores_short_dates(
    app: Any, make_cred: Any, login: Any, open_grid: Any
) -> None:
    """The form posts each cell as typed (no script rewrote it to mm/dd/yyyy)."""
    make_cred(1)
    login()
    page = open_grid(1)
    first, second = page.blank_rows()[:2]
    page.set(first, license_Number="S-1", effective_Date="1/2/24", term_Date="Jan 31, 2030")
    page.set(second, license_Number="S-2", effective_Date="6/1/98", psV_Date="31-Jan-25")
    response = page.save()
    assert response.status_code == 200
    assert "2 created" in response.get_data(as_text=True)
    with app.app_context(), session_scope("main") as session:
        rows = {
            row.license_number: (row.effective_date, row.term_date, row.psv_date)
            for row in session.scalars(select(ProviderCredLicense))
        }
    assert rows == {
        "S-1": (datetime(2024, 1, 2), datetime(2030, 1, 31), None),
        "S-2": (datetime(1998, 6, 1), None, datetime(2025, 1, 31)),
    }
