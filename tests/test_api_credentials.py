"""ProviderCred routes under /providers/{providerID}/credentialing (SPEC section 3)."""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Callable
from typing import Any

import pytest
from werkzeug.serving import make_server

from app.errors import UNROUTED_DETAIL as UNROUTED
from tests.api_support import data, pagination, problem
from tests.factories import cred_item

BASE = "/providers/P1/credentialing"
WIRE_FIELDS = [
    "providerCred_Key",
    "provider_ID",
    "credType_Key",
    "effective_Date",
    "term_Date",
    "cred_Status",
    "cred_Organization",
    "specialty_Code",
    "application_Start_Date",
    "committee_Date",
    "entry_Date",
    "entry_User",
    "update_Date",
    "update_User",
]


@pytest.fixture
def headers(auth_headers: Callable[..., dict[str, str]]) -> dict[str, str]:
    return auth_headers()


def keys(response: Any) -> list[int]:
    return [row["providerCred_Key"] for row in data(response)]


def test_list_a_providers_creds_paged(client: Any, headers: dict, make_cred: Callable) -> None:
    for key in (3, 1, 2):
        make_cred(key, provider_id="P1")
    make_cred(4, provider_id="P2")
    response = client.get(f"{BASE}?pageSize=2&sortBy=providerCred_Key:desc", headers=headers)
    assert response.status_code == 200
    assert keys(response) == [3, 2]
    assert pagination(response) == {
        "TotalCount": 3,
        "TotalPages": 2,
        "CurrentPage": 1,
        "PageSize": 2,
    }
    assert keys(client.get("/providers/P2/credentialing", headers=headers)) == [4]
    assert data(client.get("/providers/P3/credentialing", headers=headers)) == []


@pytest.mark.parametrize(
    ("provider", "detail"),
    [
        ("P" * 21, "providerID: Longer than maximum length 20."),
        ("%20", "providerID: Must not be blank."),
        ("a%00b", "providerID: Must not contain NUL characters."),
    ],
)
def test_bad_provider_id_in_the_path_is_400(
    client: Any, headers: dict, provider: str, detail: str
) -> None:
    response = client.get(f"/providers/{provider}/credentialing", headers=headers)
    assert response.status_code == 400
    error = problem(response)
    assert error["detail"] == detail
    assert list(error["errors"]) == ["providerID"]


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_provider_id_whose_bytes_are_not_utf8_is_400(
    client: Any, headers: dict, make_cred: Any, method: str
) -> None:
    """gunicorn hands the path's percent-decoded bytes over as they came (PATH_INFO);
    Flask replaced an invalid byte with U+FFFD, so /providers/%FF/… named the provider "\ufffd"
    (and could create it). The test client replaces it itself, hence the environ."""
    make_cred(1, provider_id="\ufffd")
    body = cred_item(2, provider="\ufffd") if method == "POST" else None
    response = client.open(
        "/providers/x/credentialing",
        method=method,
        json=body,
        headers=headers,
        environ_overrides={"PATH_INFO": "/providers/\xff/credentialing"},
    )
    assert response.status_code == 400
    assert problem(response)["errors"] == {
        "providerID": ["Not valid UTF-8; percent-encode the UTF-8 bytes of the ID."]
    }
    with_replacement = client.get("/providers/%EF%BF%BD/credentialing", headers=headers)
    assert [cred["providerCred_Key"] for cred in data(with_replacement)] == [1]


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_provider_id_whose_bytes_are_not_utf8_is_400_under_flask_run(
    app: Any, headers: dict, make_cred: Any, method: str
) -> None:
    """werkzeug's own server (``flask --app app run``, the Quickstart's) replaces an invalid
    byte with U+FFFD in PATH_INFO before the app sees it, so /providers/%FF/… listed (and
    could create) the provider "\ufffd" there; the request target it also passes is read."""
    make_cred(1, provider_id="\ufffd")
    body = json.dumps(cred_item(2, provider="\ufffd")) if method == "POST" else None
    server = make_server("127.0.0.1", 0, app)
    thread = threading.Thread(target=server.handle_request, name="one-request", daemon=True)
    thread.start()
    connection = http.client.HTTPConnection("127.0.0.1", server.server_port, timeout=30)
    try:
        connection.request(
            method,
            "/providers/%FF/credentialing",
            body=body,
            headers={**headers, "Content-Type": "application/json"},
        )
        response = connection.getresponse()
        answer = json.loads(response.read())
    finally:
        connection.close()
        thread.join(timeout=30)
        server.server_close()
    assert response.status == 400, answer
    assert answer["error"]["errors"] == {
        "providerID": ["Not valid UTF-8; percent-encode the UTF-8 bytes of the ID."]
    }


