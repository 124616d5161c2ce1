"""Helpers of the browser tests (Playwright driving Debian's Chromium)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from app.licenses.models import ProviderCredLicense
from app.tenancy import session_scope

#: The grid's offer to put back rows typed but never saved.
NOTICE = ".draft-notice"


def stored_names(app: Any) -> dict[int, str | None]:
    """Each stored license's name, by key (what a Save did or did not write)."""
    with app.app_context(), session_scope("main") as session:
        rows = session.scalars(select(ProviderCredLicense)).all()
        return {row.provider_cred_license_key: row.license_name for row in rows}


def paste(page: Any, text: str) -> None:
    """Paste ``text`` into the focused element the way a spreadsheet copy arrives."""
    page.evaluate(
        """text => {
            const data = new DataTransfer();
            data.setData("text/plain", text);
            document.activeElement.dispatchEvent(new ClipboardEvent("paste", {
                clipboardData: data, bubbles: true, cancelable: true }));
        }""",
        text,
    )
