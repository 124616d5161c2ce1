"""In Chromium: reloading an import's result page does not apply the import again."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import expect
from sqlalchemy import func, select

from app.licenses.models import ProviderCredLicense
from app.tenancy import session_scope


def imported(app: Any) -> int:
    with app.app_context(), session_scope("main") as session:
        count = session.scalar(
            select(func.count()).where(ProviderCredLicense.license_number == "DBL-1")
        )
    return count or 0


def preview(page: Any, tmp_path: Path) -> None:
    csv_file = tmp_path / "licenses.csv"
    csv_file.write_text(
        "providerCredLicense_Key,providerCred_Key,license_Name,license_Number,state\n"
        ",1,Twice?,DBL-1,NY\n",
        encoding="utf-8",
    )
    page.goto("/ui/credentials/1/licenses/import")
    page.locator("input[type=file]").set_input_files(str(csv_file))
    page.get_by_role("button", name="Preview").click()
    expect(page.locator("#import-result")).to_contain_text("1 to create")


def test_reloading_the_result_imports_once(
    app: Any, make_cred: Any, logged_in: Any, tmp_path: Path
) -> None:
    make_cred(1)
    page = logged_in()
    preview(page, tmp_path)
    page.get_by_role("button", name="Apply this import").click()
    expect(page.locator("#import-result")).to_contain_text("1 created")
    page.reload()
    expect(page.locator("#import-result")).to_contain_text("1 created")
    assert imported(app) == 1
