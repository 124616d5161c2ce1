"""Builders of API items, grid items and rows for every test: each defined once, here."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from app.credentials.models import ProviderCred


def license_item(key: int, cred: int = 1, **fields: Any) -> dict[str, Any]:
    """A valid, complete license item for ProviderCred ``cred``; ``fields`` override or add."""
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


def bare_license_item(key: Any, cred: int = 1, **fields: Any) -> dict[str, Any]:
    """Only the two keys (every other field null) and ``fields``."""
    return {"providerCredLicense_Key": key, "providerCred_Key": cred, **fields}


def cred_item(key: int, provider: str = "P1", **fields: Any) -> dict[str, Any]:
    """A valid ProviderCred item."""
    return {
        "providerCred_Key": key,
        "provider_ID": provider,
        "credType_Key": 1,
        "effective_Date": "2024-01-01T00:00:00Z",
        **fields,
    }


def type_item(key: Any, **fields: Any) -> dict[str, Any]:
    """A license-type item."""
    return {"credLicenseType_Key": key, **fields}


def grid_license(**fields: Any) -> dict[str, Any]:
    """License 11 as the grid tests write it with ``put_licenses(1, ...)`` (which adds its
    ``providerCred_Key``); ``fields`` override or add."""
    return {
        "providerCredLicense_Key": 11,
        "license_Name": "Medical license",
        "license_Number": "MD-111",
        "specialty_Code": "FM",
        "effective_Date": "2026-01-01",
        "term_Date": "2027-06-01",
        **fields,
    }


def provider_cred_row(key: int = 1, provider_id: str | None = None) -> ProviderCred:
    """A ProviderCred row to add to a session: provider ``P<key>``, credential type 1."""
    return ProviderCred(
        provider_cred_key=key,
        provider_id=provider_id or f"P{key}",
        cred_type_key=1,
        effective_date=datetime(2024, 1, 1),
    )
