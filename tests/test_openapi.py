"""GET /openapi.json: a valid OpenAPI 3.1 document covering every API route."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import jsonschema_rs
import pytest
from schemathesis.specs.openapi.definitions import OPENAPI_31

from app.api.openapi import PATH_PARAMETERS, undocumented_api_rules
from app.licenses.schemas import LicenseOutSchema, LicenseSchema

PUBLIC = {("get", "/healthz"), ("get", "/openapi.json")}
LOGIN = {("post", "/user-authentication")}
REFRESH = {("post", "/user-refresh-tokens")}
EXAMPLE_VALUES = {name: schema["examples"][0] for name, schema, _ in PATH_PARAMETERS.values()}


@pytest.fixture
def document(client: Any) -> dict[str, Any]:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    return response.get_json()


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method not in ("parameters", "servers")
    ]


def validator(document: dict[str, Any], component: str) -> Any:
    schema = {"$ref": f"#/components/schemas/{component}", "components": document["components"]}
    return jsonschema_rs.Draft202012Validator(schema)


def test_the_document_is_valid_openapi_3_1(document: dict[str, Any]) -> None:
    assert document["openapi"] == "3.1.0"
    errors = list(jsonschema_rs.Draft202012Validator(OPENAPI_31).iter_errors(document))
    assert errors == []
    assert [s["url"] for s in document["servers"]] == ["/", "/vbasoftware"]


def test_every_api_route_is_also_served_under_vbasoftware(app: Any) -> None:
    """The contract: every route at its path and again under ``/vbasoftware``; no path of the
    document is marked as served at the root only."""
    from app.api.openapi import documented_rules

    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    root_only = [r.rule for r, _ in documented_rules(app) if f"vbapi_{r.endpoint}" not in endpoints]
    assert root_only == []
    assert "/healthz" in {r.rule for r, _ in documented_rules(app)}


def test_healthz_answers_under_vbasoftware(client: Any) -> None:
    response = client.get("/vbasoftware/healthz")
    assert response.status_code == 200
    assert (
        response.get_json()["data"]["databases"]
        == client.get("/healthz").get_json()["data"]["databases"]
    )


def test_the_document_is_not_enveloped_and_is_also_under_vbasoftware(
    client: Any, document: dict[str, Any]
) -> None:
    assert "data" not in document
    assert client.get("/vbasoftware/openapi.json").get_json() == document


def test_every_api_route_is_documented(app: Any, document: dict[str, Any]) -> None:
    assert undocumented_api_rules(app) == []
    documented = {(m, p) for m, p, _ in operations(document)}
    assert len(documented) == 24  # + the two monitoring-run routes
    assert ("put", "/provider-credentialing/{providerCredKey}/licenses-batch") in documented
    assert ("put", "/credentialing-license-types-batch") in documented


def test_every_documented_operation_is_served_at_both_base_paths(
    app: Any, document: dict[str, Any]
) -> None:
    adapter = app.url_map.bind("localhost")
    for method, path, _ in operations(document):
        concrete = re.sub(r"{(\w+)}", lambda m: str(EXAMPLE_VALUES[m.group(1)]), path)
        servers = document["paths"][path].get("servers", document["servers"])
        for prefix in (server["url"].rstrip("/") for server in servers):
            endpoint, _ = adapter.match(prefix + concrete, method=method.upper())
            assert endpoint.startswith("vbapi_") == bool(prefix)


def test_operation_ids_are_unique(document: dict[str, Any]) -> None:
    ids = [operation["operationId"] for _, _, operation in operations(document)]
    assert len(ids) == len(set(ids))


def test_security(document: dict[str, Any]) -> None:
    schemes = document["components"]["securitySchemes"]
    assert schemes["apiKeyAuth"] == {
        "type": "apiKey",
        "in": "header",
        "name": "x-api-key",
        "description": "API key.",
    }
    assert schemes["bearerAuth"]["scheme"] == "bearer"
    assert schemes["basicAuth"]["scheme"] == "basic"
    for method, path, operation in operations(document):
        if (method, path) in PUBLIC:
            expected: list[dict[str, list[str]]] = []
        elif (method, path) in LOGIN:
            expected = [{"apiKeyAuth": [], "basicAuth": []}]
        elif (method, path) in REFRESH:
            expected = [{"apiKeyAuth": []}]
        else:
            expected = [{"apiKeyAuth": [], "bearerAuth": []}]
        assert operation["security"] == expected, (method, path)


def test_database_header_and_error_responses(document: dict[str, Any]) -> None:
    database = {"$ref": "#/components/parameters/database"}
    assert document["components"]["parameters"]["database"]["name"] == "vbasoftware-database"
    for method, path, operation in operations(document):
        responses = set(operation["responses"])
        assert "500" in responses
        if (method, path) in PUBLIC:
            continue
        assert database in operation["parameters"], (method, path)
        assert {"400", "401"} <= responses
        if "requestBody" in operation:
            assert {"400", "403", "413", "415"} <= responses, (method, path)
            assert list(operation["requestBody"]["content"]) == ["application/json"]
        if "{" in path:
            assert "404" in responses


def test_lists_document_paging(document: dict[str, Any]) -> None:
    paged = {
        ("get", "/provider-credentialing/{providerCredKey}/licenses"),
        ("get", "/providers/{providerID}/credentialing"),
        ("get", "/credentialing-license-types"),
        ("get", "/licenses/monitoring-runs"),
        ("get", "/licenses/expirables"),
        (
            "get",
            "/provider-credentialing/{providerCredKey}/licenses/{providerCredLicenseKey}/history",
        ),
        ("get", "/licenses/monitoring-runs/{monitoringRunId}"),
    }
    fixed_order = {("get", "/licenses/monitoring-runs/{monitoringRunId}")}
    for method, path, operation in operations(document):
        success = next(iter(operation["responses"].values()))
        has_pagination = "x-pagination" in success.get("headers", {})
        assert has_pagination == ((method, path) in paged), (method, path)
        names = [
            p.get("name") or p["$ref"].rsplit("/", 1)[-1] for p in operation.get("parameters", [])
        ]
        assert ("page" in names) == ("pageSize" in names) == has_pagination
        assert ("sortBy" in names) == (has_pagination and (method, path) not in fixed_order)


def test_responses(document: dict[str, Any]) -> None:
    paths = document["paths"]
    batch = paths["/provider-credentialing/{providerCredKey}/licenses-batch"]["put"]
    envelope = batch["responses"]["207"]["content"]["application/json"]["schema"]
    assert envelope["required"] == ["data", "error", "debug"]
    assert envelope["properties"]["data"]["items"] == {
        "$ref": "#/components/schemas/BatchItemResult"
    }
    assert batch["responses"]["404"] == {"$ref": "#/components/responses/Error404"}
    delete = paths["/credentialing-license-types/{credLicenseTypeKey}"]["delete"]
    assert "content" not in delete["responses"]["204"]
    assert "409" in delete["responses"]
    problem = document["components"]["schemas"]["Problem"]
    assert set(problem["required"]) == {"type", "title", "status", "detail", "instance"}
    assert problem["properties"]["errors"]["additionalProperties"]["items"]["type"] == "string"


def test_entity_schemas_come_from_the_marshmallow_schemas(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    inputs = schemas["ProviderCredLicenseInput"]
    declared = [f.data_key for f in LicenseSchema().load_fields.values()]
    assert list(inputs["properties"])[: len(declared)] == declared
    assert inputs["required"] == ["providerCredLicense_Key", "providerCred_Key"]
    assert inputs["additionalProperties"] is False
    assert inputs["properties"]["entry_Date"]["readOnly"] is True
    assert inputs["properties"]["license_Number"] == {
        "type": ["string", "null"],
        "default": None,
        "maxLength": 50,
    }
    assert inputs["properties"]["providerCredLicense_Key"] == {
        "type": "integer",
        "format": "int32",
        "minimum": -(2**31),
        "maximum": 2**31 - 1,
    }
    outputs = schemas["ProviderCredLicense"]
    assert list(outputs["properties"]) == list(LicenseOutSchema().fields)
    assert outputs["required"] == list(LicenseOutSchema().fields)
    assert outputs["properties"]["psV_Date"] == {"type": ["string", "null"], "format": "date-time"}


def test_real_responses_match_the_documented_shapes(
    client: Any,
    document: dict[str, Any],
    auth_headers: Callable[..., dict[str, str]],
    make_cred: Callable[..., int],
) -> None:
    headers = auth_headers()
    make_cred(1)
    items = [{"providerCredLicense_Key": 1, "providerCred_Key": 1}, {"state": "ZZ"}]
    batch = client.put(
        "/provider-credentialing/1/licenses-batch?dryRun=true", json=items, headers=headers
    )
    for item in batch.get_json()["data"]:
        validator(document, "BatchItemResult").validate(item)
    missing = client.get("/provider-credentialing/2/licenses", headers=headers)
    validator(document, "ErrorEnvelope").validate(missing.get_json())
    invalid = client.post("/provider-credentialing/1/licenses", json={}, headers=headers)
    assert invalid.get_json()["error"]["errors"]
    validator(document, "ErrorEnvelope").validate(invalid.get_json())


def test_the_document_is_built_once(app: Any, client: Any) -> None:
    first = client.get("/openapi.json").data
    assert app.extensions["credgrid.openapi"] == first.decode()
    assert client.get("/openapi.json").data == first


def test_sort_by_pattern_takes_what_the_server_takes(
    client: Any,
    document: dict[str, Any],
    auth_headers: Callable[..., dict[str, str]],
    make_cred: Callable[..., int],
) -> None:
    """Field names are matched case-insensitively (SPEC section 3), so VBAPI's own spelling
    (`Property1:desc`, its sortBy example) works; a client generated from the document checks
    `pattern` before it sends, so the pattern must not refuse what the server takes."""
    headers = auth_headers()
    make_cred(1)
    path = "/provider-credentialing/{providerCredKey}/licenses"
    parameter = next(
        p for p in document["paths"][path]["get"]["parameters"] if p.get("name") == "sortBy"
    )
    check = jsonschema_rs.Draft202012Validator(parameter["schema"])
    for value in (
        "license_Number:desc",
        "License_Number:DESC",
        "STATE",
        "state:Asc,psv_date:desc",
        "state:asc, license_Number : desc",
        "",
    ):
        answer = client.get(
            path.format(providerCredKey=1), query_string={"sortBy": value}, headers=headers
        )
        assert answer.status_code == 200, (value, answer.get_json())
        assert check.is_valid(value), value
    for value in ("nope", "state:up", "state;desc"):
        answer = client.get(
            path.format(providerCredKey=1), query_string={"sortBy": value}, headers=headers
        )
        assert answer.status_code == 400, value
        assert not check.is_valid(value), value


def test_every_operation_on_a_database_declares_503(document: dict[str, Any]) -> None:
    """An unavailable database is a 503 with Retry-After on every route that reads one
    (docs/api.md, Errors); a generated client knows only the statuses the document declares."""
    expected = {"$ref": "#/components/responses/Error503"}
    for method, path, operation in operations(document):
        if (method, path) not in PUBLIC:
            assert operation["responses"].get("503") == expected, (method, path)
    unavailable = document["components"]["responses"]["Error503"]
    assert "Retry-After" in unavailable["headers"]
    assert unavailable["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ErrorEnvelope"
    }


def test_the_healthz_503_declares_retry_after(document: dict[str, Any]) -> None:
    unavailable = document["paths"]["/healthz"]["get"]["responses"]["503"]
    assert unavailable["headers"]["Retry-After"] == {"$ref": "#/components/headers/Retry-After"}
    assert "Retry-After" not in document["paths"]["/healthz"]["get"]["responses"]["200"]["headers"]


def test_a_batch_409_declares_retry_after(document: dict[str, Any]) -> None:
    """A batch whose Idempotency-Key is still held by a running request is a 409 with
    Retry-After (docs/api.md, Rate limit and Safe retries), as 429 and 503 are."""
    conflict = document["components"]["responses"]["Error409"]
    assert "Retry-After" in conflict["headers"]
    assert "Idempotency-Key" in conflict["description"]
    batch = document["paths"]["/provider-credentialing/{providerCredKey}/licenses-batch"]["put"]
    assert batch["responses"]["409"] == {"$ref": "#/components/responses/Error409"}
