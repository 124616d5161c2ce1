"""License history and the expirables report (SPEC section 4b)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest

from app.audit import utcnow
from app.licenses.expiry import expirables_report
from app.licenses.models import ProviderCredLicense
from app.licenses.service import upsert_licenses
from app.wire.fields import format_wire_datetime
from tests.api_support import data, problem
from tests.factories import bare_license_item

LICENSES = "/provider-credentialing/1/licenses"


@pytest.fixture
def headers(auth_headers: Callable[..., dict[str, str]]) -> dict[str, str]:
    return auth_headers()


# ---------------------------------------------------------------------------------------------
# History


def test_history_groups_changes_newest_first(
    client: Any, headers: dict, make_cred: Callable, make_license_type: Callable
) -> None:
    make_cred(1)
    make_license_type(3)
    created = client.post(
        LICENSES, json=bare_license_item(5, state="CA", credLicenseType_Key=3), headers=headers
    )
    updated = client.put(
        f"{LICENSES}/5", json=bare_license_item(5, state="NY", license_Name="MD"), headers=headers
    )
    client.put(
        f"{LICENSES}/5", json=bare_license_item(5, state="NY", license_Name="MD"), headers=headers
    )
    deleted = client.delete(f"{LICENSES}/5", headers=headers)

    response = client.get(f"{LICENSES}/5/history", headers=headers)
    assert response.status_code == 200
    entries = data(response)
    assert [e["action"] for e in entries] == ["deleted", "updated", "created"]
    assert [e["activityID"] for e in entries] == [
        r.headers["X-Activity-ID"] for r in (deleted, updated, created)
    ]
    assert {e["user"] for e in entries} == {"editor-main"}
    assert entries[2]["changes"] == {  # a create lists every field it sets, as a dry run
        "providerCredLicense_Key": [None, 5],
        "providerCred_Key": [None, 1],
        "credLicenseType_Key": [None, 3],
        "license_Name": [None, None],
        "license_Number": [None, None],
        "state": [None, "CA"],
        "specialty_Code": [None, None],
        "effective_Date": [None, None],
        "term_Date": [None, None],
        "psV_Date": [None, None],
    }
    assert entries[1]["changes"] == {
        "credLicenseType_Key": [3, None],
        "license_Name": [None, "MD"],
        "state": ["CA", "NY"],
    }
    assert entries[0]["changes"] == {
        "providerCred_Key": [1, None],
        "license_Name": ["MD", None],
        "state": ["NY", None],
    }
    assert list(entries[0]) == ["activityID", "at", "user", "action", "changes"]
    assert entries[1]["at"] == data(updated)["update_Date"]


def test_history_of_a_license_without_changes_is_empty(
    client: Any, headers: dict, make_cred: Callable, session_for: Callable
) -> None:
    make_cred(1)
    with session_for() as session:
        session.add(ProviderCredLicense(provider_cred_license_key=5, provider_cred_key=1))
        session.commit()
    response = client.get(f"{LICENSES}/5/history", headers=headers)
    assert response.status_code == 200
    assert data(response) == []


@pytest.mark.parametrize(
    ("url", "detail"),
    [
        (f"{LICENSES}/6/history", "No license 6 under providerCredKey 1."),
        ("/provider-credentialing/2/licenses/5/history", "No license 5 under providerCredKey 2."),
        (
            "/provider-credentialing/9/licenses/5/history",
            "No provider credential 9 in this database.",
        ),
    ],
)
def test_history_not_found(
    client: Any, headers: dict, make_cred: Callable, url: str, detail: str
) -> None:
    make_cred(1)
    make_cred(2)
    assert client.post(LICENSES, json=bare_license_item(5), headers=headers).status_code == 200
    response = client.get(url, headers=headers)
    assert response.status_code == 404
    assert problem(response)["detail"] == detail


def test_history_is_readable_by_viewers(
    client: Any, auth_headers: Callable, make_cred: Callable
) -> None:
    make_cred(1)
    client.post(LICENSES, json=bare_license_item(5), headers=auth_headers())
    response = client.get(f"{LICENSES}/5/history", headers=auth_headers(role="viewer"))
    assert response.status_code == 200
    assert [e["action"] for e in data(response)] == ["created"]


# ---------------------------------------------------------------------------------------------
# Expirables


def wire(moment: datetime | None) -> str | None:
    return format_wire_datetime(moment)


@pytest.fixture
def expiring(make_cred: Callable, session_for: Callable) -> dict[str, int]:
    """Licenses in every bucket, relative to now; returns name → license key."""
    make_cred(1, provider_id="PRV1")
    make_cred(2, provider_id="PRV2")
    now = utcnow()
    recent, old = now - timedelta(days=10), now - timedelta(days=200)
    layout = {
        "expired": (1, 1, now - timedelta(days=3), recent),
        "within30": (2, 1, now + timedelta(days=10), None),
        "within60": (3, 2, now + timedelta(days=45), old),
        "within90": (4, 2, now + timedelta(days=75), recent),
        "later": (5, 1, now + timedelta(days=200), old),
        "never": (6, 1, None, recent),
    }
    with session_for() as session:
        for key, cred, term, psv in layout.values():
            (outcome,) = upsert_licenses(
                session,
                cred,
                [bare_license_item(key, cred, term_Date=wire(term), psV_Date=wire(psv))],
                actor="seed",
                activity_id="setup",
            )
            assert outcome.status == 201
    return {name: spec[0] for name, spec in layout.items()}


def test_expirables_default_is_90_days(client: Any, headers: dict, expiring: dict) -> None:
    response = client.get("/licenses/expirables", headers=headers)
    assert response.status_code == 200
    report = data(response)
    assert report["counts"] == {
        "expired": 1,
        "within30": 1,
        "within60": 1,
        "within90": 1,
        "psvOverdue": 3,
    }
    rows = report["licenses"]
    assert [(r["providerCredLicense_Key"], r["expiryStatus"], r["psvOverdue"]) for r in rows] == [
        (1, "expired", False),
        (2, "within30", True),
        (3, "within60", True),
        (4, "within90", False),
    ]
    assert [r["provider_ID"] for r in rows] == ["PRV1", "PRV1", "PRV2", "PRV2"]
    assert rows[0]["term_Date"].endswith("Z")


@pytest.mark.parametrize(("within", "expected"), [("30", [1, 2]), ("60", [1, 2, 3])])
def test_expirables_within(
    client: Any, headers: dict, expiring: dict, within: str, expected: list[int]
) -> None:
    response = client.get(f"/licenses/expirables?within={within}", headers=headers)
    report = data(response)
    assert [r["providerCredLicense_Key"] for r in report["licenses"]] == expected
    assert report["counts"]["within90"] == 1


def test_expirables_psv_window_is_configurable(
    app: Any, client: Any, headers: dict, expiring: dict
) -> None:
    app.config["PSV_WINDOW_DAYS"] = 5
    report = data(client.get("/licenses/expirables", headers=headers))
    assert report["counts"]["psvOverdue"] == 6


@pytest.mark.parametrize("within", ["45", "x", "", "-30"])
def test_expirables_bad_within_is_400(client: Any, headers: dict, within: str) -> None:
    response = client.get(f"/licenses/expirables?within={within}", headers=headers)
    assert response.status_code == 400
    assert problem(response)["errors"] == {"within": ["Must be one of 30, 60, 90."]}


def test_expirables_needs_authentication(client: Any) -> None:
    response = client.get("/vbasoftware/licenses/expirables")
    assert response.status_code == 400
    assert problem(response)["detail"] == "The vbasoftware-database header is required."


def test_expiry_buckets_at_their_boundaries(make_cred: Callable, session_for: Callable) -> None:
    """``withinN`` is ``now ≤ term_Date < now + N days``; buckets do not overlap."""
    make_cred(1)
    now = datetime(2030, 6, 1, 12, 0, 0)
    terms = {
        1: now - timedelta(seconds=1),
        2: now,
        3: now + timedelta(days=30) - timedelta(seconds=1),
        4: now + timedelta(days=30),
        5: now + timedelta(days=60),
        6: now + timedelta(days=90) - timedelta(seconds=1),
        7: now + timedelta(days=90),
    }
    psv = {1: now - timedelta(days=120), 2: now - timedelta(days=120, seconds=1)}
    with session_for() as session:
        session.add_all(
            ProviderCredLicense(
                provider_cred_license_key=key,
                provider_cred_key=1,
                term_date=term,
                psv_date=psv.get(key, now),
            )
            for key, term in terms.items()
        )
        session.commit()
        report = expirables_report(session, now=now, within_days=90, psv_window_days=120)
    statuses = {r["providerCredLicense_Key"]: r["expiryStatus"] for r in report["licenses"]}
    assert statuses == {
        1: "expired",
        2: "within30",
        3: "within30",
        4: "within60",
        5: "within90",
        6: "within90",
    }
    assert report["counts"] == {
        "expired": 1,
        "within30": 2,
        "within60": 1,
        "within90": 2,
        "psvOverdue": 1,
    }
