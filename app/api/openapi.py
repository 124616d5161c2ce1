"""``GET /openapi.json``: the OpenAPI 3.1 document, generated from the app's routes and schemas.

Every API route of the URL map is described by the ``Operation`` its view declares
(``app.api.operations``); request and response bodies are the marshmallow schemas the views
load and dump, converted by apispec's MarshmallowPlugin. Routes are listed once, at the root;
the ``servers`` entries say they are also served under ``/vbasoftware``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Blueprint, Flask, Response, current_app
from flask_limiter.constants import HeaderNames
from marshmallow import Schema, fields
from werkzeug.routing import Rule

from app.activity import ACTIVITY_HEADER
from app.api.envelope import JSON_MIMETYPE
from app.api.idempotency import REPLAYED_HEADER
from app.api.operations import Operation, documented, operation_of
from app.api.paging import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, PAGINATION_HEADER
from app.api.paths import VBAPI_PREFIX, is_api_path
from app.api.rate_limit import LIMITER_RETRY_AFTER_HEADER, UNLIMITED_PATHS
from app.api.requests import API_KEY_HEADER
from app.api.wire_schemas import (
    AuthenticationResultSchema,
    AuthenticationSchema,
    BatchItemIdSchema,
    BatchItemResultSchema,
    DebugSchema,
    HealthSchema,
    ProblemSchema,
)
from app.credentials.schemas import ProviderCredOutSchema, ProviderCredSchema
from app.history.service import LicenseChangeSchema
from app.license_types.schemas import LicenseTypeOutSchema, LicenseTypeSchema
from app.licenses.expiry import (
    BUCKETS,
    EXPIRY_WINDOWS,
    ExpirableLicenseSchema,
    ExpirablesSchema,
    ExpiryCountsSchema,
)
from app.licenses.schemas import LicenseOutSchema, LicenseSchema
from app.monitoring.schemas import (
    MonitoringRunDetailSchema,
    MonitoringRunSchema,
    RunCountsSchema,
    RunLicenseSchema,
)
from app.tenancy import DATABASE_HEADER
from app.wire.fields import (
    INT32_MAX,
    INT32_MIN,
    USPS_STATE_CODES,
    Int32,
    StateCode,
    Text,
    WireDateTime,
)
from app.wire.records import AUDIT_FIELDS, ClientRecordSchema

bp = Blueprint("openapi", __name__)

OPENAPI_VERSION = "3.1.0"
CACHE_KEY = "credgrid.openapi"

#: component name of each schema; outputs first, their inputs beside them.
SCHEMA_NAMES: dict[type[Schema], str] = {
    LicenseOutSchema: "ProviderCredLicense",
    LicenseSchema: "ProviderCredLicenseInput",
    ProviderCredOutSchema: "ProviderCred",
    ProviderCredSchema: "ProviderCredInput",
    LicenseTypeOutSchema: "CredLicenseType",
    LicenseTypeSchema: "CredLicenseTypeInput",
    LicenseChangeSchema: "LicenseChange",
    ExpirableLicenseSchema: "ExpirableLicense",
    ExpiryCountsSchema: "ExpiryCounts",
    ExpirablesSchema: "Expirables",
    RunCountsSchema: "MonitoringRunCounts",
    RunLicenseSchema: "MonitoringRunLicense",
    MonitoringRunSchema: "MonitoringRun",
    MonitoringRunDetailSchema: "MonitoringRunDetail",
    BatchItemIdSchema: "BatchItemId",
    BatchItemResultSchema: "BatchItemResult",
    AuthenticationResultSchema: "AuthenticationResult",
    AuthenticationSchema: "Authentication",
    HealthSchema: "Health",
    DebugSchema: "Debug",
    ProblemSchema: "Problem",
}
#: records the API writes: every field is always present (but ``OCCASIONAL_FIELDS``).
OUTPUT_SCHEMAS: dict[type[Schema], type[Schema] | None] = {
    LicenseOutSchema: LicenseSchema,
    ExpirableLicenseSchema: LicenseSchema,
    ProviderCredOutSchema: ProviderCredSchema,
    LicenseTypeOutSchema: LicenseTypeSchema,
    LicenseChangeSchema: None,
    MonitoringRunSchema: None,
    MonitoringRunDetailSchema: None,
    RunCountsSchema: None,
    RunLicenseSchema: None,
}
#: output fields written on some records only (each field's description says when).
OCCASIONAL_FIELDS: dict[type[Schema], frozenset[str]] = {
    LicenseChangeSchema: frozenset({"storedAt", "storedChanges"}),
}
#: what an output field may copy from the input field of the same name.
_SHARED_KEYWORDS = ("format", "minimum", "maximum", "maxLength", "minLength", "enum")

_INT32 = {"type": "integer", "format": "int32", "minimum": INT32_MIN, "maximum": INT32_MAX}

#: Flask path argument → (OpenAPI name, schema, description). Examples name demo data.
PATH_PARAMETERS: dict[str, tuple[str, dict[str, Any], str]] = {
    "provider_cred_key": (
        "providerCredKey",
        {**_INT32, "examples": [1001]},
        "The ProviderCred (credentialing process).",
    ),
    "provider_cred_license_key": (
        "providerCredLicenseKey",
        {**_INT32, "examples": [510010]},
        "The license.",
    ),
    "cred_license_type_key": (
        "credLicenseTypeKey",
        {**_INT32, "examples": [1]},
        "The license type.",
    ),
    "monitoring_run_id": (
        "monitoringRunId",
        {**_INT32, "examples": [1]},
        "The monitoring run.",
    ),
    "provider_id": (
        "providerID",
        {"type": "string", "minLength": 1, "maxLength": 20, "examples": ["PRV01001"]},
        "The provider; surrounding white space is ignored.",
    ),
}

QUERY_PARAMETERS: dict[str, dict[str, Any]] = {
    "page": {
        "name": "page",
        "in": "query",
        "description": "Page number, from 1.",
        "schema": {"type": "integer", "minimum": 1, "maximum": INT32_MAX, "default": 1},
    },
    "pageSize": {
        "name": "pageSize",
        "in": "query",
        "description": f"Records per page, 1 to {MAX_PAGE_SIZE}.",
        "schema": {
            "type": "integer",
            "minimum": 1,
            "maximum": MAX_PAGE_SIZE,
            "default": DEFAULT_PAGE_SIZE,
        },
    },
    "atomic": {
        "name": "atomic",
        "in": "query",
        "description": "All or nothing: if any item fails, nothing is written and every "
        "other item answers 424 `Not applied`.",
        "schema": {"type": "boolean", "default": False},
    },
    "dryRun": {
        "name": "dryRun",
        "in": "query",
        "description": "Run every check and answer as if written, with each item's "
        "`changes`; nothing is written.",
        "schema": {"type": "boolean", "default": False},
    },
    "within": {
        "name": "within",
        "in": "query",
        "description": "Without `bucket`: list licenses expired or expiring within this many days.",
        "schema": {"type": "integer", "enum": list(EXPIRY_WINDOWS), "default": EXPIRY_WINDOWS[-1]},
    },
    "bucket": {
        "name": "bucket",
        "in": "query",
        "description": "List only the licenses of this bucket.",
        "schema": {"type": "string", "enum": list(BUCKETS)},
    },
    "state": {
        "name": "state",
        "in": "query",
        "description": "Only licenses of this state (two-letter USPS code); the counts too.",
        "schema": {"type": "string", "enum": sorted(USPS_STATE_CODES)},
    },
    "credLicenseType_Key": {
        "name": "credLicenseType_Key",
        "in": "query",
        "description": "Only licenses of this license type; the counts too.",
        "schema": _INT32,
    },
}

HEADER_PARAMETERS: dict[str, dict[str, Any]] = {
    "database": {
        "name": DATABASE_HEADER,
        "in": "header",
        "required": True,
        "description": "The configured database to work in; keys, tokens and data are per "
        "database.",
        "schema": {"type": "string", "minLength": 1, "examples": ["demo"]},
    },
    "clientId": {
        "name": "vbasoftware-client-id",
        "in": "header",
        "description": "Sent by generated VBAPI clients; accepted and ignored.",
        "schema": {"type": "string"},
    },
    "clientCode": {
        "name": "vbasoftware-client-code",
        "in": "header",
        "description": "Sent by generated VBAPI clients; accepted and ignored.",
        "schema": {"type": "string"},
    },
    "idempotencyKey": {
        "name": "Idempotency-Key",
        "in": "header",
        "description": "Safe retries: the same key with the same request replays the stored "
        "answer (header Idempotent-Replayed: true) without writing; with a different request "
        "→ 422; while the first is still running → 409. Kept 24 h per API key.",
        "schema": {"type": "string", "pattern": "^[\\x21-\\x7e]{1,255}$"},
    },
    "expiredIdToken": {
        "name": "expired-id-token",
        "in": "header",
        "required": True,
        "description": "The idToken to renew (it may have expired).",
        "schema": {"type": "string"},
    },
    "refreshToken": {
        "name": "refresh-token",
        "in": "header",
        "required": True,
        "description": "The refreshToken of the last authentication result (single use).",
        "schema": {"type": "string"},
    },
}

#: The statuses that say when to try again (a 503 of /healthz too).
RETRY_AFTER_STATUSES = (409, 429, 503)
#: Flask-Limiter's headers, on every answer of an operation the rate limit counts (every one
#: but ``UNLIMITED_PATHS``), errors included: name → description.
RATE_LIMIT_HEADERS: dict[str, str] = {
    HeaderNames.LIMIT.value: "Requests allowed in the limit's window (FLASK_RATE_LIMIT).",
    HeaderNames.REMAINING.value: "Requests left in the current window.",
    HeaderNames.RESET.value: "When the current window ends, in seconds since the Unix epoch.",
    LIMITER_RETRY_AFTER_HEADER: "Whole seconds until the window ends (the answer's "
    "Retry-After when it has one), at least 1 on a refusal.",
}
#: Headers some error answers carry besides the activity id and the rate limit's.
ERROR_HEADERS: dict[int, tuple[str, ...]] = {
    401: ("WWW-Authenticate",),
    405: ("Allow",),
    415: ("Accept-Encoding",),
    **{status: ("Retry-After",) for status in RETRY_AFTER_STATUSES},
}

ERROR_DESCRIPTIONS = {
    400: "Bad request: database header missing or unknown, body not JSON, a query "
    "parameter or the record invalid (`errors` names each field).",
    401: "Missing or invalid credentials.",
    403: "The user has the viewer role and cannot write.",
    404: "No such record (or no such route).",
    405: "The path exists but not with this method; `Allow` lists its methods. No operation "
    "answers it (a method the document declares is allowed): it is the answer to a method the "
    "document does not list for a path.",
    409: "Conflict: the key exists already, or the record is still in use; on a batch, also "
    "an Idempotency-Key whose first request is still running (retry after Retry-After).",
    413: "The body is too large, or the batch has too many items.",
    415: (
        "The body is not JSON (Content-Type application/json, text/json or application/*+json), "
        "or is compressed (a Content-Encoding other than identity)."
    ),
    422: "The Idempotency-Key was already used with a different request.",
    429: "Too many requests for this API key, or failed authentications from this address.",
    500: "Unexpected error; the detail names the activity id to look up in the log.",
    503: "The database is unavailable, its schema is behind this version, or a batch lost its "
    "keys to other writers three times; retry after Retry-After.",
}

SECURITY: dict[str, list[dict[str, list[str]]]] = {
    "data": [{"apiKeyAuth": [], "bearerAuth": []}],
    "login": [{"apiKeyAuth": [], "basicAuth": []}],
    "refresh": [{"apiKeyAuth": []}],
    "none": [],
}

#: Operations of views that live outside the API packages.
ENDPOINT_OPERATIONS: dict[str, Operation] = {
    "auth_api.user_authentication": Operation(
        summary="Log in",
        description="`Authorization: Basic base64(user:password)` with the API key; answers "
        "an idToken to send as `Authorization: Bearer` (the body, if any, is ignored).",
        tag="Authentication",
        status=200,
        shape="one",
        schema=AuthenticationSchema,
        security="login",
        headers=("clientId", "clientCode"),
    ),
    "auth_api.user_refresh_tokens": Operation(
        summary="Renew the tokens",
        description="A refresh token is single use and lives 30 days, bound to its user and "
        "database.",
        tag="Authentication",
        status=200,
        shape="one",
        schema=AuthenticationSchema,
        security="refresh",
        headers=("expiredIdToken", "refreshToken"),
    ),
    "health.healthz": Operation(
        summary="Health of every configured database",
        description="No authentication. 503 when any database fails.",
        tag="Service",
        status=200,
        shape="one",
        schema=HealthSchema,
        security="none",
        other_statuses=((503, "At least one database failed; the body says which."),),
    ),
}

_RULE_ARGUMENT = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")


@bp.get("/openapi.json")
@documented(
    summary="This OpenAPI document",
    tag="Service",
    status=200,
    shape="raw",
    security="none",
)
def openapi_json() -> Response:
    document = current_app.extensions.get(CACHE_KEY)
    if document is None:
        document = json.dumps(build_openapi(current_app), ensure_ascii=False)
        current_app.extensions[CACHE_KEY] = document
    return Response(document, mimetype=JSON_MIMETYPE)


def build_openapi(app: Flask) -> dict[str, Any]:
    """The OpenAPI 3.1 document of every documented API route of ``app``."""
    plugin = MarshmallowPlugin(schema_name_resolver=_schema_name)
    spec = APISpec(
        title="credgrid",
        version=_package_version(),
        openapi_version=OPENAPI_VERSION,
        plugins=[plugin],
        info={"description": _INFO},
        servers=[
            {"url": "/", "description": "The root"},
            {"url": VBAPI_PREFIX, "description": "VBAPI's base path (same routes)"},
        ],
    )
    _teach_custom_fields(plugin)
    _add_components(spec)
    paths: dict[str, dict[str, Any]] = {}
    parameters: dict[str, list[dict[str, Any]]] = {}
    for rule, operation in documented_rules(app):
        path, path_parameters = openapi_path(rule)
        parameters[path] = path_parameters
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            view = app.view_functions[rule.endpoint]
            paths.setdefault(path, {})[method.lower()] = _operation(
                view.__name__, operation, bool(path_parameters), rule.rule not in UNLIMITED_PATHS
            )
    for path in sorted(paths):
        spec.path(path=path, operations=paths[path], parameters=parameters[path])
    document = spec.to_dict()
    _finish_schemas(document["components"]["schemas"])
    return document


def documented_rules(app: Flask) -> Iterable[tuple[Rule, Operation]]:
    """The root-level API rules with their operations (the ``/vbasoftware`` copies left out)."""
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("vbapi_") or not is_api_path(rule.rule):
            continue
        operation = operation_of(app.view_functions[rule.endpoint]) or ENDPOINT_OPERATIONS.get(
            rule.endpoint
        )
        if operation is not None:
            yield rule, operation


def undocumented_api_rules(app: Flask) -> list[str]:
    """API routes that declare no operation: each is a gap in the document."""
    documented_endpoints = {rule.endpoint for rule, _ in documented_rules(app)}
    return sorted(
        rule.rule
        for rule in app.url_map.iter_rules()
        if is_api_path(rule.rule)
        and rule.endpoint != "static"
        and not rule.endpoint.startswith("vbapi_")
        and rule.endpoint not in documented_endpoints
    )


def openapi_path(rule: Rule) -> tuple[str, list[dict[str, Any]]]:
    """``/x/<int32:provider_cred_key>`` → ``/x/{providerCredKey}`` and its parameters."""
    parameters: list[dict[str, Any]] = []

    def replace(match: re.Match[str]) -> str:
        name, schema, description = PATH_PARAMETERS[match.group(1)]
        parameters.append(
            {
                "name": name,
                "in": "path",
                "required": True,
                "description": description,
                "schema": schema,
            }
        )
        return "{" + name + "}"

    return _RULE_ARGUMENT.sub(replace, rule.rule), parameters


# ---------------------------------------------------------------------------------------------
# Operations


def _operation(
    view_name: str, op: Operation, has_path_parameters: bool, limited: bool
) -> dict[str, Any]:
    # A name is a reference to a parameter component.
    parameters: list[dict[str, Any] | str] = []
    if op.security != "none":
        parameters.append("database")
    parameters += op.headers
    if op.paged:
        parameters += ["page", "pageSize"]
        if op.sort_by:
            parameters.append(_sort_by_parameter(op))
    parameters += op.query
    if op.shape == "batch":
        parameters.append("idempotencyKey")

    result: dict[str, Any] = {
        "operationId": _camel(view_name),
        "summary": op.summary,
        "tags": [op.tag],
        "security": SECURITY[op.security],
        "responses": {str(op.status): _success(op, limited)},
    }
    if op.description:
        result["description"] = op.description
    if parameters:
        result["parameters"] = parameters
    if op.body is not None:
        body_schema = _ref("schemas", SCHEMA_NAMES[op.body])
        if op.body_is_array:
            body_schema = {"type": "array", "items": body_schema}
        result["requestBody"] = {
            "required": True,
            "content": {JSON_MIMETYPE: {"schema": body_schema}},
        }
    for status, description in op.other_statuses:
        response = {**_success(op, limited), "description": description}
        if status in RETRY_AFTER_STATUSES:
            response["headers"]["Retry-After"] = _ref("headers", "Retry-After")
        result["responses"][str(status)] = response
    for status in sorted(_error_statuses(op, has_path_parameters)):
        result["responses"][str(status)] = _ref("responses", f"Error{status}")
    return result


def _error_statuses(op: Operation, has_path_parameters: bool) -> set[int]:
    statuses = {500, *op.errors}
    if op.security != "none":
        statuses |= {400, 401, 429, 503}
    if op.writes:
        statuses.add(403)
    if op.body is not None:
        statuses |= {400, 413, 415}
    if op.query or op.paged:
        statuses.add(400)
    if op.shape == "batch":
        statuses |= {409, 422}
    if has_path_parameters:
        statuses.add(404)
    return statuses


def _rate_limit_headers() -> dict[str, dict[str, str]]:
    return {name: _ref("headers", name) for name in RATE_LIMIT_HEADERS}


def _success(op: Operation, limited: bool) -> dict[str, Any]:
    headers = {ACTIVITY_HEADER: _ref("headers", ACTIVITY_HEADER)}
    if limited:
        headers |= _rate_limit_headers()
    if op.shape == "empty":
        return {"description": "Done; no content.", "headers": headers}
    if op.paged:
        headers[PAGINATION_HEADER] = _ref("headers", PAGINATION_HEADER)
    if op.shape == "raw":
        schema: dict[str, Any] = {"type": "object"}
        description = "The document itself (no envelope)."
    else:
        assert op.schema is not None
        data = _ref("schemas", SCHEMA_NAMES[op.schema])
        if op.shape in ("many", "batch"):
            data = {"type": "array", "items": data}
        schema = _envelope(data, {"type": "null"})
        description = "Multi-status: one result per item." if op.shape == "batch" else "OK"
        if op.shape == "batch":
            headers[REPLAYED_HEADER] = _ref("headers", REPLAYED_HEADER)
    return {
        "description": description,
        "headers": headers,
        "content": {JSON_MIMETYPE: {"schema": schema}},
    }


def _sort_by_parameter(op: Operation) -> dict[str, Any]:
    assert op.schema is not None
    names = list(op.sortable or op.schema().fields)
    # What paging.requested_sort takes: names and directions in any case (JSON Schema patterns
    # have no flags, so each letter is a class), spaces around each, empty parts skipped.
    field = "|".join(_any_case(n) for n in names)
    part = f"( *(({field}) *(: *({_any_case('asc')}|{_any_case('desc')})? *)?)?)"
    return {
        "name": "sortBy",
        "in": "query",
        "description": "Comma-separated `field:asc` / `field:desc` (asc when omitted); field "
        f"names are matched case-insensitively: {', '.join(names)}.",
        "schema": {"type": "string", "pattern": f"^{part}(,{part})*$"},
        "examples": {"byKeyDesc": {"value": f"{names[0]}:desc"}},
    }


def _any_case(name: str) -> str:
    """A regular expression matching ``name`` in any case: ``st`` → ``[sS][tT]``."""
    return "".join(
        f"[{c.lower()}{c.upper()}]" if c.lower() != c.upper() else re.escape(c) for c in name
    )


def _envelope(data: dict[str, Any], error: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["data", "error", "debug"],
        "properties": {"data": data, "error": error, "debug": _ref("schemas", "Debug")},
    }


# ---------------------------------------------------------------------------------------------
# Components


def _add_components(spec: APISpec) -> None:
    for schema, name in SCHEMA_NAMES.items():
        spec.components.schema(name, schema=schema)
    spec.components.security_scheme(
        "apiKeyAuth",
        {"type": "apiKey", "in": "header", "name": API_KEY_HEADER, "description": "API key."},
    )
    spec.components.security_scheme(
        "bearerAuth",
        {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "The idToken from POST /user-authentication.",
        },
    )
    spec.components.security_scheme(
        "basicAuth",
        {"type": "http", "scheme": "basic", "description": "Username and password (login)."},
    )
    for name, parameter in {**QUERY_PARAMETERS, **HEADER_PARAMETERS}.items():
        spec.components.parameter(name, parameter["in"], parameter)
    spec.components.header(
        ACTIVITY_HEADER,
        {
            "description": "This request's id; it is also in its server log line.",
            "required": True,
            "schema": {"type": "string", "format": "uuid"},
        },
    )
    spec.components.header(
        PAGINATION_HEADER,
        {
            "description": 'JSON: {"TotalCount", "TotalPages", "CurrentPage", "PageSize"}.',
            "required": True,
            "schema": {"type": "string"},
            "example": '{"TotalCount":3,"TotalPages":1,"CurrentPage":1,"PageSize":100}',
        },
    )
    spec.components.header(
        "WWW-Authenticate", {"description": "The scheme expected.", "schema": {"type": "string"}}
    )
    spec.components.header(
        REPLAYED_HEADER,
        {
            "description": "`true` when this is the stored answer to a repeated Idempotency-Key.",
            "schema": {"type": "string", "enum": ["true"]},
        },
    )
    spec.components.header(
        "Retry-After", {"description": "Seconds to wait.", "schema": {"type": "string"}}
    )
    spec.components.header(
        "Allow",
        {
            "description": "The methods the path answers.",
            "required": True,
            "schema": {"type": "string"},
            "example": "GET, HEAD, OPTIONS, POST",
        },
    )
    spec.components.header(
        "Accept-Encoding",
        {
            "description": "On a compressed body's 415: `identity`, the only coding taken.",
            "schema": {"type": "string", "enum": ["identity"]},
        },
    )
    for name, description in RATE_LIMIT_HEADERS.items():
        spec.components.header(
            name,
            {
                "description": f"{description} On every answer of an operation the rate limit "
                "counts (all but " + " and ".join(UNLIMITED_PATHS) + ").",
                "schema": {"type": "string", "pattern": "^[0-9]+$"},
            },
        )
    problem_envelope = _envelope({"type": "null"}, _ref("schemas", "Problem"))
    spec.components.schema("ErrorEnvelope", problem_envelope)
    for status, description in ERROR_DESCRIPTIONS.items():
        headers = {ACTIVITY_HEADER: _ref("headers", ACTIVITY_HEADER)}
        for name in ERROR_HEADERS.get(status, ()):
            headers[name] = _ref("headers", name)
        if status != 405:  # refused by the routing, before the rate limit is counted
            headers |= _rate_limit_headers()
        spec.components.response(
            f"Error{status}",
            {
                "description": description,
                "headers": headers,
                "content": {JSON_MIMETYPE: {"schema": _ref("schemas", "ErrorEnvelope")}},
            },
        )


def _teach_custom_fields(plugin: MarshmallowPlugin) -> None:
    """field2property mappings of the fields in ``app.wire.fields``."""
    plugin.map_to_openapi_type(Int32, "integer", "int32")
    converter = plugin.converter
    assert converter is not None

    def credgrid_field_rules(self: Any, field: fields.Field, **_kwargs: Any) -> dict[str, Any]:
        if isinstance(field, Int32):
            return {"minimum": INT32_MIN, "maximum": INT32_MAX}
        if isinstance(field, StateCode):
            return {
                "enum": [*sorted(USPS_STATE_CODES), *([None] if field.allow_none else [])],
                "description": "USPS code: the 50 states, DC, AS, GU, MP, PR, VI (accepted in "
                "any case; stored upper-case).",
            }
        if isinstance(field, Text):
            rules: dict[str, Any] = {"maxLength": field.max_length}
            if not field.blank_is_null:
                rules["minLength"] = 1
            return rules
        if isinstance(field, WireDateTime) and isinstance(
            field.parent, ClientRecordSchema | LicenseSchema
        ):
            return {
                "description": "ISO 8601 (a plain date is midnight UTC, no offset is UTC) "
                "or `2024-01-01 00:00:00 UTC`; stored in UTC to the second."
            }
        return {}

    converter.add_attribute_function(credgrid_field_rules)


def _finish_schemas(schemas: dict[str, dict[str, Any]]) -> None:
    """Outputs: every field required (but the occasional ones), integer and length rules
    shared with the input. Inputs: the server-stamped audit fields, which are accepted and
    ignored."""
    for output, source in OUTPUT_SCHEMAS.items():
        component = schemas[SCHEMA_NAMES[output]]
        occasional = OCCASIONAL_FIELDS.get(output, frozenset())
        component["required"] = [name for name in component["properties"] if name not in occasional]
        if source is None:
            continue
        input_properties = schemas[SCHEMA_NAMES[source]]["properties"]
        for name, prop in component["properties"].items():
            for keyword in _SHARED_KEYWORDS:
                if keyword in input_properties.get(name, {}):
                    prop[keyword] = input_properties[name][keyword]
    for source in {s for s in OUTPUT_SCHEMAS.values() if s is not None}:
        component = schemas[SCHEMA_NAMES[source]]
        for name in AUDIT_FIELDS:
            component["properties"][name] = {
                "readOnly": True,
                "description": "Set by the server; ignored on input without being parsed.",
            }


def _schema_name(schema: type[Schema] | Schema) -> str:
    cls = schema if isinstance(schema, type) else type(schema)
    return SCHEMA_NAMES[cls]


def _ref(kind: str, name: str) -> dict[str, str]:
    return {"$ref": f"#/components/{kind}/{name}"}


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _package_version() -> str:
    try:
        return version("credgrid")
    except PackageNotFoundError:
        return "0"


_INFO = """\
Provider-credentialing licenses, wire-compatible with VBA Software's VBAPI \
("Provider Credentialing Licenses").

* Every route is served at the root and again under `/vbasoftware`.
* Every request names its database in the `vbasoftware-database` header.
* Data routes need both an API key (`x-api-key`) and `Authorization: Bearer <idToken>` \
from `POST /user-authentication`.
* Every response with a body is the envelope `{"data", "error", "debug": {"activityID"}}`; \
on error `data` is null and `error` is an RFC 9457 problem object whose `errors` names each \
invalid field.
"""
