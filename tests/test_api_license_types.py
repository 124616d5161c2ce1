"""License-type routes under /credentialing-license-types, and its batch (SPEC sections 3, 4)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from app.batch import write
from tests.api_support import data, pagination, problem
from tests.factories import type_item

BASE = "/credentialing-license-types"
BATCH = f"{BASE}-batch"


def result(key: str | None, status: int, body: str) -> dict[str, Any]:
    return {"id": [{"key": "credLicenseType_Key", "value": key}], "status": status, "body": body}


@pytest.fixture
def headers(auth_headers: Callable[..., dict[str, str]]) -> dict[str, str]:
    return auth_headers()


def keys(response: Any) -> list[int]:
    return [row["credLicenseType_Key"] for row in data(response)]


def test_list_paged_and_sorted(client: Any, headers: dict, make_license_type: Callable) -> None:
    for key, display in [(1, "MD"), (2, "DO"), (3, "RN")]:
        make_license_type(key, display=display)
    response = client.get(f"{BASE}?sortBy=display&pageSize=2&page=1", headers=headers)
    assert response.status_code == 200
    assert keys(response) == [2, 1]
    assert pagination(response) == {
        "TotalCount": 3,
        "TotalPages": 2,
        "CurrentPage": 1,
        "PageSize": 2,
    }
    assert list(data(response)[0]) == [
        "credLicenseType_Key",
        "display",
        "description",
        "entry_Date",
        "entry_User",
        "update_Date",
        "update_User",
    ]


def test_list_bad_page_size_is_400(client: Any, headers: dict) -> None:
    response = client.get(f"{BASE}?pageSize=5000", headers=headers)
    assert response.status_code == 400
    assert problem(response)["errors"] == {"pageSize": ["Must be an integer from 1 to 1000."]}


def test_create_get_update(client: Any, headers: dict) -> None:
    response = client.post(
        BASE, json=type_item(5, display=" MD ", update_User="x"), headers=headers
    )
    assert response.status_code == 200
    created = data(response)
    assert (created["display"], created["description"], created["entry_User"]) == (
        "MD",
        None,
        "editor-main",
    )
    assert data(client.get(f"{BASE}/5", headers=headers)) == created
    response = client.put(f"{BASE}/5", json=type_item(5, description="Doctor"), headers=headers)
    assert response.status_code == 200
    updated = data(response)
    assert (updated["display"], updated["description"]) == (None, "Doctor")


def test_create_existing_is_409(client: Any, headers: dict, make_license_type: Callable) -> None:
    make_license_type(5)
    response = client.post(BASE, json=type_item(5), headers=headers)
    assert response.status_code == 409
    assert problem(response)["detail"] == "credLicenseType_Key 5 already exists."


@pytest.mark.parametrize(
    ("item", "errors"),
    [
        (type_item(5, display="x" * 129), {"display": ["Longer than maximum length 128."]}),
        (type_item(None), {"credLicenseType_Key": ["Field may not be null."]}),
        ({"display": "MD"}, {"credLicenseType_Key": ["Missing data for required field."]}),
        (type_item(5, code="MD"), {"code": ["Unknown field."]}),
        (type_item(True), {"credLicenseType_Key": ["Not a valid integer."]}),
    ],
)
def test_create_invalid_is_400(client: Any, headers: dict, item: dict, errors: dict) -> None:
    response = client.post(BASE, json=item, headers=headers)
    assert response.status_code == 400
    assert problem(response)["errors"] == errors


@pytest.mark.parametrize(
    ("url", "item", "status", "detail"),
    [
        (f"{BASE}/6", type_item(6), 404, "No license type 6 in this database."),
        (
            f"{BASE}/5",
            type_item(6),
            400,
            "credLicenseType_Key: Does not match the credLicenseTypeKey in the path (5).",
        ),
        (f"{BASE}/5", type_item(5, display=7), 400, "display: Not a valid string."),
        (f"{BASE}/5", [type_item(5)], 400, "The request body must be a JSON object."),
    ],
)
def test_update_errors(
    client: Any,
    headers: dict,
    make_license_type: Callable,
    url: str,
    item: Any,
    status: int,
    detail: str,
) -> None:
    make_license_type(5, display="MD")
    response = client.put(url, json=item, headers=headers)
    assert response.status_code == status
    assert problem(response)["detail"] == detail
    assert data(client.get(f"{BASE}/5", headers=headers))["display"] == "MD"


def test_update_key_mismatch_comes_with_every_other_error_of_the_body(
    client: Any, headers: dict, make_license_type: Callable
) -> None:
    make_license_type(5, display="MD")
    response = client.put(f"{BASE}/5", json=type_item(6, display=7), headers=headers)
    assert response.status_code == 400
    assert problem(response)["errors"] == {
        "credLicenseType_Key": ["Does not match the credLicenseTypeKey in the path (5)."],
        "display": ["Not a valid string."],
    }
    assert data(client.get(f"{BASE}/5", headers=headers))["display"] == "MD"


def test_get_absent_is_404(client: Any, headers: dict) -> None:
    response = client.get(f"{BASE}/5", headers=headers)
    assert response.status_code == 404
    # Worded as a license's reference to a missing type, and as every other missing record
    # ("No provider credential 7 in this database."): the database header chose where to look.
    assert problem(response)["detail"] == "No license type 5 in this database."


def test_delete(client: Any, headers: dict, make_license_type: Callable) -> None:
    make_license_type(5)
    response = client.delete(f"{BASE}/5", headers=headers)
    assert response.status_code == 204
    assert response.data == b""
    assert client.get(f"{BASE}/5", headers=headers).status_code == 404
    response = client.delete(f"{BASE}/5", headers=headers)
    assert response.status_code == 404
    assert problem(response)["detail"] == "No license type 5 in this database."


def test_delete_a_type_in_use_is_409(
    client: Any, headers: dict, make_license_type: Callable, make_cred: Callable
) -> None:
    make_license_type(5)
    make_cred(1)
    license = {"providerCredLicense_Key": 1, "providerCred_Key": 1, "credLicenseType_Key": 5}
    assert (
        client.post("/provider-credentialing/1/licenses", json=license, headers=headers)
    ).status_code == 200
    response = client.delete(f"{BASE}/5", headers=headers)
    assert response.status_code == 409
    assert problem(response)["detail"] == "Still used by licenses; not deleted."
    assert client.get(f"{BASE}/5", headers=headers).status_code == 200


def test_delete_racing_a_new_license_is_409(
    client: Any,
    headers: dict,
    make_license_type: Callable,
    make_cred: Callable,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A license written after the in-use check: the foreign key refuses, the retry says 409."""
    make_license_type(5)
    make_cred(1)
    license = {"providerCredLicense_Key": 1, "providerCred_Key": 1, "credLicenseType_Key": 5}
    client.post("/provider-credentialing/1/licenses", json=license, headers=headers)
    real = write.keys_in_use
    calls: list[int] = []

    def misses_the_license_once(*args: Any) -> dict[int, str]:
        calls.append(1)
        return {} if len(calls) == 1 else real(*args)

    monkeypatch.setattr(write, "keys_in_use", misses_the_license_once)
    response = client.delete(f"{BASE}/5", headers=headers)
    assert response.status_code == 409
    assert problem(response)["detail"] == "Still used by licenses; not deleted."
    assert len(calls) == 2


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        ("post", BASE, type_item(5)),
        ("put", f"{BASE}/5", type_item(5)),
        ("delete", f"{BASE}/5", None),
        ("put", BATCH, [type_item(5)]),
    ],
)
def test_viewers_cannot_write(
    client: Any,
    auth_headers: Callable,
    make_license_type: Callable,
    method: str,
    url: str,
    body: Any,
) -> None:
    make_license_type(5)
    response = getattr(client, method)(url, json=body, headers=auth_headers(role="viewer"))
    assert response.status_code == 403


