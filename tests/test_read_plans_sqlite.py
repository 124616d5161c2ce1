"""The expiry lists and the credential search read SQLite's license table through an index.

SQLite's counterpart of ``tests/test_read_plans.py``: every request below runs through the app
while its statements are recorded, and each is then explained (``EXPLAIN QUERY PLAN``) with the
parameters it ran with. A ``SCAN`` of the license table reads every license, so a request that
shows one a page or a count takes time in proportion to the table: at 200,000 licenses each
expiry page took 181–283 ms and a search by license number 210–348 ms (docs/operations.md).
SQLite's plans do not depend on the table's size (no ``ANALYZE`` is run), so a few licenses
are enough to see them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import event, text

from app.licenses.expiry import BUCKETS
from app.tenancy import engine_for, session_scope
from tests.api_support import data

LICENSE_TABLE = "provider_cred_license"
UI_PASSWORD = "plans-password-1"
API_PATHS = [
    "/licenses/expirables",
    "/licenses/expirables?state=TX",
    "/licenses/expirables?credLicenseType_Key=1",
    *(f"/licenses/expirables?bucket={bucket}" for bucket in BUCKETS),
]
UI_PATHS = [
    "/ui/licenses/expiring",
    "/ui/licenses/expiring?show=psv",
    "/ui/credentials?q=tx-000000001",
]


@pytest.fixture
def sqlite_only(backend: str) -> None:
    if backend != "sqlite":
        pytest.skip("SQLite's plans; PostgreSQL's are tests/test_read_plans.py")


def recorded_plans(app: Any, requests: Callable[[], None]) -> list[tuple[str, list[str]]]:
    """Each statement ``requests`` ran on the main database, with its plan's lines."""
    with app.app_context():
        engine = engine_for("main")
    ran: list[tuple[str, Any]] = []

    def listener(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            ran.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", listener)
    try:
        requests()
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    plans = []
    with engine.connect() as connection:
        for statement, parameters in ran:
            rows = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
            plans.append((statement, [row[3] for row in rows]))
    return plans


def license_scans(plans: list[tuple[str, list[str]]]) -> list[tuple[str, list[str]]]:
    """The statements whose plan reads the whole license table (with or without an index)."""
    return [
        (statement, lines)
        for statement, lines in plans
        if any(line.startswith(f"SCAN {LICENSE_TABLE}") for line in lines)
    ]


def test_expiry_lists_and_the_license_number_search_use_an_index(
    sqlite_only: None,
    app: Any,
    client: Any,
    auth_headers: Callable[..., dict[str, str]],
    make_cred: Callable[..., int],
    make_user: Callable[..., str],
) -> None:
    make_cred(1)
    headers = auth_headers()
    put = client.put(
        "/provider-credentialing/1/licenses-batch",
        json=[
            {"providerCredLicense_Key": 1, "providerCred_Key": 1, "license_Number": "TX-1"},
            {"providerCredLicense_Key": 2, "providerCred_Key": 1, "state": "TX"},
        ],
        headers=headers,
    )
    assert put.status_code == 207, put.data
    make_user("planner", UI_PASSWORD)
    ui = app.test_client()
    login = {"username": "planner", "password": UI_PASSWORD, "database": "main"}
    assert ui.post("/ui/login", data=login).status_code == 302

    def requests() -> None:
        for path in API_PATHS:
            response = client.get(path, headers=headers)
            assert response.status_code == 200, (path, response.data)
            assert "counts" in data(response)
        for path in UI_PATHS:
            assert ui.get(path).status_code == 200, path

    scans = license_scans(recorded_plans(app, requests))
    assert not scans, "\n\n".join(f"{s}\n  {lines}" for s, lines in scans)


def test_the_check_would_see_a_scan_of_the_license_table(sqlite_only: None, app: Any) -> None:
    def requests() -> None:
        with app.app_context(), session_scope("main") as session:
            session.execute(text(f"SELECT count(*) FROM {LICENSE_TABLE} WHERE state = 'TX'"))

    assert license_scans(recorded_plans(app, requests))
