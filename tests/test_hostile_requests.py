"""What a hostile client found: each answer is a clear 4xx in the envelope, never a 500, and
never a write the client did not ask for."""

from __future__ import annotations

import base64
import gzip
import io
import json
import zlib
from typing import Any

import pytest

from tests.factories import license_item
from tests.helpers import BATCH_URL

URL = BATCH_URL.format(cred=1)
LICENSES = "/provider-credentialing/1/licenses"


@pytest.fixture
def headers(auth_headers: Any, make_cred: Any) -> dict[str, str]:
    make_cred(1)
    return {**auth_headers(), "Content-Type": "application/json"}


def stored_keys(client: Any, headers: dict[str, str]) -> list[int]:
    response = client.get(LICENSES, headers=headers)
    assert response.status_code == 200
    return [row["providerCredLicense_Key"] for row in response.get_json()["data"]]


def test_a_lone_surrogate_in_a_field_name_is_that_items_400(client: Any, headers: dict) -> None:
    """The unknown field's name is echoed in the error; it has no UTF-8 form, and the answer
    (written after the commit) must still go out, or the client never learns what was written."""
    body = '[{"providerCredLicense_Key": 1, "providerCred_Key": 1}, ' + (
        '{"providerCredLicense_Key": 2, "providerCred_Key": 1, "bad\\ud800": 1}]'
    )
    response = client.put(URL, data=body, headers=headers)
    assert response.status_code == 207
    data = json.loads(response.get_data().decode("utf-8"))["data"]
    assert [item["status"] for item in data] == [201, 400]
    assert "Unknown field" in data[1]["body"]
    assert stored_keys(client, headers) == [1]


def test_a_lone_surrogate_in_a_single_writes_field_name_is_a_400(
    client: Any, headers: dict
) -> None:
    body = '{"providerCredLicense_Key": 3, "providerCred_Key": 1, "x\\ud800": 1}'
    response = client.post(LICENSES, data=body, headers=headers)
    assert response.status_code == 400
    error = json.loads(response.get_data().decode("utf-8"))["error"]
    assert "Unknown field" in json.dumps(error)


@pytest.mark.parametrize("query", ["?dryRun", "?dryRun=", "?dryRun=%20", "?atomic", "?atomic="])
def test_a_flag_without_a_value_is_a_400_and_writes_nothing(
    client: Any, headers: dict, query: str
) -> None:
    response = client.put(URL + query, json=[license_item(4)], headers=headers)
    assert response.status_code == 400
    name = query[1:].partition("=")[0]
    assert response.get_json()["error"]["errors"] == {name: ["Must be true or false."]}
    assert stored_keys(client, headers) == []


@pytest.mark.parametrize("padding", [2_000, 20])
def test_a_chunked_body_reaching_the_size_limit_is_413_not_cut(
    fresh_app: Any, auth_headers: Any, make_cred: Any, padding: int
) -> None:
    """Without a Content-Length, Werkzeug stops reading at the limit without a word: the
    first 1,000 bytes here are a valid batch, and the rest must not be ignored."""
    make_cred(1)
    app = fresh_app(MAX_CONTENT_LENGTH=1_000)
    client = app.test_client()
    sent = {**auth_headers(), "Content-Type": "application/json"}
    valid = json.dumps([{"providerCredLicense_Key": 5, "providerCred_Key": 1}]).encode()
    body = valid + b" " * padding + b"THIS IS NOT JSON"
    response = client.put(
        URL,
        input_stream=io.BytesIO(body),
        headers={**sent, "Transfer-Encoding": "chunked"},
        # What gunicorn says of a chunked body: the server found its end.
        environ_overrides={"wsgi.input_terminated": True},
    )
    if len(body) >= 1_000:
        assert response.status_code == 413
        assert response.get_json()["error"]["detail"] == (
            "The request body is larger than 1000 bytes."
        )
    else:
        assert response.status_code == 400  # read whole: the trailing text is not JSON
    assert stored_keys(client, sent) == []


def test_a_body_that_is_not_utf8_says_so(client: Any, headers: dict) -> None:
    body = '[{"providerCredLicense_Key": 6, "license_Name": "José"}]'.encode("latin-1")
    response = client.put(URL, data=body, headers=headers)
    assert response.status_code == 400
    offset = body.index(b"\xe9")
    assert response.get_json()["error"]["detail"] == (
        f"The request body is not UTF-8 text (byte 0xe9 at offset {offset}); send UTF-8."
    )


