"""Small helpers shared by the API route tests."""

from __future__ import annotations

import json
from typing import Any


def data(response: Any) -> Any:
    body = response.get_json()
    assert body["error"] is None, body
    return body["data"]


def problem(response: Any) -> dict[str, Any]:
    """The problem object of an error response, after checking the envelope around it."""
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert body["data"] is None
    assert body["debug"]["activityID"] == response.headers["X-Activity-ID"]
    assert body["error"]["status"] == response.status_code
    return body["error"]


def pagination(response: Any) -> dict[str, int]:
    return json.loads(response.headers["x-pagination"])
