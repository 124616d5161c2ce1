"""Single-license routes (SPEC section 3): list, get, create, update, delete."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select

from app.errors import UNROUTED_DETAIL as UNROUTED
from app.history.models import LicenseChange
from app.licenses.service import upsert_licenses
from tests.api_support import data, pagination, problem
from tests.factories import bare_license_item

LICENSES = "/provider-credentialing/1/licenses"

WIRE_FIELDS = [
    "providerCredLicense_Key",
    "providerCred_Key",
    "credLicenseType_Key",
    "license_Name",
    "license_Number",
    "state",
    "specialty_Code",
    "effective_Date",
    "term_Date",
    "psV_Date",
    "entry_Date",
    "entry_User",
    "update_Date",
    "update_User",
]


@pytest.fixture
def headers(auth_headers: Callable[..., dict[str, str]]) -> dict[str, str]:
    return auth_headers()


@pytest.fixture
def add_licenses(session_for: Callable[..., Any], make_cred: Callable[..., int]) -> Callable:
    """``add_licenses(cred, item, ...)``: write licenses through the service (creating the cred)."""
    made: set[tuple[str, int]] = set()

    def _add(cred: int, *items: dict[str, Any], database: str = "main") -> None:
        if (database, cred) not in made:
            make_cred(cred, database=database)
            made.add((database, cred))
        with session_for(database) as session:
            outcomes = upsert_licenses(
                session, cred, list(items), actor="seed", activity_id="setup", mode="create"
            )
        assert [o.status for o in outcomes] == [201] * len(items), outcomes

    return _add


def keys(response: Any) -> list[int]:
    return [row["providerCredLicense_Key"] for row in data(response)]


# ---------------------------------------------------------------------------------------------
# List


def test_list_is_paged_with_x_pagination(client: Any, headers: dict, add_licenses: Callable):
    add_licenses(1, *(bare_license_item(k) for k in (5, 3, 1, 4, 2)))
    response = client.get(f"{LICENSES}?page=2&pageSize=2", headers=headers)
    assert response.status_code == 200
    assert keys(response) == [3, 4]
    assert pagination(response) == {
        "TotalCount": 5,
        "TotalPages": 3,
        "CurrentPage": 2,
        "PageSize": 2,
    }


def test_list_defaults_and_empty(client: Any, headers: dict, make_cred: Callable) -> None:
    make_cred(1)
    response = client.get(LICENSES, headers=headers)
    assert response.status_code == 200
    assert data(response) == []
    assert pagination(response) == {
        "TotalCount": 0,
        "TotalPages": 0,
        "CurrentPage": 1,
        "PageSize": 100,
    }


def test_list_page_past_the_end_is_empty(client: Any, headers: dict, add_licenses: Callable):
    add_licenses(1, bare_license_item(1))
    response = client.get(f"{LICENSES}?page=3", headers=headers)
    assert response.status_code == 200
    assert data(response) == []
    assert pagination(response)["TotalPages"] == 1


def test_list_writes_the_wire_format(client: Any, headers: dict, add_licenses: Callable) -> None:
    add_licenses(1, bare_license_item(7, state="ny", term_Date="2030-05-01 00:00:00 UTC"))
    (row,) = data(client.get(LICENSES, headers=headers))
    assert list(row) == WIRE_FIELDS
    assert row["state"] == "NY"
    assert row["term_Date"] == "2030-05-01T00:00:00Z"
    assert row["entry_User"] == row["update_User"] == "seed"


def test_list_shows_only_this_provider_creds_licenses(
    client: Any, headers: dict, add_licenses: Callable
) -> None:
    add_licenses(1, bare_license_item(1), bare_license_item(2))
    add_licenses(2, bare_license_item(3, cred=2))
    assert keys(client.get(LICENSES, headers=headers)) == [1, 2]
    assert keys(client.get("/provider-credentialing/2/licenses", headers=headers)) == [3]


@pytest.mark.parametrize(
    ("sort_by", "expected"),
    [
        ("state:desc", [2, 1, 3, 4]),
        ("STATE:DESC", [2, 1, 3, 4]),
        ("state", [4, 1, 3, 2]),
        ("state:asc,license_Number:desc", [4, 3, 1, 2]),
        (" state:asc , license_Number : DESC ", [4, 3, 1, 2]),
        ("providercredlicense_key:desc", [4, 3, 2, 1]),
        ("", [1, 2, 3, 4]),
    ],
)
def test_list_sort_by(
    client: Any, headers: dict, add_licenses: Callable, sort_by: str, expected: list[int]
) -> None:
    add_licenses(
        1,
        bare_license_item(1, state="CA", license_Number="A"),
        bare_license_item(2, state="TX", license_Number="B"),
        bare_license_item(3, state="CA", license_Number="C"),
        bare_license_item(4, license_Number="D"),
    )
    response = client.get(LICENSES, query_string={"sortBy": sort_by}, headers=headers)
    assert response.status_code == 200
    assert keys(response) == expected


SORTABLE = ", ".join(WIRE_FIELDS)


@pytest.mark.parametrize(
    ("query", "detail", "errors"),
    [
        ("page=0", "Query parameter page: Must be an integer from 1 to 2147483647.", "page"),
        ("page=-1", "Query parameter page: Must be an integer from 1 to 2147483647.", "page"),
        ("page=x", "Query parameter page: Must be an integer from 1 to 2147483647.", "page"),
        ("page=1.5", "Query parameter page: Must be an integer from 1 to 2147483647.", "page"),
        (
            "page=2147483648",
            "Query parameter page: Must be an integer from 1 to 2147483647.",
            "page",
        ),
        (
            "pageSize=0",
            "Query parameter pageSize: Must be an integer from 1 to 1000.",
            "pageSize",
        ),
        (
            "pageSize=1001",
            "Query parameter pageSize: Must be an integer from 1 to 1000.",
            "pageSize",
        ),
        ("pageSize=", "Query parameter pageSize: Must be an integer from 1 to 1000.", "pageSize"),
        (
            "sortBy=nope",
            f"Query parameter sortBy: Unknown field 'nope'; sortable fields are {SORTABLE}.",
            "sortBy",
        ),
        (
            "sortBy=state:up",
            "Query parameter sortBy: Direction of state must be asc or desc.",
            "sortBy",
        ),
        (
            "sortBy=state:asc,STATE:desc",
            "Query parameter sortBy: STATE is named more than once.",
            "sortBy",
        ),
        (
            "sortBy=nope,nope:desc",
            f"Query parameter sortBy: Unknown field 'nope'; sortable fields are {SORTABLE}.",
            "sortBy",
        ),
    ],
)
def test_list_bad_query_is_400(
    client: Any, headers: dict, make_cred: Callable, query: str, detail: str, errors: str
) -> None:
    make_cred(1)
    response = client.get(f"{LICENSES}?{query}", headers=headers)
    assert response.status_code == 400
    error = problem(response)
    assert error["detail"] == detail
    assert list(error["errors"]) == [errors]


def test_list_paging_takes_the_largest_page_and_page_size(
    client: Any, headers: dict, add_licenses: Callable
) -> None:
    add_licenses(1, bare_license_item(1))
    response = client.get(f"{LICENSES}?page=2147483647&pageSize=1000", headers=headers)
    assert response.status_code == 200
    assert data(response) == []
    assert pagination(response) == {
        "TotalCount": 1,
        "TotalPages": 1,
        "CurrentPage": 2147483647,
        "PageSize": 1000,
    }


def test_list_paging_numbers_may_have_leading_zeros(
    client: Any, headers: dict, add_licenses: Callable
) -> None:
    """``page=00000000002`` is the integer 2; it was refused as "Must be an integer from 1 to
    2147483647" because it has more than ten digits (the bound that keeps numbers small)."""
    add_licenses(1, *(bare_license_item(key) for key in (1, 2, 3)))
    query = {"page": "00000000002", "pageSize": "0000000000001"}
    response = client.get(LICENSES, query_string=query, headers=headers)
    assert keys(response) == [2]
    assert pagination(response)["CurrentPage"] == 2


