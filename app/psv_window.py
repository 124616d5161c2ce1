"""The primary-source verification window in force for one database (SPEC section 7).

A program on the accreditation track verifies within ``PSV_WINDOW_DAYS`` (120); a database
configured as ``{"url": ..., "psv_window_days": 90}`` (the CVO track) has its own. Every user
of the window (the expirables route, the UI's flags and expiring page, the monitoring runs)
asks here, so one database never shows two windows.
"""

from __future__ import annotations

from flask import current_app


def psv_window_days(database: str) -> int:
    """The window of ``database``: its own when configured, else ``PSV_WINDOW_DAYS``."""
    config = current_app.config
    own: dict[str, int] = config.get("PSV_WINDOW_DAYS_BY_DATABASE") or {}
    return own.get(database, config["PSV_WINDOW_DAYS"])
