"""How large a ``/ui`` request body may be.

Every ``/ui`` form is bounded by ``UI_MAX_CONTENT_LENGTH``: a grid Save, and the CSV upload (the
file with its form). An import's Apply is the exception: it posts back the file its preview
read (as URL-safe base64: four bytes for three of the file, whatever the file holds) with the
version of each row the preview saw. Bounded like the rest, an Apply of a file the preview had
accepted was refused; its bound is what the largest accepted upload makes of it, so an Apply
is never refused for its size where its preview passed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

APPLY_ENDPOINT = "ui.apply_import"
#: The most one row's version takes in the Apply form, percent-encoded as a browser posts it:
#: ``"-2147483648":"9999-12-31T23:59:59.999999+00:00",`` is 69 bytes.
VERSION_BYTES = 96
#: The Apply form's other fields: the CSRF and one-time tokens, the field names.
APPLY_FORM_BYTES = 4096


def carried_size(size: int) -> int:
    """The bytes base64 makes of ``size`` bytes."""
    return -(-size // 3) * 4


def apply_body_limit(upload_limit: int, max_rows: int) -> int:
    """The largest Apply of a file that came in an upload of at most ``upload_limit`` bytes,
    with the versions of at most ``max_rows`` rows."""
    return carried_size(upload_limit) + max_rows * VERSION_BYTES + APPLY_FORM_BYTES


def ui_body_limit(endpoint: str | None, config: Mapping[str, Any]) -> int:
    """The largest body ``endpoint`` of the UI accepts."""
    limit = int(config["UI_MAX_CONTENT_LENGTH"])
    if endpoint == APPLY_ENDPOINT:
        return apply_body_limit(limit, int(config["BATCH_MAX_ITEMS"]))
    return limit