def test_list_unknown_provider_cred_is_404(client: Any, headers: dict) -> None:
    response = client.get(LICENSES, headers=headers)
    assert response.status_code == 404
    assert problem(response)["detail"] == "No provider credential 1 in this database."


def test_list_under_vbasoftware_and_for_viewers(
    client: Any, auth_headers: Callable, add_licenses: Callable
) -> None:
    add_licenses(1, bare_license_item(1))
    response = client.get(f"/vbasoftware{LICENSES}", headers=auth_headers(role="viewer"))
    assert response.status_code == 200
    assert keys(response) == [1]


def test_list_needs_authentication(client: Any, make_cred: Callable) -> None:
    make_cred(1)
    response = client.get(LICENSES, headers={"vbasoftware-database": "main"})
    assert response.status_code == 401
    assert problem(response)["detail"] == "The x-api-key header is required."


def test_list_is_per_database(client: Any, auth_headers: Callable, add_licenses: Callable):
    add_licenses(1, bare_license_item(1))
    add_licenses(1, bare_license_item(2), database="other")
    assert keys(client.get(LICENSES, headers=auth_headers("other"))) == [2]


# ---------------------------------------------------------------------------------------------
# Get


def test_get_one(client: Any, headers: dict, add_licenses: Callable) -> None:
    add_licenses(1, bare_license_item(5, license_Name="Medical"))
    response = client.get(f"{LICENSES}/5", headers=headers)
    assert response.status_code == 200
    license = data(response)
    assert list(license) == WIRE_FIELDS
    assert license["license_Name"] == "Medical"


