"""Schemathesis, in process, against every operation of /openapi.json (SQLite and PostgreSQL).

``.ci/contract`` runs the long version against gunicorn; this one is small enough for every
test run and also covers PostgreSQL. Each operation gets positive and negative cases, half with
the path naming seeded records, all with real credentials, and the four conformance checks.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from app.audit import utcnow
from app.auth.tokens import mint_token_for
from app.demo.seed import seed_demo_data
from app.monitoring.service import record_run

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
MAX_EXAMPLES = 20
SEEDED_PATHS = {
    "providerCredKey": 1001,
    "providerCredLicenseKey": 510010,
    "providerID": "PRV01001",
    "credLicenseTypeKey": 1,
    "monitoringRunId": 1,
}
PASSWORD = "contract-password"


@pytest.fixture
def api(
    app: Any,
    client: Any,
    session_for: Callable[..., Any],
    make_user: Callable[..., str],
    make_api_key: Callable[..., str],
) -> tuple[Any, dict[str, dict[str, str]]]:
    """The loaded schema and, per security kind, the headers of a real client."""
    with session_for() as session:
        seed_demo_data(session, providers=2)
    with session_for() as session:
        record_run(session, now=utcnow(), ran_by="contract", psv_window_days=120)
    username = make_user("contract", PASSWORD)
    key = make_api_key()
    with session_for() as session:
        token = mint_token_for(session, app.config["SECRET_KEY"], username, "main", 3600, "id")
    basic = base64.b64encode(f"{username}:{PASSWORD}".encode()).decode()
    common = {"vbasoftware-database": "main", "x-api-key": key}
    headers = {
        "data": {**common, "Authorization": f"Bearer {token}"},
        "login": {**common, "Authorization": f"Basic {basic}"},
        "refresh": {**common, "expired-id-token": token},
        "none": {},
    }
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app)
    return schema, headers


def security_kind(operation: Any) -> str:
    requirements = operation.definition.raw.get("security", [])
    names = {name for requirement in requirements for name in requirement}
    if "bearerAuth" in names:
        return "data"
    if "basicAuth" in names:
        return "login"
    return "refresh" if names else "none"


def test_every_operation_conforms(api: tuple[Any, dict[str, dict[str, str]]]) -> None:
    schema, headers_by_kind = api
    operations = [result.ok() for result in schema.get_all_operations()]
    # Every operation of the document but GET /openapi.json, which schemathesis leaves out.
    assert len(operations) == 23
    assert "GET /openapi.json" not in {operation.label for operation in operations}
    for operation in operations:
        check_operation(operation, headers_by_kind[security_kind(operation)])


def check_operation(operation: Any, headers: dict[str, str]) -> None:
    path_names = {p.name for p in operation.path_parameters}
    seeded = {k: v for k, v in SEEDED_PATHS.items() if k in path_names}
    strategies = [
        operation.as_strategy(mode, headers=headers, path_parameters=paths)
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
        for paths in ({}, seeded)
    ]

    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=st.one_of(strategies))
    def conforms(case: Any) -> None:
        case.call_and_validate(headers=headers, checks=CHECKS)

    conforms()
