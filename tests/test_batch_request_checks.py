"""Request-level checks of the batch endpoint, in SPEC section 4's order."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import jwt
import pytest

from app.audit import utcnow
from tests.conftest import TEST_SECRET
from tests.factories import license_item
from tests.helpers import BATCH_URL

URL = BATCH_URL.format(cred=1)


@pytest.fixture
def headers(auth_headers: Any, make_cred: Any) -> dict[str, str]:
    make_cred(1)
    return auth_headers()


def put(
    client: Any,
    headers: dict[str, str],
    body: Any = None,
    raw: bytes | None = None,
    content_type: str | None = "application/json",
    url: str = URL,
) -> Any:
    data = raw if raw is not None else json.dumps(body if body is not None else [])
    if content_type is not None:
        headers = {**headers, "Content-Type": content_type}
    return client.put(url, data=data, headers=headers)


def assert_problem(response: Any, status: int, detail: str) -> None:
    assert response.status_code == status
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert body["data"] is None
    assert body["error"]["status"] == status
    assert body["error"]["detail"] == detail
    assert body["error"]["instance"] == URL
    assert body["debug"]["activityID"] == response.headers["X-Activity-ID"]


def good_claims(headers: dict[str, str]) -> dict[str, Any]:
    """The claims of the fixture's valid token (user id and stamp included), so that a token
    made from them and changed in one way is refused for that one way only."""
    token = headers["Authorization"].removeprefix("Bearer ")
    return jwt.decode(token, TEST_SECRET, algorithms=["HS256"])


def bearer(claims: dict[str, Any], key: str | None = TEST_SECRET, algorithm: str = "HS256") -> str:
    return "Bearer " + jwt.encode(claims, key, algorithm=algorithm)


def assert_good_claims_pass(client: Any, headers: dict[str, str], claims: dict[str, Any]) -> None:
    """The control: the same claims, signed right and unexpired, are accepted."""
    good = {**claims, "exp": utcnow() + timedelta(hours=1)}
    assert put(client, {**headers, "Authorization": bearer(good)}, []).status_code == 207


@pytest.mark.parametrize(
    ("change", "status", "detail"),
    [
        ({"vbasoftware-database": None}, 400, "The vbasoftware-database header is required."),
        (
            {"vbasoftware-database": "nope"},
            400,
            "Unknown database in the vbasoftware-database header.",
        ),
        (
            {"vbasoftware-database": "../main"},
            400,
            "Unknown database in the vbasoftware-database header.",
        ),
        ({"x-api-key": None}, 401, "The x-api-key header is required."),
        ({"x-api-key": "cg_wrong"}, 401, "The API key is not valid for this database."),
        ({"Authorization": None}, 401, "An Authorization: Bearer <idToken> header is required."),
        (
            {"Authorization": "Basic YTpi"},
            401,
            "An Authorization: Bearer <idToken> header is required.",
        ),
        (
            {"Authorization": "Bearer not-a-jwt"},
            401,
            "The bearer token is invalid, expired or for another database.",
        ),
    ],
)
def test_database_and_auth_checks(
    client: Any, headers: dict[str, str], change: dict[str, Any], status: int, detail: str
) -> None:
    for name, value in change.items():
        if value is None:
            headers.pop(name)
        else:
            headers[name] = value
    # An over-long, non-JSON body, an unknown query parameter: the earlier check must still win
    # (the parameter was answered 400 before the database header and the credentials).
    for url in (URL, URL + "?dryrun=true"):
        response = put(client, headers, raw=b"not json", content_type="text/plain", url=url)
        assert_problem(response, status, detail)
        if status == 401:
            assert response.headers.get("WWW-Authenticate", "Bearer").startswith("Bearer")


def test_expired_token_is_401(client: Any, headers: dict[str, str]) -> None:
    now = utcnow()
    claims = {**good_claims(headers), "iat": now - timedelta(days=2)}
    assert_good_claims_pass(client, headers, claims)
    headers["Authorization"] = bearer({**claims, "exp": now - timedelta(seconds=1)})
    assert_problem(
        put(client, headers, [license_item(1)]),
        401,
        "The bearer token is invalid, expired or for another database.",
    )


def test_token_signed_with_another_secret_is_401(client: Any, headers: dict[str, str]) -> None:
    claims = good_claims(headers)
    assert_good_claims_pass(client, headers, claims)
    headers["Authorization"] = bearer(claims, "another-secret-another-secret-0123456789")
    assert_problem(
        put(client, headers, []),
        401,
        "The bearer token is invalid, expired or for another database.",
    )


def test_unsigned_token_is_401(client: Any, headers: dict[str, str]) -> None:
    claims = good_claims(headers)
    assert_good_claims_pass(client, headers, claims)
    headers["Authorization"] = bearer(claims, None, algorithm="none")
    assert_problem(
        put(client, headers, []),
        401,
        "The bearer token is invalid, expired or for another database.",
    )


def test_token_of_deleted_user_is_401(
    client: Any, headers: dict[str, str], session_for: Any
) -> None:
    from sqlalchemy import delete

    from app.auth.models import StaffUser

    with session_for() as session:
        session.execute(delete(StaffUser))
        session.commit()
    assert_problem(
        put(client, headers, []),
        401,
        "The token has been revoked, with every token of its user: a refresh token was "
        "reused, or the user was deleted, disabled or changed (password, role). Log in again.",
    )


def test_viewer_cannot_write(client: Any, auth_headers: Any, make_cred: Any) -> None:
    make_cred(1)
    response = put(client, auth_headers(role="viewer"), [license_item(1)])
    assert_problem(response, 403, "User 'viewer-main' has the viewer role and cannot write.")


@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "application/xml", "multipart/form-data", "application/jsonx"],
)
def test_content_type_must_be_json(
    client: Any, headers: dict[str, str], content_type: str | None
) -> None:
    response = put(client, headers, raw=b"[", content_type=content_type)
    assert_problem(response, 415, "The request body must be JSON (Content-Type: application/json).")


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "application/json; charset=utf-8",
        "text/json",
        "application/vnd.vba+json",
        # VBAPI's OpenAPI lists application/*+json as a request type of every body (SPEC
        # section 2 too), so a client generated from it may send that type as written.
        "application/*+json",
    ],
)
def test_json_content_types_accepted(
    client: Any, headers: dict[str, str], content_type: str
) -> None:
    response = put(client, headers, [license_item(7)], content_type=content_type)
    assert response.status_code == 207


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    return {**app_config, "MAX_CONTENT_LENGTH": 4096, "BATCH_MAX_ITEMS": 3}


def test_body_too_large_is_413_before_json_checks(client: Any, headers: dict[str, str]) -> None:
    response = put(client, headers, raw=b"x" * 5000)
    assert_problem(response, 413, "The request body is larger than 4096 bytes.")


@pytest.mark.parametrize(
    ("raw", "detail"),
    [
        (b"[", "The request body is not valid JSON: Expecting value: line 1 column 2 (char 1)."),
        (b"", "The request body is not valid JSON: Expecting value: line 1 column 1 (char 0)."),
        (b'{"a": 1}', "The request body must be a JSON array of items."),
        (b"5", "The request body must be a JSON array of items."),
        (b"[NaN]", "The request body is not valid JSON: NaN is not a JSON number."),
        (
            b"[" + b"9" * 5000 + b"]",  # Python's message named sys.set_int_max_str_digits()
            "The request body is not valid JSON: a number has more than 4300 digits.",
        ),
        (
            b"\xff\xfe[",  # a UTF-16 byte-order mark, then half a character
            "The request body is not UTF-16-LE text (byte 0x5b at offset 2); send UTF-8.",
        ),
        (b"[" * 100_000 + b"]" * 100_000, None),
    ],
)
def test_body_must_be_a_json_array(
    client: Any, headers: dict[str, str], raw: bytes, detail: str | None, app: Any
) -> None:
    app.config["MAX_CONTENT_LENGTH"] = 1_000_000
    response = put(client, headers, raw=raw)
    assert response.status_code == 400
    error = response.get_json()["error"]
    if detail is not None:
        assert error["detail"] == detail
    else:
        assert error["detail"].startswith("The request body is not valid JSON")


def test_too_many_items_is_413(client: Any, headers: dict[str, str]) -> None:
    items = [license_item(k) for k in range(4)]
    assert_problem(
        put(client, headers, items), 413, "The batch has 4 items; at most 3 are allowed."
    )


def test_a_batch_of_the_most_items_allowed_is_taken(client: Any, headers: dict[str, str]) -> None:
    response = put(client, headers, [license_item(k) for k in range(1, 4)])
    assert response.status_code == 207
    assert [r["status"] for r in response.get_json()["data"]] == [201, 201, 201]


def test_unknown_provider_cred_is_404_after_item_count(
    client: Any, headers: dict[str, str]
) -> None:
    url = BATCH_URL.format(cred=999)
    response = put(client, headers, [license_item(1, cred=999)], url=url)
    assert response.status_code == 404
    assert response.get_json()["error"]["detail"] == "No provider credential 999 in this database."
    too_many = put(client, headers, [license_item(k, cred=999) for k in range(4)], url=url)
    assert too_many.status_code == 413


def test_empty_array_is_207_with_no_data(client: Any, headers: dict[str, str]) -> None:
    response = put(client, headers, [])
    assert response.status_code == 207
    assert response.get_json()["data"] == []


def test_flag_must_be_boolean(client: Any, headers: dict[str, str]) -> None:
    response = put(client, headers, [], url=URL + "?atomic=maybe")
    assert response.status_code == 400
    assert response.get_json()["error"]["errors"] == {"atomic": ["Must be true or false."]}
    # Worded as every other bad query parameter's detail (page, pageSize, state, ...).
    assert (
        response.get_json()["error"]["detail"] == "Query parameter atomic: Must be true or false."
    )


@pytest.mark.parametrize(
    ("value", "dry"),
    [
        ("true", True),
        ("1", True),
        ("false", False),
        ("0", False),
        ("TRUE%20", True),  # any case, spaces around
        ("%20False", False),
    ],
)
def test_flag_takes_true_false_1_and_0(
    client: Any, headers: dict[str, str], value: str, dry: bool
) -> None:
    response = put(client, headers, [license_item(3)], url=f"{URL}?dryRun={value}")
    assert response.status_code == 207
    (result,) = response.get_json()["data"]
    assert result["status"] == 201
    assert ("changes" in result) is dry
    again = put(client, headers, [license_item(3)])  # created now, unless that was a dry run
    assert again.get_json()["data"][0]["status"] == (201 if dry else 200)


def test_vbasoftware_base_path(client: Any, headers: dict[str, str]) -> None:
    response = put(client, headers, [license_item(3)], url="/vbasoftware" + URL)
    assert response.status_code == 207
    assert response.get_json()["data"][0]["status"] == 201


@pytest.mark.parametrize("cred", ["99999999999999999999", "-5", "2147483648"])
def test_out_of_range_provider_cred_key_is_404(
    client: Any, headers: dict[str, str], cred: str
) -> None:
    response = put(client, headers, [], url=f"/provider-credentialing/{cred}/licenses-batch")
    assert response.status_code == 404
    assert response.get_json()["error"]["title"] == "Not Found"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16", "utf-32"])
def test_a_json_body_in_any_json_encoding_is_read(
    client: Any, headers: dict[str, str], encoding: str
) -> None:
    response = put(client, headers, raw="[]".encode(encoding))
    assert response.status_code == 207
    assert response.get_json()["data"] == []


@pytest.mark.parametrize(
    ("query", "errors"),
    [
        (
            "?dryrun=true",
            {
                "dryrun": [
                    "Unknown query parameter; did you mean dryRun? (names are case-sensitive)"
                ]
            },
        ),
        ("?dryRun=false&dryRun=true", {"dryRun": ["Given 2 times; give it once."]}),
        ("?atomic=false&atomic=true", {"atomic": ["Given 2 times; give it once."]}),
        (
            "?dry_run=1&foo=bar",
            {
                "dry_run": ["Unknown query parameter; this operation takes atomic, dryRun."],
                "foo": ["Unknown query parameter; this operation takes atomic, dryRun."],
            },
        ),
    ],
)
def test_an_unknown_or_repeated_query_parameter_is_400_and_writes_nothing(
    client: Any, headers: dict[str, str], session_for: Any, query: str, errors: Any
) -> None:
    """A misspelt dry run was ignored, and the batch written for real."""
    from app.licenses.models import ProviderCredLicense

    for url in (URL + query, "/vbasoftware" + URL + query):
        response = put(client, headers, [license_item(3)], url=url)
        assert response.status_code == 400
        assert response.get_json()["error"]["errors"] == errors
    with session_for("main") as session:
        assert session.get(ProviderCredLicense, 3) is None


@pytest.mark.parametrize(
    ("query", "detail"),
    [
        ("?page=1&page=2", "Query parameter page: Given 2 times; give it once."),
        (
            "?page=1&page=2&foo=1",
            "Query parameter(s) not accepted here: foo. "
            "Query parameter page: Given 2 times; give it once.",
        ),
        ("?=1", "Query parameter(s) not accepted here: ''."),
        ("?%20page=1", "Query parameter(s) not accepted here: ' page'."),
    ],
)
def test_the_detail_says_what_is_wrong_with_a_query_parameter(
    client: Any, headers: dict[str, str], query: str, detail: str
) -> None:
    """A repeated parameter the route takes was said to be "not accepted here", and a nameless
    one made "not accepted here: ." (its name is shown quoted when it is blank)."""
    response = client.get("/provider-credentialing/1/licenses" + query, headers=headers)
    assert response.status_code == 400
    assert response.get_json()["error"]["detail"] == detail


def test_a_list_refuses_an_unknown_or_repeated_query_parameter(
    client: Any, headers: dict[str, str]
) -> None:
    url = "/provider-credentialing/1/licenses"
    assert client.get(url + "?page=1&pageSize=5", headers=headers).status_code == 200
    repeated = client.get(url + "?page=1&page=2", headers=headers)
    assert repeated.status_code == 400
    assert repeated.get_json()["error"]["errors"] == {"page": ["Given 2 times; give it once."]}
    unknown = client.get(url + "?pagesize=5", headers=headers)
    assert unknown.get_json()["error"]["errors"]["pagesize"] == [
        "Unknown query parameter; did you mean pageSize? (names are case-sensitive)"
    ]
    # An open route takes what a viewer adds (a cache-buster): there is nothing to misread.
    assert client.get("/openapi.json?v=2").status_code == 200
    assert client.get("/vbasoftware/healthz?probe=1").status_code == 200
    single = client.get(url + "/1?expand=all", headers=headers)
    assert single.status_code == 400
    assert single.get_json()["error"]["errors"] == {
        "expand": ["Unknown query parameter; this operation takes none."]
    }


def test_each_wrong_query_parameter_is_named_once_with_what_the_operation_takes(
    client: Any, headers: dict[str, str]
) -> None:
    """An unknown name given twice is unknown (not also "given 2 times"); a name with spaces
    around it is matched to the one it spells; the names taken are listed in order."""
    url = "/licenses/expirables"
    twice = client.get(url + "?foo=1&foo=2", headers=headers)
    assert twice.status_code == 400
    takes = (
        "Unknown query parameter; this operation takes bucket, credLicenseType_Key, page, "
        "pageSize, sortBy, state, within."
    )
    assert twice.get_json()["error"] == {
        **twice.get_json()["error"],
        "detail": "Query parameter(s) not accepted here: foo.",
        "errors": {"foo": [takes]},
    }
    spaced = client.get(url + "?%20pageSize%20=5", headers=headers)
    assert spaced.get_json()["error"]["errors"] == {
        " pageSize ": ["Unknown query parameter; did you mean pageSize? (names are case-sensitive)"]
    }


@pytest.mark.parametrize(
    "change",
    [
        {"token_use": "refresh"},  # not an id or access token
        {"token_use": None},
        {"uid": True},  # a boolean is not a user id (though SQL compares True with 1)
        {"stp": None},
        {"db": "other"},
        {"sub": 5},
    ],
    ids=lambda change: ",".join(f"{k}={v}" for k, v in change.items()),
)
def test_a_signed_token_with_one_claim_wrong_is_401(
    client: Any, headers: dict[str, str], change: dict[str, Any]
) -> None:
    claims = good_claims(headers)
    assert_good_claims_pass(client, headers, claims)
    changed = {k: v for k, v in {**claims, **change}.items() if v is not None}
    headers["Authorization"] = bearer(changed)
    assert_problem(
        put(client, headers, []),
        401,
        "The bearer token is invalid, expired or for another database.",
    )