@pytest.mark.parametrize(
    ("url", "detail"),
    [
        ("/provider-credentialing/1/licenses/6", "No license 6 under providerCredKey 1."),
        ("/provider-credentialing/2/licenses/5", "No license 5 under providerCredKey 2."),
        ("/provider-credentialing/9/licenses/5", "No provider credential 9 in this database."),
        ("/provider-credentialing/1/licenses/2147483648", UNROUTED),
        ("/provider-credentialing/1/licenses/abc", UNROUTED),
    ],
)
def test_get_not_found(
    client: Any, headers: dict, add_licenses: Callable, make_cred: Callable, url: str, detail: str
) -> None:
    add_licenses(1, bare_license_item(5))
    make_cred(2)
    response = client.get(url, headers=headers)
    assert response.status_code == 404
    assert problem(response)["detail"] == detail


# ---------------------------------------------------------------------------------------------
# Create


def test_create_answers_200_with_the_stored_license(
    client: Any, headers: dict, make_cred: Callable, make_license_type: Callable
) -> None:
    make_cred(1)
    make_license_type(3)
    item = bare_license_item(
        5,
        credLicenseType_Key=3,
        state=" ca ",
        license_Number="",
        effective_Date="2024-01-01",
        entry_User="mallory",
        update_Date="not even a date",
    )
    response = client.post(LICENSES, json=item, headers=headers)
    assert response.status_code == 200
    license = data(response)
    assert license["state"] == "CA"
    assert license["license_Number"] is None
    assert license["effective_Date"] == "2024-01-01T00:00:00Z"
    assert license["entry_User"] == license["update_User"] == "editor-main"
    assert license["entry_Date"] == license["update_Date"]
    assert data(client.get(f"{LICENSES}/5", headers=headers)) == license


def test_create_existing_key_is_409_under_any_provider_cred(
    client: Any, headers: dict, add_licenses: Callable
) -> None:
    add_licenses(2, bare_license_item(5, cred=2))
    add_licenses(1, bare_license_item(6))
    for key in (5, 6):
        response = client.post(LICENSES, json=bare_license_item(key), headers=headers)
        assert response.status_code == 409
        assert problem(response)["detail"] == f"providerCredLicense_Key {key} already exists."


@pytest.mark.parametrize(
    ("item", "errors"),
    [
        (
            bare_license_item(5, license_Number="x" * 51),
            {"license_Number": ["Longer than maximum length 50."]},
        ),
        (
            bare_license_item(5, state="ZZ"),
            {"state": ["Not a valid USPS state code (50 states, DC, AS, GU, MP, PR, VI)."]},
        ),
        (bare_license_item(5, colour="red"), {"colour": ["Unknown field."]}),
        (
            {"providerCred_Key": 1},
            {"providerCredLicense_Key": ["Missing data for required field."]},
        ),
        (bare_license_item("5"), {"providerCredLicense_Key": ["Not a valid integer."]}),
        (
            bare_license_item(5, effective_Date="2024-02-01", term_Date="2024-01-01"),
            {"term_Date": ["Must not be before effective_Date."]},
        ),
        (
            bare_license_item(5, credLicenseType_Key=99),
            {"credLicenseType_Key": ["No license type 99 in this database."]},
        ),
        (
            bare_license_item(5, cred=2),
            {"providerCred_Key": ["Does not match the providerCredKey in the path (1)."]},
        ),
    ],
)
def test_create_invalid_is_400_naming_each_field(
    client: Any, headers: dict, make_cred: Callable, item: dict, errors: dict
) -> None:
    make_cred(1)
    response = client.post(LICENSES, json=item, headers=headers)
    assert response.status_code == 400
    error = problem(response)
    assert error["errors"] == errors
    field, messages = next(iter(errors.items()))
    assert error["detail"] == f"{field}: {' '.join(messages)}"
    assert client.get(f"{LICENSES}/5", headers=headers).status_code == 404