# ---------------------------------------------------------------------------------------------
# Batch


def test_batch_creates_updates_and_reports_per_item(
    client: Any, headers: dict, make_license_type: Callable
) -> None:
    make_license_type(1, display="MD")
    items = [
        type_item(2, display="DO"),
        type_item(1, display="MD", description="Medical doctor"),
        type_item(3, display="x" * 200),
        type_item(4),
        type_item(4, display="dup"),
        "not an object",
        type_item("7"),
    ]
    response = client.put(BATCH, json=items, headers=headers)
    assert response.status_code == 207
    assert data(response) == [
        result("2", 201, "Created"),
        result("1", 200, "Updated"),
        result("3", 400, "display: Longer than maximum length 128."),
        result(
            "4",
            409,
            "credLicenseType_Key 4 occurs 2 times in this batch; every occurrence is rejected "
            "because the intended values are ambiguous.",
        ),
        result(
            "4",
            409,
            "credLicenseType_Key 4 occurs 2 times in this batch; every occurrence is rejected "
            "because the intended values are ambiguous.",
        ),
        result(None, 400, "Must be a JSON object."),
        result(None, 400, "credLicenseType_Key: Not a valid integer."),
    ]
    assert keys(client.get(BASE, headers=headers)) == [1, 2]
    assert data(client.get(f"{BASE}/1", headers=headers))["description"] == "Medical doctor"


def test_batch_atomic_writes_nothing_on_failure(client: Any, headers: dict) -> None:
    items = [type_item(1), type_item(2, display="x" * 200)]
    response = client.put(f"{BATCH}?atomic=true", json=items, headers=headers)
    assert response.status_code == 207
    assert [r["status"] for r in data(response)] == [424, 400]
    assert data(client.get(BASE, headers=headers)) == []


def test_batch_dry_run_reports_changes(
    client: Any, headers: dict, make_license_type: Callable
) -> None:
    make_license_type(1, display="MD")
    items = [type_item(1, display="DO"), type_item(2, display="RN")]
    response = client.put(f"{BATCH}?dryRun=true", json=items, headers=headers)
    assert response.status_code == 207
    assert data(response) == [
        {**result("1", 200, "Updated"), "changes": {"display": ["MD", "DO"]}},
        {
            **result("2", 201, "Created"),
            "changes": {
                "credLicenseType_Key": [None, 2],
                "display": [None, "RN"],
                "description": [None, None],
            },
        },
    ]
    assert keys(client.get(BASE, headers=headers)) == [1]


@pytest.mark.parametrize(
    ("body", "status", "detail"),
    [
        ({"credLicenseType_Key": 1}, 400, "The request body must be a JSON array of items."),
        ([type_item(k) for k in range(4)], 413, "The batch has 4 items; at most 3 are allowed."),
    ],
)
def test_batch_request_checks(
    app: Any, client: Any, headers: dict, body: Any, status: int, detail: str
) -> None:
    app.config["BATCH_MAX_ITEMS"] = 3
    response = client.put(BATCH, json=body, headers=headers)
    assert response.status_code == status
    assert problem(response)["detail"] == detail


def test_batch_empty_and_under_vbasoftware(client: Any, headers: dict) -> None:
    response = client.put(f"/vbasoftware{BATCH}", json=[], headers=headers)
    assert response.status_code == 207
    assert data(response) == []


def test_batch_flag_must_be_boolean(client: Any, headers: dict) -> None:
    response = client.put(f"{BATCH}?dryRun=maybe", json=[], headers=headers)
    assert response.status_code == 400
    assert problem(response)["errors"] == {"dryRun": ["Must be true or false."]}
