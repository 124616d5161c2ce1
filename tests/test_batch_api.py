"""The batch endpoint over the test client: auth (one prebuilt query) and the 207 wire form."""

from __future__ import annotations

from typing import Any

import pytest

from app.auth.keys import revoke_api_key
from app.auth.tokens import mint_token
from app.auth.users import create_user
from tests.conftest import TEST_SECRET
from tests.factories import bare_license_item

PATH = "/provider-credentialing/1/licenses-batch"


@pytest.fixture
def cred(make_cred: Any) -> int:
    return make_cred(1)


def test_batch_answers_each_item_in_order(client: Any, auth_headers: Any, cred: int):
    body = [
        bare_license_item(5012),
        bare_license_item(5012.5),
        bare_license_item(7, state="XX"),
        bare_license_item(8),
    ]
    response = client.put(PATH, json=body, headers=auth_headers())
    assert response.status_code == 207
    data = response.get_json()["data"]
    assert data == [
        {
            "id": [{"key": "providerCredLicense_Key", "value": "5012"}],
            "status": 201,
            "body": "Created",
        },
        {
            "id": [{"key": "providerCredLicense_Key", "value": None}],
            "status": 400,
            "body": "providerCredLicense_Key: Not a valid integer.",
        },
        {
            "id": [{"key": "providerCredLicense_Key", "value": "7"}],
            "status": 400,
            "body": "state: Not a valid USPS state code (50 states, DC, AS, GU, MP, PR, VI).",
        },
        {
            "id": [{"key": "providerCredLicense_Key", "value": "8"}],
            "status": 201,
            "body": "Created",
        },
    ]
    again = client.put(PATH, json=[bare_license_item(8, license_Name="x")], headers=auth_headers())
    assert again.get_json()["data"][0]["status"] == 200


def test_a_batch_request_costs_constant_statements(
    client: Any, auth_headers: Any, cred: int, count_statements: Any
):
    headers = auth_headers()
    client.put(PATH, json=[bare_license_item(k) for k in range(0, 1000, 2)], headers=headers)
    counts = []
    for size in (2, 1000):
        with count_statements() as counter:
            response = client.put(
                PATH, json=[bare_license_item(k, state="NY") for k in range(size)], headers=headers
            )
        assert response.status_code == 207
        assert {d["status"] for d in response.get_json()["data"]} == {200, 201}
        counts.append(counter.count)
    assert counts[0] == counts[1] <= 8  # auth (and its BEGIN on SQLite) + the batch's 6


@pytest.mark.parametrize(
    ("change", "status", "detail"),
    [
        ({"x-api-key": None}, 401, "The x-api-key header is required."),
        ({"x-api-key": "cg_wrong"}, 401, "The API key is not valid for this database."),
        ({"Authorization": "Bearer nonsense"}, 401, "The bearer token is invalid"),
        ({"Authorization": None}, 401, "An Authorization: Bearer <idToken> header is required."),
    ],
)
def test_bad_credentials_are_refused(
    client: Any, auth_headers: Any, cred: int, change: dict, status: int, detail: str
):
    headers = {**auth_headers(), **change}
    headers = {k: v for k, v in headers.items() if v is not None}
    response = client.put(PATH, json=[bare_license_item(1)], headers=headers)
    assert response.status_code == status
    assert response.get_json()["error"]["detail"].startswith(detail)


def test_revoked_keys_unknown_users_and_viewers_cannot_write(
    client: Any, auth_headers: Any, cred: int, session_for: Any, make_api_key: Any
):
    headers = auth_headers()
    with session_for() as session:
        key = make_api_key(label="doomed")
        assert revoke_api_key(session, "doomed")
        session.commit()
    revoked = client.put(PATH, json=[bare_license_item(1)], headers={**headers, "x-api-key": key})
    assert revoked.status_code == 401

    with session_for() as session:
        ghost_user = create_user(session, "ghost", "ghost password")
        ghost = mint_token(TEST_SECRET, ghost_user, "main", 3600, "id")
        session.delete(ghost_user)
        session.commit()
    response = client.put(
        PATH, json=[bare_license_item(1)], headers={**headers, "Authorization": f"Bearer {ghost}"}
    )
    assert response.status_code == 401
    assert response.get_json()["error"]["detail"] == (
        "The token has been revoked, with every token of its user: a refresh token was "
        "reused, or the user was deleted, disabled or changed (password, role). Log in again."
    )

    viewer = client.put(PATH, json=[bare_license_item(1)], headers=auth_headers(role="viewer"))
    assert viewer.status_code == 403

    other = client.put(
        PATH,
        json=[bare_license_item(1)],
        headers={**auth_headers(database="other"), "vbasoftware-database": "main"},
    )
    assert other.status_code == 401
