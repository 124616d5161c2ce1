"""In Chromium: the Apply of the largest file a preview accepts goes through.

What the browser posts is what matters here: it percent-encodes the Apply form, so the file
carried as a JSON string (commas, quotes, non-ASCII) grew to two or three times its size and
the Apply was refused 413 after the preview had accepted the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from app.licenses.models import ProviderCredLicense
from app.tenancy import session_scope

LIMIT = 40_000
HEADER = "providerCredLicense_Key,providerCred_Key,license_Name,license_Number,state\n"
NAME = '"Médecin, ""Chef"" de clinique\nZürich — 東京 🩺"'


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    """CSRF protection on, as in production: its hook reads the form under the limit set."""
    return {**app_config, "UI_MAX_CONTENT_LENGTH": LIMIT, "WTF_CSRF_ENABLED": True}


def stored(app: Any) -> int:
    with app.app_context(), session_scope("main") as session:
        return session.scalar(select(func.count()).select_from(ProviderCredLicense)) or 0


def test_the_largest_file_a_preview_accepts_is_applied(
    app: Any, make_cred: Any, logged_in: Any, tmp_path: Path
) -> None:
    make_cred(1)
    rows = [f",1,{NAME},N-{number},TX\n" for number in range(1, 1000)]
    while len((HEADER + "".join(rows)).encode()) > LIMIT - 1000:  # the form's own bytes
        rows.pop()
    csv_file = tmp_path / "licenses.csv"
    csv_file.write_bytes((HEADER + "".join(rows)).encode())
    page = logged_in()
    page.goto("/ui/credentials/1/licenses/import")
    page.locator("input[type=file]").set_input_files(str(csv_file))
    page.get_by_role("button", name="Preview").click()
    expect(page.locator("#import-result")).to_contain_text(f"{len(rows)} to create")
    with page.expect_request("**/import/apply") as posted:
        page.get_by_role("button", name="Apply this import").click()
    assert len(posted.value.post_data_buffer or b"") > LIMIT  # the upload's limit would refuse it
    expect(page.locator("#import-result")).to_contain_text(f"{len(rows)} created")
    assert stored(app) == len(rows)
