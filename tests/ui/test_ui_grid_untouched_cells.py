"""A cell the user did not change is not written, even when the page cannot show it exactly.

A text input drops line breaks, so a stored name "Line1\\nLine2" comes back from the browser as
"Line1Line2" with the rest of an edited row; that is not the user's change.
"""

from __future__ import annotations

from typing import Any

import pytest
from gridpage import as_browser_loaded
from sqlalchemy import select

from app.history.models import LicenseChange
from app.licenses.models import ProviderCredLicense
from app.tenancy import session_scope

NAME = "Line1\nLine2"


@pytest.fixture
def cred(make_cred: Any, put_licenses: Any) -> int:
    make_cred(1)
    put_licenses(
        1,
        {"providerCredLicense_Key": 11, "license_Name": NAME, "license_Number": "N-1\r\nB"},
    )
    return 1


def stored(app: Any, key: int) -> ProviderCredLicense:
    with app.app_context(), session_scope("main") as session:
        license = session.get(ProviderCredLicense, key)
    assert license is not None
    return license


def last_change(app: Any, key: int) -> dict[str, Any]:
    with app.app_context(), session_scope("main") as session:
        change = session.scalars(
            select(LicenseChange)
            .where(LicenseChange.provider_cred_license_key == key)
            .order_by(LicenseChange.id.desc())
        ).first()
    assert change is not None
    return dict(change.changes or {})


def test_editing_another_cell_keeps_a_stored_line_break(
    app: Any, cred: int, login: Any, open_grid: Any
) -> None:
    login()
    page = as_browser_loaded(open_grid(cred))
    row = page.row(11)
    assert page.fields[f"{row}-license_Name"] == "Line1Line2"
    page.set(row, specialty_Code="NL2")
    assert page.save().status_code == 200
    license = stored(app, 11)
    assert (license.license_name, license.license_number) == (NAME, "N-1\r\nB")
    assert license.specialty_code == "NL2"
    assert set(last_change(app, 11)) == {"specialty_Code"}


def test_a_cell_with_a_line_break_can_still_be_edited(
    app: Any, cred: int, login: Any, open_grid: Any
) -> None:
    login()
    page = as_browser_loaded(open_grid(cred))
    page.set(page.row(11), license_Name="One line")
    assert page.save().status_code == 200
    assert stored(app, 11).license_name == "One line"
    assert stored(app, 11).license_number == "N-1\r\nB"