def test_create_psv_date_in_the_future_is_400(client: Any, headers: dict, make_cred: Callable):
    make_cred(1)
    response = client.post(
        LICENSES, json=bare_license_item(5, psV_Date="2999-01-01"), headers=headers
    )
    assert response.status_code == 400
    assert list(problem(response)["errors"]) == ["psV_Date"]


def test_create_under_unknown_provider_cred_is_404(client: Any, headers: dict) -> None:
    response = client.post(LICENSES, json=bare_license_item(5, state="ZZ"), headers=headers)
    assert response.status_code == 404
    assert problem(response)["detail"] == "No provider credential 1 in this database."


@pytest.mark.parametrize(
    ("body", "content_type", "status", "detail"),
    [
        (
            "{}",
            "text/plain",
            415,
            "The request body must be JSON (Content-Type: application/json).",
        ),
        ("[]", "application/json", 400, "The request body must be a JSON object."),
        (
            "{",
            "application/json",
            400,
            "The request body is not valid JSON: Expecting property name enclosed in double "
            "quotes: line 1 column 2 (char 1).",
        ),
    ],
)
def test_create_request_checks(
    client: Any,
    headers: dict,
    make_cred: Callable,
    body: str,
    content_type: str,
    status: int,
    detail: str,
) -> None:
    make_cred(1)
    response = client.post(LICENSES, data=body, content_type=content_type, headers=headers)
    assert response.status_code == status
    assert problem(response)["detail"] == detail


def test_create_by_a_viewer_is_403(client: Any, auth_headers: Callable, make_cred: Callable):
    make_cred(1)
    response = client.post(LICENSES, json=bare_license_item(5), headers=auth_headers(role="viewer"))
    assert response.status_code == 403
    assert problem(response)["detail"] == (
        "User 'viewer-main' has the viewer role and cannot write."
    )
    assert client.get(f"{LICENSES}/5", headers=auth_headers()).status_code == 404


# ---------------------------------------------------------------------------------------------
# Update


def test_update_replaces_the_whole_record(client: Any, headers: dict, add_licenses: Callable):
    add_licenses(1, bare_license_item(5, license_Name="Old", state="CA"))
    before = data(client.get(f"{LICENSES}/5", headers=headers))
    response = client.put(f"{LICENSES}/5", json=bare_license_item(5, state="tx"), headers=headers)
    assert response.status_code == 200
    after = data(response)
    assert after["state"] == "TX"
    assert after["license_Name"] is None
    assert after["update_User"] == "editor-main"
    assert (after["entry_Date"], after["entry_User"]) == (before["entry_Date"], "seed")


def test_update_unchanged_leaves_audit_and_history_alone(
    client: Any, headers: dict, add_licenses: Callable, session_for: Callable
) -> None:
    add_licenses(1, bare_license_item(5, state="CA"))
    response = client.put(f"{LICENSES}/5", json=bare_license_item(5, state="CA"), headers=headers)
    assert response.status_code == 200
    assert data(response)["update_User"] == "seed"
    with session_for() as session:
        activities = select(func.count(LicenseChange.activity_id.distinct()))
        assert session.scalar(activities) == 1


