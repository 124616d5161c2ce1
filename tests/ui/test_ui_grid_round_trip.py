"""A grid saved as loaded writes nothing, whatever its licenses hold: the smallest and largest
keys, text at its length limit (non-ASCII, combining, emoji, spaces inside), years 1 and 9999
with a time of day. A cell typed back to its value after an edit writes nothing either."""

from __future__ import annotations

from typing import Any

import pytest
from gridpage import GridPage, as_browser_loaded
from sqlalchemy import func, select

from app.history.models import LicenseChange
from app.licenses.models import ProviderCredLicense
from app.licenses.schemas import LICENSE_OUT_SCHEMA
from app.tenancy import session_scope

SMALLEST, LARGEST = -(2**31), 2**31 - 1
EDGES = [
    {
        "providerCredLicense_Key": SMALLEST,
        "credLicenseType_Key": LARGEST,
        "license_Name": "e\u0301  \U0001f3e5 " + "\u6771" * 506,
        "license_Number": "\U0001f600" * 50,
        "state": "pr",
        "specialty_Code": "a\u0308" * 5,
        "effective_Date": "0001-01-01T00:00:00Z",
        "term_Date": "9999-12-31T23:59:59Z",
        "psV_Date": "2024-02-29T13:14:00Z",
    },
    {
        "providerCredLicense_Key": LARGEST,
        "license_Name": "x\u2028y <b>&amp;</b> \"'",
        "effective_Date": "2024-01-01T00:00:05Z",
        "term_Date": "2024-01-01 23:59:59 UTC",
    },
]


@pytest.fixture
def cred(make_cred: Any, make_license_type: Any, put_licenses: Any) -> int:
    make_cred(1)
    make_license_type(LARGEST)
    put_licenses(1, *EDGES)
    return 1


def stored(app: Any) -> tuple[list[dict[str, Any]], int]:
    """The licenses as the API writes them (audit fields included), and the history's size."""
    with app.app_context(), session_scope("main") as session:
        rows = session.scalars(
            select(ProviderCredLicense).order_by(ProviderCredLicense.provider_cred_license_key)
        ).all()
        history = session.scalar(select(func.count()).select_from(LicenseChange))
        return [LICENSE_OUT_SCHEMA.dump(row) for row in rows], history or 0


def test_a_grid_saved_as_loaded_writes_nothing(
    app: Any, cred: int, login: Any, open_grid: Any
) -> None:
    login()
    before = stored(app)
    response = as_browser_loaded(open_grid(cred)).save()
    assert response.status_code == 200
    assert stored(app) == before


@pytest.mark.parametrize(
    ("cell", "typed_back"),
    [
        ("effective_Date", "1/1/0001"),
        ("term_Date", "9999-12-31 23:59:59"),
        ("psV_Date", "02/29/2024 13:14"),
        ("state", "Puerto Rico"),
        ("license_Number", " " + "\U0001f600" * 50 + " "),
        ("credLicenseType_Key", str(LARGEST)),
    ],
)
def test_a_cell_typed_back_to_its_value_writes_nothing(
    app: Any, cred: int, login: Any, open_grid: Any, cell: str, typed_back: str
) -> None:
    """Edited, then typed back to its value in another spelling before Save."""
    login()
    before = stored(app)
    page: GridPage = as_browser_loaded(open_grid(cred))
    page.set(page.row(SMALLEST), **{cell: typed_back}).save()
    assert stored(app) == before


def test_an_edit_of_one_cell_writes_that_cell_only(
    app: Any, cred: int, login: Any, open_grid: Any
) -> None:
    """The row's other cells go back as loaded: each edge value is read as the one stored."""
    login()
    page: GridPage = as_browser_loaded(open_grid(cred))
    page.set(page.row(SMALLEST), specialty_Code="FM").save()
    with app.app_context(), session_scope("main") as session:
        change = session.scalars(select(LicenseChange).order_by(LicenseChange.id.desc())).first()
        assert change is not None
        assert (change.provider_cred_license_key, change.changes) == (
            SMALLEST,
            {"specialty_Code": ["a\u0308" * 5, "FM"]},
        )
