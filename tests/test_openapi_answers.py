"""Every answer the API gives is declared by /openapi.json: its status, its body and its headers.

Clients are generated from the document: a status it does not declare is an unknown outcome to
them, and a header it does not declare (the rate limit's, a 415's ``Accept-Encoding``) cannot
be read through the client. These tests walk every documented operation of the URL map and
provoke each refusal the request checks can give (database header, credentials, role, query,
body type, coding, size and JSON, an unknown key, an Idempotency-Key reused, the rate limit, an
unavailable database), then check each answer against the operation's declared response; a
method a path does not take is checked against the ``Error405`` component.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import jsonschema_rs
import pytest

from app import create_app
from app.api.openapi import PATH_PARAMETERS, build_openapi, documented_rules, openapi_path
from tests.api_support import basic
from tests.factories import license_item
from tests.helpers import dispose_engines
from tests.test_healthz import closed_port
from tests.test_unavailable import unchecked_api_headers

#: Headers of HTTP itself and of the security policy, on every answer and on no API's list:
#: a generated client neither reads them nor needs them declared.
TRANSPORT_HEADERS = frozenset(
    {
        "content-type",
        "content-length",
        "content-security-policy",
        "x-content-type-options",
        "referrer-policy",
        "x-frame-options",
        "strict-transport-security",
        "cache-control",
        "vary",
    }
)
EXAMPLES = {name: schema["examples"][0] for name, schema, _ in PATH_PARAMETERS.values()}
ALL_METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH")
MAX_BODY = 4096


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    return app_config | {"MAX_CONTENT_LENGTH": MAX_BODY}


@pytest.fixture
def document(app: Any) -> dict[str, Any]:
    return build_openapi(app)


def resolve(document: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        kind, name = node["$ref"].split("/")[-2:]
        node = document["components"][kind][name]
    return node


def check_answer(
    document: dict[str, Any], declared: dict[str, Any], answer: Any, what: str
) -> None:
    """``answer`` is what the response object ``declared`` promises: every header it has is
    declared (or is HTTP's own), every required one is there, the body matches the schema."""
    declared = resolve(document, declared)
    headers = {
        name.lower(): resolve(document, h) for name, h in declared.get("headers", {}).items()
    }
    undeclared = sorted(
        name
        for name in {n.lower() for n, _ in answer.headers.items()}
        if name not in headers and name not in TRANSPORT_HEADERS
    )
    assert undeclared == [], f"{what}: {answer.status_code} has undeclared headers"
    missing = sorted(n for n, h in headers.items() if h.get("required") and n not in answer.headers)
    assert missing == [], f"{what}: {answer.status_code} lacks required headers"
    for name, header in headers.items():
        if name in answer.headers:
            check = jsonschema_rs.Draft202012Validator(header["schema"])
            assert check.is_valid(answer.headers[name]), (what, name, answer.headers[name])
    content = declared.get("content")
    if content is None:
        assert answer.data == b"", what
        return
    assert list(content) == [answer.mimetype], what
    schema = {**content[answer.mimetype]["schema"], "components": document["components"]}
    errors = [
        e.message for e in jsonschema_rs.Draft202012Validator(schema).iter_errors(answer.get_json())
    ]
    assert errors == [], f"{what}: {answer.status_code} body does not match: {errors[:3]}"


class Walker:
    """Sends requests to documented operations and checks each answer against the document."""

    def __init__(self, client: Any, document: dict[str, Any]) -> None:
        self.client = client
        self.document = document
        self.seen: set[tuple[str, str, int]] = set()

    def send(self, method: str, path: str, concrete: str, **kwargs: Any) -> Any:
        answer = self.client.open(concrete, method=method, **kwargs)
        operation = self.document["paths"][path][method.lower()]
        what = f"{method} {concrete}"
        assert str(answer.status_code) in operation["responses"], (
            f"{what}: status {answer.status_code} is not declared: {answer.get_data()[:300]!r}"
        )
        check_answer(self.document, operation["responses"][str(answer.status_code)], answer, what)
        self.seen.add((method, path, answer.status_code))
        return answer


def documented_operations(app: Any) -> Iterator[tuple[str, str, str, Any]]:
    """(method, document path, concrete path, operation) of every documented operation."""
    for rule, operation in documented_rules(app):
        path, _ = openapi_path(rule)
        concrete = re.sub(r"{(\w+)}", lambda m: str(EXAMPLES[m.group(1)]), path)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            yield method, path, concrete, operation


def body_of(operation: Any) -> Any:
    return [] if operation.body_is_array else {}


@pytest.fixture
def seeded(
    client: Any,
    auth_headers: Callable[..., dict[str, str]],
    make_cred: Callable[..., int],
    make_license_type: Callable[..., int],
) -> dict[str, str]:
    """The documented examples exist: ProviderCred 1001 of PRV01001, its license 510010,
    license type 1. Returns an editor's headers."""
    headers = auth_headers()
    make_cred(EXAMPLES["providerCredKey"], provider_id=EXAMPLES["providerID"])
    make_license_type(EXAMPLES["credLicenseTypeKey"])
    cred = EXAMPLES["providerCredKey"]
    item = license_item(EXAMPLES["providerCredLicenseKey"], cred=cred)
    put = client.put(f"/provider-credentialing/{cred}/licenses-batch", json=[item], headers=headers)
    assert put.status_code == 207
    return headers


def test_every_refusal_of_every_operation_is_declared(
    app: Any,
    client: Any,
    document: dict[str, Any],
    seeded: dict[str, str],
    auth_headers: Callable[..., dict[str, str]],
) -> None:
    walker = Walker(client, document)
    editor, viewer = seeded, auth_headers(role="viewer")
    database = {"vbasoftware-database": "main"}
    for method, path, concrete, operation in documented_operations(app):
        public = operation.security == "none"
        body = body_of(operation) if operation.body is not None else None
        walker.send(method, path, concrete, headers=editor, json=body)
        walker.send(method, path, concrete)
        if public:
            continue
        walker.send(method, path, concrete, headers=database)
        walker.send(method, path, concrete, headers=database | {"x-api-key": "nope"})
        bad_token = {**editor, "Authorization": "Bearer not-a-token"}
        walker.send(method, path, concrete, headers=bad_token, json=body)
        walker.send(method, path, concrete + "?nope=1", headers=editor, json=body)
        if operation.writes:
            walker.send(method, path, concrete, headers=viewer, json=body)
        if operation.body is None:
            continue
        for headers, data in (
            (editor | {"Content-Type": "text/plain"}, b"[]"),
            (editor | {"Content-Type": "application/json", "Content-Encoding": "gzip"}, b"[]"),
            (editor | {"Content-Type": "application/json"}, b"{not json"),
            (editor | {"Content-Type": "application/json"}, b" " * (MAX_BODY + 1)),
        ):
            walker.send(method, path, concrete, headers=headers, data=data)
    for status in (400, 401, 403, 404, 413, 415):
        assert any(seen == status for _, _, seen in walker.seen), status


#: A create of each documented example again: the key exists already.
EXISTING = {
    "/provider-credentialing/{providerCredKey}/licenses": {
        "providerCredLicense_Key": EXAMPLES["providerCredLicenseKey"],
        "providerCred_Key": EXAMPLES["providerCredKey"],
    },
    "/providers/{providerID}/credentialing": {
        "providerCred_Key": EXAMPLES["providerCredKey"],
        "provider_ID": EXAMPLES["providerID"],
        "credType_Key": 1,
        "effective_Date": "2024-01-01",
    },
    "/credentialing-license-types": {"credLicenseType_Key": EXAMPLES["credLicenseTypeKey"]},
}


def test_an_unknown_key_an_existing_key_and_a_reused_idempotency_key_are_declared(
    app: Any, client: Any, document: dict[str, Any], seeded: dict[str, str]
) -> None:
    walker = Walker(client, document)
    for path, record in EXISTING.items():
        concrete = re.sub(r"{(\w+)}", lambda m: str(EXAMPLES[m.group(1)]), path)
        assert walker.send("POST", path, concrete, headers=seeded, json=record).status_code == 409
    for method, path, concrete, operation in documented_operations(app):
        unknown = re.sub(r"/\d+", "/999999", concrete)
        if unknown == concrete:  # no key in the path (a provider's list has none to miss)
            continue
        body = body_of(operation) if operation.body is not None else None
        answer = walker.send(method, path, unknown, headers=seeded, json=body)
        assert answer.status_code == 404 or operation.body is not None  # ({} is invalid first)
        if operation.shape == "batch":
            keyed = seeded | {"Idempotency-Key": "walk-1"}
            first = walker.send(method, path, concrete, headers=keyed, json=[])
            again = walker.send(method, path, concrete, headers=keyed, json=[])
            assert again.headers["Idempotent-Replayed"] == "true"
            assert first.status_code == again.status_code == 207
            other = walker.send(method, path, concrete + "?dryRun=true", headers=keyed, json=[])
            assert other.status_code == 422


def test_the_rate_limits_429_is_declared_on_every_limited_operation(
    app_config: dict[str, Any], document: dict[str, Any], seeded: dict[str, str]
) -> None:
    limited = create_app(app_config | {"RATE_LIMIT": "1 per hour"})
    walker = Walker(limited.test_client(), document)
    try:
        operations = [o for o in documented_operations(limited) if o[3].security != "none"]
        method, path, concrete, _ = operations[0]
        assert walker.send(method, path, concrete, headers=seeded).status_code != 429
        for method, path, concrete, operation in operations:
            body = body_of(operation) if operation.body is not None else None
            answer = walker.send(method, path, concrete, headers=seeded, json=body)
            assert answer.status_code == 429, (method, path)
            assert answer.headers["Retry-After"] == answer.headers["X-RateLimit-Retry-After"]
    finally:
        dispose_engines(limited)


def test_an_unavailable_database_is_declared_on_every_operation_that_reads_one(
    app_config: dict[str, Any], document: dict[str, Any]
) -> None:
    down = f"postgresql://postgres@127.0.0.1:{closed_port()}/nowhere"
    application = create_app(app_config | {"DATABASES": {"main": down}})
    walker = Walker(application.test_client(), document)
    try:
        for method, path, concrete, operation in documented_operations(application):
            headers = unchecked_api_headers()  # a token only the database could refuse
            if operation.security == "login":
                headers["Authorization"] = basic("alice", "pw")
            body = body_of(operation) if operation.body is not None else None
            answer = walker.send(method, path, concrete, headers=headers, json=body)
            if operation.security != "none":
                assert answer.status_code == 503, (method, path)
    finally:
        dispose_engines(application)


def test_a_method_a_path_does_not_take_is_a_405_as_error405_declares(
    app: Any, client: Any, document: dict[str, Any], seeded: dict[str, str]
) -> None:
    """No operation answers 405 (a client generated from the document sends only the methods
    it lists), so the status is declared once, as the component ``Error405``, and every
    undeclared method of every path answers what it says, ``Allow`` naming the path's own."""
    declared = document["components"]["responses"]["Error405"]
    checked = 0
    for path, item in document["paths"].items():
        concrete = re.sub(r"{(\w+)}", lambda m: str(EXAMPLES[m.group(1)]), path)
        methods = {m.upper() for m in item if m.upper() in ALL_METHODS}
        for method in sorted(set(ALL_METHODS) - methods):
            answer = client.open(concrete, method=method, headers=seeded)
            assert answer.status_code == 405, (method, path)
            check_answer(document, declared, answer, f"{method} {path}")
            allowed = {m.strip() for m in answer.headers["Allow"].split(",")}
            assert allowed - {"HEAD", "OPTIONS"} == methods, (method, path)
            checked += 1
    assert checked > 40