@pytest.mark.parametrize(
    ("target", "path_info", "status"),
    [
        # uWSGI or mod_wsgi: the request target as sent in REQUEST_URI alone (no RAW_URI)
        ("/providers/%FF/credentialing", "/providers/\xef\xbf\xbd/credentialing", 400),
        ("/providers/%EF%BF%BD/credentialing", "/providers/\xef\xbf\xbd/credentialing", 200),
    ],
)
def test_a_provider_id_is_read_from_the_request_uri_of_any_server(
    client: Any, headers: dict, make_cred: Any, target: str, path_info: str, status: int
) -> None:
    """A server that passes the request target only as REQUEST_URI, its PATH_INFO holding
    U+FFFD for the invalid byte: the target's bytes are read, as under gunicorn's RAW_URI."""
    make_cred(1, provider_id="\ufffd")
    response = client.get(
        "/providers/x/credentialing",
        headers=headers,
        environ_overrides={"PATH_INFO": path_info, "RAW_URI": "", "REQUEST_URI": target},
    )
    assert response.status_code == status, response.get_json()
    if status == 200:
        assert [cred["providerCred_Key"] for cred in data(response)] == [1]


def test_list_bad_sort_is_400(client: Any, headers: dict) -> None:
    response = client.get(f"{BASE}?sortBy=license_Name", headers=headers)
    assert response.status_code == 400
    assert problem(response)["errors"] == {
        "sortBy": [f"Unknown field 'license_Name'; sortable fields are {', '.join(WIRE_FIELDS)}."]
    }


def test_create(client: Any, headers: dict) -> None:
    item = cred_item(7, cred_Status="Active", term_Date="2030-01-01 00:00:00 UTC")
    response = client.post(BASE, json=item, headers=headers)
    assert response.status_code == 200
    cred = data(response)
    assert list(cred) == WIRE_FIELDS
    assert cred["cred_Status"] == "Active"
    assert cred["term_Date"] == "2030-01-01T00:00:00Z"
    assert cred["entry_User"] == cred["update_User"] == "editor-main"
    assert data(client.get(f"{BASE}/7", headers=headers)) == cred
    # The new ProviderCred takes licenses at once.
    license = {"providerCredLicense_Key": 1, "providerCred_Key": 7}
    created = client.post("/provider-credentialing/7/licenses", json=license, headers=headers)
    assert created.status_code == 200


def test_create_existing_key_is_409(client: Any, headers: dict, make_cred: Callable) -> None:
    make_cred(7, provider_id="P2")
    response = client.post(BASE, json=cred_item(7), headers=headers)
    assert response.status_code == 409
    assert problem(response)["detail"] == "providerCred_Key 7 already exists."


@pytest.mark.parametrize(
    ("item", "errors"),
    [
        (
            cred_item(7, provider="P2"),
            {"provider_ID": ["Does not match the providerID in the path (P1)."]},
        ),
        (
            {"providerCred_Key": 7},
            {
                "provider_ID": ["Missing data for required field."],
                "credType_Key": ["Missing data for required field."],
                "effective_Date": ["Missing data for required field."],
            },
        ),
        (cred_item(7, effective_Date=None), {"effective_Date": ["Field may not be null."]}),
        (cred_item(7, cred_Status="x" * 17), {"cred_Status": ["Longer than maximum length 16."]}),
        (
            cred_item(7, credType_Key=2**31),
            {"credType_Key": ["Must be a 32-bit integer (-2147483648 to 2147483647)."]},
        ),
        (cred_item(7, provider=""), {"provider_ID": ["Must not be blank."]}),
        (cred_item(7, licenses=[]), {"licenses": ["Unknown field."]}),
        (
            cred_item(7, term_Date="2023-12-31T00:00:00Z"),
            {"term_Date": ["Must not be before effective_Date."]},
        ),
        (
            cred_item(7, cred_Status="x" * 17, term_Date="2023-12-31"),
            {
                "cred_Status": ["Longer than maximum length 16."],
                "term_Date": ["Must not be before effective_Date."],
            },
        ),
    ],
)
def test_create_invalid_is_400(client: Any, headers: dict, item: dict, errors: dict) -> None:
    response = client.post(BASE, json=item, headers=headers)
    assert response.status_code == 400
    assert problem(response)["errors"] == errors
    assert client.get(f"{BASE}/7", headers=headers).status_code == 404


def test_create_by_a_viewer_is_403(client: Any, auth_headers: Callable) -> None:
    response = client.post(BASE, json=cred_item(7), headers=auth_headers(role="viewer"))
    assert response.status_code == 403
    assert client.get(f"{BASE}/7", headers=auth_headers()).status_code == 404  # nothing written


