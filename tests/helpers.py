"""Small builders shared by the API and service tests."""

from __future__ import annotations

from typing import Any

BATCH_URL = "/provider-credentialing/{cred}/licenses-batch"


def license_item(key: int, cred: int = 1, **fields: Any) -> dict[str, Any]:
    """A valid license item for ProviderCred ``cred``; ``fields`` override or add members."""
    item: dict[str, Any] = {
        "providerCredLicense_Key": key,
        "providerCred_Key": cred,
        "license_Name": f"License {key}",
        "license_Number": f"N-{key}",
        "state": "NY",
        "effective_Date": "2024-01-01T00:00:00Z",
        "term_Date": "2026-01-01T00:00:00Z",
    }
    item.update(fields)
    return item


def results(response: Any) -> list[tuple[str | None, int, str]]:
    """``(id value, status, body)`` per item of a 207 response."""
    assert response.status_code == 207, response.get_json()
    return [(r["id"][0]["value"], r["status"], r["body"]) for r in response.get_json()["data"]]


def dispose_engines(application: Any) -> None:
    """Close the pooled connections of every database of ``application`` (a test's app is done)."""
    from app.extensions import db

    with application.app_context():
        for engine in db.engines.values():
            engine.dispose()
