"""What the API gives out, given back unchanged, changes nothing (SPEC section 3: "Values
unchanged from the stored row leave update_Date/update_User and the history untouched"): a
license of edge values (the smallest and largest keys, text at its length limit, non-ASCII and
combining text, years 1 and 9999, times sent in every form VBAPI clients use) read with GET or
from the list and sent back with PUT, the batch and its dry run, the audit fields included.
The history, the list and the expirables spell each value as the single GET does."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from app.audit import utcnow
from app.history.models import LicenseChange
from app.wire.fields import format_wire_datetime
from tests.api_support import data

SMALLEST, LARGEST = -(2**31), 2**31 - 1
LICENSES = f"/provider-credentialing/{LARGEST}/licenses"
#: A term date 10 days ahead, written as a generated client writes it: in the expirables.
SOON = utcnow().replace(microsecond=0) + timedelta(days=10, hours=3)
#: Each field at an edge, each date in another of the forms the API reads.
EDGES = {
    "credLicenseType_Key": SMALLEST,
    "license_Name": " e\u0301 \U0001f3e5 " + "\u6771" * 507 + "  ",
    "license_Number": "\U0001f600" * 50,
    "state": "pr",
    "specialty_Code": "a\u0308" * 5,
    "effective_Date": "0001-01-01 00:00:00 UTC",
    "term_Date": SOON.strftime("%Y-%m-%d %H:%M:%S +0000"),
    "psV_Date": "2024-02-29T13:14:15.999999-05:00",
}
OTHER_EDGES = {"effective_Date": "2024-01-01", "term_Date": "9999-12-31T23:59:59.5Z"}


@pytest.fixture
def headers(
    auth_headers: Any, make_cred: Any, make_license_type: Any, client: Any
) -> dict[str, str]:
    """ProviderCred LARGEST with licenses SMALLEST (``EDGES``) and LARGEST (``OTHER_EDGES``)."""
    make_cred(LARGEST)
    make_license_type(SMALLEST)
    headers = auth_headers()
    for key, fields in ((SMALLEST, EDGES), (LARGEST, OTHER_EDGES)):
        item = {"providerCredLicense_Key": key, "providerCred_Key": LARGEST, **fields}
        assert client.post(LICENSES, json=item, headers=headers).status_code == 200
    return headers


def history_size(session_for: Any) -> int:
    with session_for() as session:
        return session.scalar(select(func.count()).select_from(LicenseChange)) or 0


def test_what_get_gives_is_stored_as_the_api_reads_it(client: Any, headers: dict) -> None:
    got = data(client.get(f"{LICENSES}/{SMALLEST}", headers=headers))
    assert {name: got[name] for name in EDGES} == {
        **EDGES,
        "license_Name": EDGES["license_Name"].strip(),
        "state": "PR",
        "effective_Date": "0001-01-01T00:00:00Z",
        "term_Date": format_wire_datetime(SOON),
        "psV_Date": "2024-02-29T18:14:15Z",
    }
    other = data(client.get(f"{LICENSES}/{LARGEST}", headers=headers))
    assert (other["effective_Date"], other["term_Date"]) == (
        "2024-01-01T00:00:00Z",
        "9999-12-31T23:59:59Z",
    )


def test_a_license_sent_back_as_read_changes_nothing(
    client: Any, headers: dict, session_for: Any
) -> None:
    listed = data(client.get(LICENSES, headers=headers))
    singles = [
        data(client.get(f"{LICENSES}/{key}", headers=headers)) for key in (SMALLEST, LARGEST)
    ]
    assert listed == singles
    history = history_size(session_for)
    for got in singles:  # audit fields included, as read
        put = client.put(f"{LICENSES}/{got['providerCredLicense_Key']}", json=got, headers=headers)
        assert (put.status_code, data(put)) == (200, got)
    dry = data(client.put(f"{LICENSES}-batch?dryRun=true", json=singles, headers=headers))
    assert [(item["status"], item["changes"]) for item in dry] == [(200, {}), (200, {})]
    batch = data(client.put(f"{LICENSES}-batch", json=singles, headers=headers))
    assert [(item["status"], item["body"]) for item in batch] == [(200, "Updated")] * 2
    assert data(client.get(LICENSES, headers=headers)) == listed
    assert history_size(session_for) == history


def test_a_license_sent_again_as_first_written_changes_nothing(
    client: Any, headers: dict, session_for: Any
) -> None:
    """The same instants and texts in the forms they were first sent in."""
    before = data(client.get(LICENSES, headers=headers))
    history = history_size(session_for)
    items = [
        {"providerCredLicense_Key": key, "providerCred_Key": LARGEST, **fields}
        for key, fields in ((SMALLEST, EDGES), (LARGEST, OTHER_EDGES))
    ]
    dry = data(client.put(f"{LICENSES}-batch?dryRun=true", json=items, headers=headers))
    assert [item["changes"] for item in dry] == [{}, {}]
    client.put(f"{LICENSES}-batch", json=items, headers=headers)
    assert data(client.get(LICENSES, headers=headers)) == before
    assert history_size(session_for) == history


def test_history_and_expirables_spell_values_as_get_does(client: Any, headers: dict) -> None:
    got = data(client.get(f"{LICENSES}/{SMALLEST}", headers=headers))
    (created,) = data(client.get(f"{LICENSES}/{SMALLEST}/history", headers=headers))
    assert {name: new for name, (_old, new) in created["changes"].items()} == {
        name: got[name] for name in created["changes"]
    }
    assert created["at"] == got["entry_Date"] == got["update_Date"]
    expirables = data(client.get("/licenses/expirables?within=30", headers=headers))
    (listed,) = expirables["licenses"]
    assert {name: listed[name] for name in got} == got


def test_a_provider_credential_and_a_license_type_sent_back_change_nothing(
    client: Any, auth_headers: Any
) -> None:
    headers = auth_headers()
    provider = "\U0001f600" * 20
    cred = {
        "providerCred_Key": SMALLEST,
        "provider_ID": provider,
        "credType_Key": LARGEST,
        "effective_Date": "0001-01-01 00:00:00 +0000",
        "term_Date": "9999-12-31T23:59:59Z",
        "cred_Status": "\u00e9" * 16,
        "cred_Organization": "x\u0301" * 256,
        "specialty_Code": " a ",
        "application_Start_Date": "2024-01-01T05:00:00+05:00",
        "committee_Date": None,
    }
    creds = f"/providers/{provider}/credentialing"
    assert client.post(creds, json=cred, headers=headers).status_code == 200
    got = data(client.get(f"{creds}/{SMALLEST}", headers=headers))
    assert data(client.get(creds, headers=headers)) == [got]
    assert data(client.put(f"{creds}/{SMALLEST}", json=got, headers=headers)) == got
    types = "/credentialing-license-types"
    license_type = {"credLicenseType_Key": SMALLEST, "display": "\U0001f600" * 128}
    assert client.post(types, json=license_type, headers=headers).status_code == 200
    got = data(client.get(f"{types}/{SMALLEST}", headers=headers))
    assert data(client.put(f"{types}/{SMALLEST}", json=got, headers=headers)) == got
    dry = data(client.put(f"{types}-batch?dryRun=true", json=[got], headers=headers))
    assert [(item["status"], item["changes"]) for item in dry] == [(200, {})]
    data(client.put(f"{types}-batch", json=[got], headers=headers))
    assert data(client.get(f"{types}/{SMALLEST}", headers=headers)) == got