def test_get_under_another_provider_is_404(client: Any, headers: dict, make_cred: Callable) -> None:
    make_cred(1, provider_id="P2")
    for url, detail in [
        (f"{BASE}/1", "No provider credential 1 under providerID P1."),
        ("/providers/P2/credentialing/2", "No provider credential 2 under providerID P2."),
        ("/providers/P2/credentialing/99999999999", UNROUTED),
    ]:
        response = client.get(url, headers=headers)
        assert response.status_code == 404
        assert problem(response)["detail"] == detail
    assert client.get("/providers/P2/credentialing/1", headers=headers).status_code == 200


def test_update_replaces_the_record(client: Any, headers: dict) -> None:
    client.post(
        BASE, json=cred_item(7, cred_Status="Pending", specialty_Code="FM"), headers=headers
    )
    response = client.put(
        f"{BASE}/7", json=cred_item(7, cred_Status="Active", credType_Key=2), headers=headers
    )
    assert response.status_code == 200
    cred = data(response)
    assert (cred["cred_Status"], cred["credType_Key"], cred["specialty_Code"]) == (
        "Active",
        2,
        None,
    )


@pytest.mark.parametrize(
    ("url", "item", "status", "detail"),
    [
        (f"{BASE}/8", cred_item(8), 404, "No provider credential 8 under providerID P1."),
        (
            "/providers/P2/credentialing/7",
            cred_item(7, provider="P2"),
            404,
            "No provider credential 7 under providerID P2.",
        ),
        (
            f"{BASE}/7",
            cred_item(8),
            400,
            "providerCred_Key: Does not match the providerCredKey in the path (7).",
        ),
        (
            f"{BASE}/7",
            cred_item(7, provider="P2"),
            400,
            "provider_ID: Does not match the providerID in the path (P1).",
        ),
        (
            f"{BASE}/7",
            cred_item(7, term_Date="2023-12-31T23:59:59Z"),
            400,
            "term_Date: Must not be before effective_Date.",
        ),
    ],
)
def test_update_errors(
    client: Any, headers: dict, url: str, item: dict, status: int, detail: str
) -> None:
    client.post(BASE, json=cred_item(7, cred_Status="Pending"), headers=headers)
    response = client.put(url, json=item, headers=headers)
    assert response.status_code == status
    assert problem(response)["detail"] == detail
    assert data(client.get(f"{BASE}/7", headers=headers))["cred_Status"] == "Pending"


def test_update_key_mismatch_comes_with_every_other_error_of_the_body(
    client: Any, headers: dict
) -> None:
    client.post(BASE, json=cred_item(7, cred_Status="Pending"), headers=headers)
    item = cred_item(8, term_Date="2023-12-31T23:59:59Z", extra=1)
    response = client.put(f"{BASE}/7", json=item, headers=headers)
    assert response.status_code == 400
    assert problem(response)["errors"] == {
        "providerCred_Key": ["Does not match the providerCredKey in the path (7)."],
        "extra": ["Unknown field."],
        "term_Date": ["Must not be before effective_Date."],
    }
    assert data(client.get(f"{BASE}/7", headers=headers))["cred_Status"] == "Pending"


def test_update_by_a_viewer_is_403(client: Any, auth_headers: Callable, make_cred: Callable):
    make_cred(7, provider_id="P1")
    before = data(client.get(f"{BASE}/7", headers=auth_headers()))
    changed = {**cred_item(7), "cred_Status": "Viewer edit"}
    response = client.put(f"{BASE}/7", json=changed, headers=auth_headers(role="viewer"))
    assert response.status_code == 403
    assert data(client.get(f"{BASE}/7", headers=auth_headers())) == before  # nothing written


def test_routes_answer_under_vbasoftware(client: Any, headers: dict) -> None:
    base = f"/vbasoftware{BASE}"
    assert client.post(base, json=cred_item(7), headers=headers).status_code == 200
    assert client.put(f"{base}/7", json=cred_item(7), headers=headers).status_code == 200
    assert client.get(f"{base}/7", headers=headers).status_code == 200
    assert keys(client.get(base, headers=headers)) == [7]


@pytest.mark.parametrize("provider", ["P2", " P2 "])
def test_a_provider_id_other_than_the_paths_comes_with_the_other_errors(
    client: Any, headers: dict, provider: str
) -> None:
    """The mismatch came alone, on the next try, once every other field was valid."""
    response = client.post(BASE, json=cred_item(7, provider=provider, extra=1), headers=headers)
    assert response.status_code == 400
    assert problem(response)["errors"] == {
        "extra": ["Unknown field."],
        "provider_ID": ["Does not match the providerID in the path (P1)."],
    }


def test_a_provider_id_read_as_the_paths_is_no_mismatch(client: Any, headers: dict) -> None:
    """Spaces around it are stripped, as when the item is valid: only the other error."""
    response = client.post(BASE, json=cred_item(7, provider=" P1 ", extra=1), headers=headers)
    assert problem(response)["errors"] == {"extra": ["Unknown field."]}
