"""Helpers of the browser tests (Playwright driving Debian's Chromium)."""

from __future__ import annotations

from typing import Any


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
