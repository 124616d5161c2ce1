"""In Chromium: an exported file imported into the grid changes nothing, line breaks in its
cells included (the browser posts a form's line breaks as CRLF)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from playwright.sync_api import expect
from sqlalchemy import func, select

from app.history.models import LicenseChange
from app.licenses.csv_io import export_licenses
from app.licenses.models import ProviderCredLicense
from app.tenancy import session_scope

NAMES = {12: "Line1\nLine2", 13: "Line1\r\nLine2"}


def stored(app: Any) -> tuple[dict[int, str | None], int]:
    """The licenses' names by key, and how many history rows there are."""
    with app.app_context(), session_scope("main") as session:
        names = session.execute(
            select(ProviderCredLicense.provider_cred_license_key, ProviderCredLicense.license_name)
        ).all()
        history = session.scalar(select(func.count()).select_from(LicenseChange))
    return dict(names), history or 0


def test_an_export_imported_into_the_grid_changes_nothing(
    app: Any, make_cred: Any, put_licenses: Any, logged_in: Any, tmp_path: Path
) -> None:
    make_cred(1)
    put_licenses(
        1,
        *({"providerCredLicense_Key": key, "license_Name": name} for key, name in NAMES.items()),
    )
    exported = io.StringIO()
    with app.app_context(), session_scope("main") as session:
        export_licenses(session, exported)
    csv_file = tmp_path / "licenses.csv"
    csv_file.write_bytes(exported.getvalue().encode())
    before = stored(app)
    page = logged_in()
    page.goto("/ui/credentials/1/licenses/import")
    page.locator("input[type=file]").set_input_files(str(csv_file))
    page.get_by_role("button", name="Preview").click()
    expect(page.locator("#import-result")).to_contain_text("0 to update · 2 unchanged")
    page.get_by_role("button", name="Apply this import").click()
    expect(page.locator("#import-result")).to_contain_text("0 updated · 2 unchanged")
    assert stored(app) == before
    assert before[0] == NAMES
