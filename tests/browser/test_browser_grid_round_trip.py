"""In Chromium: a grid of edge values saved as loaded, or with cells typed back to their values
in other spellings (each cell left, so the grid's script reads it), writes nothing."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from app.history.models import LicenseChange
from app.licenses.models import ProviderCredLicense
from app.licenses.schemas import LICENSE_OUT_SCHEMA
from app.tenancy import session_scope

SMALLEST, LARGEST = -(2**31), 2**31 - 1
EDGES = {
    "providerCredLicense_Key": SMALLEST,
    "credLicenseType_Key": LARGEST,
    "license_Name": "e\u0301  \U0001f3e5 " + "\u6771" * 506,
    "license_Number": "\U0001f600" * 50,
    "state": "pr",
    "effective_Date": "0001-01-01T00:00:00Z",
    "term_Date": "9999-12-31T23:59:59Z",
    "psV_Date": "2024-02-29T13:14:00Z",
}
#: cell → a spelling of its stored value the script or the server reads as that value
TYPED_BACK = {
    "effective_Date": "1/1/0001",
    "term_Date": "9999-12-31 23:59:59",
    "psV_Date": "2/29/2024 13:14",
    "state": "Puerto Rico",
}


def stored(app: Any) -> tuple[list[dict[str, Any]], int]:
    with app.app_context(), session_scope("main") as session:
        rows = session.scalars(select(ProviderCredLicense)).all()
        history = session.scalar(select(func.count()).select_from(LicenseChange))
        return [LICENSE_OUT_SCHEMA.dump(row) for row in rows], history or 0


def test_a_grid_of_edge_values_saved_as_loaded_writes_nothing(
    app: Any, make_cred: Any, make_license_type: Any, put_licenses: Any, logged_in: Any
) -> None:
    make_cred(1)
    make_license_type(LARGEST)
    put_licenses(1, EDGES)
    before = stored(app)
    page = logged_in()
    page.goto("/ui/credentials/1/licenses")
    page.locator("#save").click()
    page.wait_for_load_state()
    assert stored(app) == before
    page.goto("/ui/credentials/1/licenses")
    for cell, text in TYPED_BACK.items():
        page.locator(f"#rows-0-{cell}").fill(text)
        page.locator(f"#rows-0-{cell}").press("Tab")
    page.locator("#save").click()
    page.wait_for_load_state()
    assert page.locator(".cell-error").count() == 0
    assert stored(app) == before