@pytest.mark.parametrize(
    ("url", "item", "status", "detail"),
    [
        (f"{LICENSES}/6", bare_license_item(6), 404, "No license 6 under providerCredKey 1."),
        (
            "/provider-credentialing/2/licenses/5",
            bare_license_item(5, cred=2),
            404,
            "No license 5 under providerCredKey 2.",
        ),
        (
            "/provider-credentialing/9/licenses/5",
            bare_license_item(5, cred=9),
            404,
            "No provider credential 9 in this database.",
        ),
        (
            "/provider-credentialing/9/licenses/5",
            bare_license_item(6, cred=9),
            404,
            "No provider credential 9 in this database.",
        ),
        (
            f"{LICENSES}/5",
            bare_license_item(6),
            400,
            "providerCredLicense_Key: Does not match the providerCredLicenseKey in the path (5).",
        ),
        (
            f"{LICENSES}/5",
            bare_license_item(5, cred=2),
            400,
            "providerCred_Key: Does not match the providerCredKey in the path (1).",
        ),
        (
            f"{LICENSES}/5",
            bare_license_item(5, state="XX"),
            400,
            "state: Not a valid USPS state code (50 states, DC, AS, GU, MP, PR, VI).",
        ),
        (
            f"{LICENSES}/5",
            {"providerCred_Key": 1},
            400,
            "providerCredLicense_Key: Missing data for required field.",
        ),
    ],
)
def test_update_errors(
    client: Any,
    headers: dict,
    add_licenses: Callable,
    make_cred: Callable,
    url: str,
    item: dict,
    status: int,
    detail: str,
) -> None:
    add_licenses(1, bare_license_item(5, state="CA"))
    make_cred(2)
    response = client.put(url, json=item, headers=headers)
    assert response.status_code == status
    assert problem(response)["detail"] == detail
    assert data(client.get(f"{LICENSES}/5", headers=headers))["state"] == "CA"


def test_update_key_mismatch_names_the_field(client: Any, headers: dict, add_licenses: Callable):
    add_licenses(1, bare_license_item(5))
    response = client.put(f"{LICENSES}/5", json=bare_license_item(6), headers=headers)
    assert problem(response)["errors"] == {
        "providerCredLicense_Key": ["Does not match the providerCredLicenseKey in the path (5)."]
    }


STATE_ERROR = "Not a valid USPS state code (50 states, DC, AS, GU, MP, PR, VI)."
KEY_MISMATCH = "Does not match the providerCredLicenseKey in the path (5)."


@pytest.mark.parametrize(
    ("item", "errors"),
    [
        (  # the body's own field errors came only on the retry with the key fixed
            bare_license_item(6, state="XX", license_Number="N" * 51, extra=1),
            {
                "providerCredLicense_Key": [KEY_MISMATCH],
                "license_Number": ["Longer than maximum length 50."],
                "state": [STATE_ERROR],
                "extra": ["Unknown field."],
            },
        ),
        (  # and a ProviderCred other than the path's, with the key fixed
            bare_license_item(6, cred=2),
            {
                "providerCredLicense_Key": [KEY_MISMATCH],
                "providerCred_Key": ["Does not match the providerCredKey in the path (1)."],
            },
        ),
        (  # all three: the ProviderCred's mismatch was dropped beside a field's error
            bare_license_item(6, cred=2, state="XX"),
            {
                "providerCredLicense_Key": [KEY_MISMATCH],
                "state": [STATE_ERROR],
                "providerCred_Key": ["Does not match the providerCredKey in the path (1)."],
            },
        ),
    ],
)
def test_update_key_mismatch_comes_with_every_other_error_of_the_body(
    client: Any, headers: dict, add_licenses: Callable, item: dict, errors: dict
) -> None:
    add_licenses(1, bare_license_item(5, state="CA"))
    response = client.put(f"{LICENSES}/5", json=item, headers=headers)
    assert response.status_code == 400
    body = problem(response)
    assert body["errors"] == errors
    assert body["detail"] == " ".join(f"{name}: {' '.join(m)}" for name, m in errors.items())
    assert data(client.get(f"{LICENSES}/5", headers=headers))["state"] == "CA"


def test_update_key_mismatch_comes_with_an_unknown_license_type(
    client: Any, headers: dict, add_licenses: Callable, make_license_type: Callable
) -> None:
    """With the key other than the path's, a credLicenseType_Key naming no type came only on
    the retry with the key fixed; a known type, or one that is itself malformed, is not one."""
    make_license_type(3)
    add_licenses(1, bare_license_item(5, state="CA"))
    unknown = bare_license_item(6, state="XX", credLicenseType_Key=99)
    body = problem(client.put(f"{LICENSES}/5", json=unknown, headers=headers))
    assert body["errors"] == {
        "providerCredLicense_Key": [KEY_MISMATCH],
        "state": [STATE_ERROR],
        "credLicenseType_Key": ["No license type 99 in this database."],
    }
    # The same errors as the write gives once the key is fixed, the type's included.
    fixed = problem(
        client.put(f"{LICENSES}/5", json={**unknown, "providerCredLicense_Key": 5}, headers=headers)
    )
    assert {k: v for k, v in body["errors"].items() if k != "providerCredLicense_Key"} == fixed[
        "errors"
    ]
    for item, type_errors in (
        (bare_license_item(6, credLicenseType_Key=3), None),
        (bare_license_item(6, credLicenseType_Key="99"), ["Not a valid integer."]),
    ):
        errors = problem(client.put(f"{LICENSES}/5", json=item, headers=headers))["errors"]
        assert errors.get("credLicenseType_Key") == type_errors
    assert data(client.get(f"{LICENSES}/5", headers=headers))["state"] == "CA"


