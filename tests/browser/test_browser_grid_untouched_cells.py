"""In Chromium: a stored line break the text input cannot show survives an edit of the row."""

from __future__ import annotations

from typing import Any

from app.licenses.models import ProviderCredLicense
from app.tenancy import session_scope


def test_a_stored_line_break_survives_editing_another_cell(
    app: Any, make_cred: Any, put_licenses: Any, logged_in: Any
) -> None:
    make_cred(1)
    put_licenses(1, {"providerCredLicense_Key": 11, "license_Name": "Line1\nLine2"})
    page = logged_in()
    page.goto("/ui/credentials/1/licenses")
    assert page.locator("#rows-0-license_Name").input_value() == "Line1Line2"
    page.locator("#rows-0-specialty_Code").fill("NL2")
    page.locator("#save").click()
    page.wait_for_load_state()
    assert page.locator("tr[data-license-key='11'] .badge").inner_text() == "Updated"
    with app.app_context(), session_scope("main") as session:
        license = session.get(ProviderCredLicense, 11)
        assert license is not None
        assert (license.license_name, license.specialty_code) == ("Line1\nLine2", "NL2")