def test_a_nul_in_the_login_name_is_a_401(client: Any, make_user: Any, make_api_key: Any) -> None:
    """PostgreSQL refuses a NUL in a query's text: no user can have one, so none is looked up."""
    make_user("alice", "correct horse")
    credentials = base64.b64encode(b"al\x00ice:correct horse").decode()
    response = client.post(
        "/user-authentication",
        headers={
            "vbasoftware-database": "main",
            "x-api-key": make_api_key(),
            "Authorization": f"Basic {credentials}",
            "Content-Type": "application/json",
        },
    )
    assert response.status_code == 401


def test_a_sort_field_named_twice_is_a_400(client: Any, headers: dict) -> None:
    """Also what keeps SQLite from refusing an ORDER BY of thousands of terms."""
    response = client.get(f"{LICENSES}?sortBy={','.join(['state'] * 2_100)}", headers=headers)
    assert response.status_code == 400
    assert response.get_json()["error"]["errors"] == {"sortBy": ["state is named more than once."]}
    response = client.get(f"{LICENSES}?sortBy=state:desc,STATE", headers=headers)
    assert response.status_code == 400
    assert client.get(f"{LICENSES}?sortBy=state:desc,term_Date", headers=headers).status_code == 200


@pytest.mark.parametrize(
    "path", ["/provider-credentialing//1/licenses-batch", "/vbasoftware//licenses/expirables"]
)
def test_a_double_slash_is_a_json_404_not_an_html_redirect(
    client: Any, headers: dict, path: str
) -> None:
    response = client.put(path, json=[], headers=headers)
    assert response.status_code == 404
    assert response.mimetype == "application/json"
    assert "Location" not in response.headers


def test_a_name_repeated_in_one_object_is_a_400(client: Any, headers: dict) -> None:
    """JSON leaves a repeated name to the reader: the body is refused, not read as one value."""
    body = '[{"providerCredLicense_Key": 7, "providerCredLicense_Key": 8, "providerCred_Key": 1}]'
    response = client.put(URL, data=body, headers=headers)
    assert response.status_code == 400
    assert response.get_json()["error"]["detail"] == (
        "The request body is not valid JSON: the name 'providerCredLicense_Key' appears more "
        "than once in one object."
    )
    assert stored_keys(client, headers) == []


@pytest.mark.parametrize(
    ("coding", "compress"),
    [
        ("gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("gzip", lambda body: body),  # says compressed, is not: read as sent, it was written
        ("br, identity", lambda body: body),
    ],
)
@pytest.mark.parametrize("route", ["batch", "single"])
def test_a_compressed_body_is_a_415_not_a_wrong_encoding(
    client: Any, headers: dict, coding: str, compress: Any, route: str
) -> None:
    """credgrid reads no content coding. A gzip body was told "not UTF-8 text … send UTF-8",
    which sends the client after a text encoding it never used; an uncompressed body labelled
    gzip was written as if the label were absent."""
    item = license_item(7)
    url, body = (URL, [item]) if route == "batch" else (LICENSES, item)
    request = {"data": compress(json.dumps(body).encode()), "headers": headers}
    request["headers"] = {**headers, "Content-Encoding": coding}
    response = client.open(url, method="PUT" if route == "batch" else "POST", **request)
    assert response.status_code == 415
    assert response.headers["Accept-Encoding"] == "identity"
    assert response.get_json()["error"]["detail"] == (
        f"Content-Encoding {coding!r} is not supported; send the body uncompressed."
    )
    assert stored_keys(client, headers) == []


@pytest.mark.parametrize("coding", ["identity", "IDENTITY", ""])
def test_an_identity_content_encoding_is_no_coding(client: Any, headers: dict, coding: str) -> None:
    response = client.put(
        URL, json=[license_item(8)], headers={**headers, "Content-Encoding": coding}
    )
    assert response.status_code == 207
    assert stored_keys(client, headers) == [8]


@pytest.mark.parametrize("path", ["/ui", "/ui/", "/ui/login", LICENSES, "/healthz", "/nowhere"])
def test_a_host_header_that_is_no_host_name_is_a_400_that_says_so(client: Any, path: str) -> None:
    """``evil..example`` has no IDNA form: Werkzeug refuses it (400), and the UI's error page,
    whose links are built for the request's host, raised in its turn (a 500)."""
    response = client.get(path, headers={"Host": "evil..example"})
    assert response.status_code == 400
    text = response.get_data(as_text=True)
    assert "Host header is not a valid host name" in text
    assert "evil" not in text