def test_update_by_a_viewer_is_403(client: Any, auth_headers: Callable, add_licenses: Callable):
    add_licenses(1, bare_license_item(5))
    before = data(client.get(f"{LICENSES}/5", headers=auth_headers()))
    response = client.put(
        f"{LICENSES}/5",
        json=bare_license_item(5, license_Number="VIEWER-EDIT"),
        headers=auth_headers(role="viewer"),
    )
    assert response.status_code == 403
    assert data(client.get(f"{LICENSES}/5", headers=auth_headers())) == before  # nothing written


# ---------------------------------------------------------------------------------------------
# Delete


def test_delete_is_204_without_a_body(client: Any, headers: dict, add_licenses: Callable):
    add_licenses(1, bare_license_item(5), bare_license_item(6))
    response = client.delete(f"{LICENSES}/5", headers=headers)
    assert response.status_code == 204
    assert response.data == b""
    assert "Content-Type" not in response.headers
    assert response.headers["X-Activity-ID"]
    assert client.get(f"{LICENSES}/5", headers=headers).status_code == 404
    assert keys(client.get(LICENSES, headers=headers)) == [6]


@pytest.mark.parametrize(
    ("url", "detail"),
    [
        (f"{LICENSES}/6", "No license 6 under providerCredKey 1."),
        ("/provider-credentialing/2/licenses/5", "No license 5 under providerCredKey 2."),
        ("/provider-credentialing/9/licenses/5", "No provider credential 9 in this database."),
    ],
)
def test_delete_not_found(
    client: Any, headers: dict, add_licenses: Callable, make_cred: Callable, url: str, detail: str
) -> None:
    add_licenses(1, bare_license_item(5))
    make_cred(2)
    response = client.delete(url, headers=headers)
    assert response.status_code == 404
    assert problem(response)["detail"] == detail
    assert client.get(f"{LICENSES}/5", headers=headers).status_code == 200


def test_delete_twice_is_404(client: Any, headers: dict, add_licenses: Callable) -> None:
    add_licenses(1, bare_license_item(5))
    assert client.delete(f"{LICENSES}/5", headers=headers).status_code == 204
    assert client.delete(f"{LICENSES}/5", headers=headers).status_code == 404


def test_delete_by_a_viewer_is_403(client: Any, auth_headers: Callable, add_licenses: Callable):
    add_licenses(1, bare_license_item(5))
    response = client.delete(f"{LICENSES}/5", headers=auth_headers(role="viewer"))
    assert response.status_code == 403
    assert client.get(f"{LICENSES}/5", headers=auth_headers()).status_code == 200


def test_routes_answer_under_vbasoftware(client: Any, headers: dict, make_cred: Callable) -> None:
    make_cred(1)
    base = f"/vbasoftware{LICENSES}"
    assert client.post(base, json=bare_license_item(5), headers=headers).status_code == 200
    assert client.put(f"{base}/5", json=bare_license_item(5), headers=headers).status_code == 200
    assert client.get(f"{base}/5", headers=headers).status_code == 200
    assert client.get(f"{base}/5/history", headers=headers).status_code == 200
    assert client.delete(f"{base}/5", headers=headers).status_code == 204


def test_bodiless_requests_ignore_their_content_type(
    client: Any, headers: dict, add_licenses: Callable
) -> None:
    add_licenses(1, bare_license_item(5))
    json_headers = {**headers, "Content-Type": "application/json"}
    assert client.get(f"{LICENSES}/5", headers=json_headers).status_code == 200
    assert client.get(LICENSES, headers=json_headers).status_code == 200
    assert client.delete(f"{LICENSES}/5", headers=json_headers).status_code == 204


def test_an_unsupported_method_is_405_in_the_envelope(client: Any, headers: dict) -> None:
    response = client.patch(f"{LICENSES}/5", json={}, headers=headers)
    assert response.status_code == 405
    assert problem(response)["detail"] == "Method PATCH is not allowed here."
    assert set(response.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS", "PUT", "DELETE"}
