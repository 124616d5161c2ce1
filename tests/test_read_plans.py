"""Every read the API and the UI offer uses an index, however stale the statistics (PostgreSQL).

A database of 30,000 licenses is built set-wise (the benchmark's own generator) in a schema of
its own, with autovacuum off for it and never analysed: the planner has only its defaults, as
on a table just loaded. Every request below runs through the app while its statements are
recorded; each statement is then explained with the parameters it ran with. No plan may read
the license or the history table sequentially. At this size a one-sided comparison without
statistics (estimated at a third of the table) is planned as a sequential scan, so the test
fails when a filter loses its index or its closed range.
"""

from __future__ import annotations

import json
import math
import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import create_engine, event, text

from app.licenses.expiry import BUCKETS, SORT_COLUMNS
from app.licenses.schemas import LICENSE_OUT_SCHEMA
from app.schema import upgrade_database
from bench.scale_data import build
from tests.conftest import postgres_url

SCHEMA = "credgrid_test_plans"
LICENSES = 30_000
BIG_TABLES = ("provider_cred_license", "license_change")
USERNAME, PASSWORD = "planner", "planner-password-1"


@pytest.fixture(scope="module")
def loaded(backend: str) -> Iterator[tuple[Any, str]]:
    """The app on the freshly loaded, unanalysed database, and its database name."""
    if backend != "postgresql":
        pytest.skip("plans are checked on PostgreSQL")
    admin = create_engine(postgres_url("public"))
    with admin.begin() as connection:
        connection.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
        connection.execute(text(f"CREATE SCHEMA {SCHEMA}"))
    url = postgres_url(SCHEMA)
    engine = create_engine(url)
    upgrade_database(engine)
    with engine.begin() as connection:
        for table in BIG_TABLES:
            # autovacuum would analyse the new rows within a minute: keep the planner blind
            connection.execute(text(f"ALTER TABLE {table} SET (autovacuum_enabled = false)"))
        build(connection, LICENSES)
    with engine.connect() as connection:
        analysed = connection.execute(
            text("SELECT count(*) FROM pg_stats WHERE schemaname = :s"), {"s": SCHEMA}
        ).scalar()
        assert analysed == 0
    engine.dispose()

    from app import create_app
    from app.tenancy import session_scope

    app = create_app(
        {
            "TESTING": True,
            "DATABASES": {"plans": url},
            "SECRET_KEY": "plans-" + "x" * 40,
            "RATE_LIMIT": "1000000 per second",
        }
    )
    from app.auth.users import create_user

    with app.app_context(), session_scope("plans") as session:
        create_user(session, USERNAME, PASSWORD)
        session.commit()
    try:
        yield app, "plans"
    finally:
        from app.extensions import db

        with app.app_context():
            for bound in db.engines.values():
                bound.dispose()
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
        admin.dispose()


def api_headers(app: Any, database: str) -> dict[str, str]:
    from app.auth.keys import issue_api_key
    from app.auth.tokens import mint_token_for
    from app.tenancy import session_scope

    with app.app_context(), session_scope(database) as session:
        key = issue_api_key(session, f"plans-{uuid.uuid4().hex[:12]}")
        session.commit()
        token = mint_token_for(session, app.config["SECRET_KEY"], USERNAME, database, 600, "id")
    return {"x-api-key": key, "Authorization": f"Bearer {token}", "vbasoftware-database": database}


def ui_client(app: Any, database: str) -> Any:
    client = app.test_client()
    page = client.get("/ui/login").get_data(as_text=True)
    data = {"username": USERNAME, "password": PASSWORD, "database": database}
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    if token:
        data["csrf_token"] = token.group(1)
    assert client.post("/ui/login", data=data).status_code == 302
    return client


def api_paths(client: Any, headers: dict[str, str]) -> list[str]:
    """Every list, filter and sort of the API, first and last pages."""
    paths = [
        "/provider-credentialing/1/licenses",
        "/provider-credentialing/1/licenses/10",
        "/provider-credentialing/1/licenses/10/history",
        "/provider-credentialing/2/licenses/1001/history",
    ]
    paths += [
        f"/provider-credentialing/1/licenses?sortBy={name}:{direction}&page=3"
        for name in LICENSE_OUT_SCHEMA.fields
        for direction in ("asc", "desc")
    ]
    filters = ["", "&state=TX", "&credLicenseType_Key=3", "&state=CA&credLicenseType_Key=4"]
    sorts = [""] + [f"&sortBy={n}:{d}" for n in SORT_COLUMNS for d in ("asc", "desc")]
    for narrowing in filters:
        for within in ("", "&within=30"):
            paths.append(f"/licenses/expirables?pageSize=10{within}{narrowing}")
        for bucket in BUCKETS:
            base = f"/licenses/expirables?bucket={bucket}{narrowing}"
            total = json.loads(client.get(base, headers=headers).headers["x-pagination"])
            last = max(1, math.ceil(total["TotalCount"] / 100))
            for order in sorts if not narrowing else ["", "&sortBy=psV_Date:desc"]:
                paths += [f"{base}{order}&page=1", f"{base}{order}&page={last}"]
    return paths


def ui_paths(client: Any) -> list[str]:
    """Every page, filter and sort of the staff UI that reads licenses or history."""
    from app.ui.expiry import FILTERS, SORTS

    paths = [
        "/ui/credentials",
        "/ui/credentials?page=200",
        "/ui/credentials?q=PRV00000002",
        "/ui/credentials?q=2",
        "/ui/credentials?q=tx-000000001",
        "/ui/credentials/1/licenses",
        "/ui/credentials/2/licenses",
        "/ui/licenses/10/history",
        "/ui/integrity",
        "/ui/integrity?since=2025-01-01&until=2025-03-31",
        "/ui/integrity?since=2025-01-01&until=2025-03-31&from=2025-02-01T00:00:00",
        "/ui/integrity/csv?since=2025-01-01&until=2025-01-31",
        "/ui/integrity/csv?since=2025-01-01&until=2025-03-31&from=2025-02-01T00:00:00&to=2025-02-02T00:00:00",
        "/ui/integrity/csv-parts?since=2025-01-01&until=2025-03-31",
    ]
    for show in FILTERS:
        for sort in SORTS:
            for narrowing in ("", "&state=TX", "&type=3", "&state=CA&type=4"):
                base = f"/ui/licenses/expiring?show={show}&sort={sort}{narrowing}"
                paths += [base, f"{base}&page=100000"]
        paths.append(f"/ui/licenses/expiring.csv?show={show}&state=TX")
    return paths


def recorded_statements(app: Any, database: str, requests: list[tuple[Any, str, dict]]) -> Any:
    from app.tenancy import engine_for

    with app.app_context():
        engine = engine_for(database)
    seen: dict[tuple[str, str], tuple[str, Any, str]] = {}

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        if statement.lstrip().upper().startswith(("SELECT", "WITH")):
            key = (statement, repr(parameters))
            seen.setdefault(key, (statement, parameters, current_path))

    current_path = ""
    event.listen(engine, "before_cursor_execute", record)
    try:
        for client, path, headers in requests:
            current_path = path
            response = client.get(path, headers=headers)
            assert response.status_code == 200, (path, response.get_data(as_text=True)[:300])
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return engine, list(seen.values())


def sequential_scans(plan: list[str]) -> list[str]:
    return [
        line.strip()
        for line in plan
        if "Seq Scan" in line and any(f" on {table}" in line for table in BIG_TABLES)
    ]


def whole_index_walks(plan: list[str], tables: tuple[str, ...] = BIG_TABLES) -> list[str]:
    """Index scans of ``tables`` without an index condition: the whole index walked (in its
    order, filtered row by row), a sequential scan in disguise. On a large table the planner
    takes one to avoid a sort when it expects many rows to match, as a grid page ordered by
    key did through the primary key while the ProviderCred's index lacked the key."""
    walks = []
    for number, line in enumerate(plan):
        if "Scan using " not in line or not any(f" on {table}" in line for table in tables):
            continue
        indent = len(line) - len(line.lstrip())
        details = []
        for detail in plan[number + 1 :]:
            if "->" in detail or len(detail) - len(detail.lstrip()) <= indent:
                break
            details.append(detail)
        if not any("Index Cond:" in detail for detail in details):
            walks.append(line.strip())
    return walks


def test_no_read_scans_the_license_or_history_table(loaded: tuple[Any, str]) -> None:
    app, database = loaded
    headers = api_headers(app, database)
    api = app.test_client()
    ui = ui_client(app, database)
    requests = [(api, path, headers) for path in api_paths(api, headers)]
    requests += [(ui, path, {}) for path in ui_paths(ui)]
    engine, statements = recorded_statements(app, database, requests)
    assert len(statements) > 100  # the recording saw the reads

    offenders = []
    with engine.connect() as connection:
        stale = connection.execute(
            text("SELECT count(*) FROM pg_stats WHERE schemaname = :s"), {"s": SCHEMA}
        ).scalar()
        assert stale == 0  # still never analysed
        cursor = connection.connection.driver_connection.cursor()
        for statement, parameters, path in statements:
            cursor.execute("EXPLAIN " + statement, parameters)
            plan = [row[0] for row in cursor.fetchall()]
            if scans := sequential_scans(plan):
                offenders.append((path, statement, scans))
    assert offenders == []


def test_the_check_would_see_a_sequential_scan(loaded: tuple[Any, str]) -> None:
    """Not vacuous: the table is large enough that, without its index, the expired bucket's
    count is planned as a sequential scan, which the check reports (the index is dropped in a
    transaction that is rolled back)."""
    app, database = loaded
    from app.tenancy import engine_for

    with app.app_context():
        engine = engine_for(database)
    count_expired = text(
        "EXPLAIN SELECT count(*) FROM provider_cred_license "
        "WHERE term_date >= '0001-01-01' AND term_date < now() AT TIME ZONE 'UTC'"
    )
    with engine.connect() as connection, connection.begin() as transaction:
        assert not sequential_scans(list(connection.execute(count_expired).scalars()))
        connection.execute(text("DROP INDEX ix_license_term"))
        assert sequential_scans(list(connection.execute(count_expired).scalars()))
        transaction.rollback()


def plan_of(connection: Any, statement: str, parameters: Any) -> list[str]:
    cursor = connection.connection.driver_connection.cursor()
    cursor.execute("EXPLAIN " + statement, parameters)
    return [row[0] for row in cursor.fetchall()]


def test_grid_pages_and_searches_read_through_their_indexes(loaded: tuple[Any, str]) -> None:
    """A ProviderCred's licenses a page at a time, and the credential search, on the
    unanalysed tables: no page walks a whole index of the license table (with pages of 10
    rows, as many as the planner expects 150 matches, a page ordered by key walked the
    primary key while the ProviderCred's index lacked the key), and a search by provider ID,
    license number or key reads no table whole, ``provider_cred`` included (its ``OR`` with
    the license number's ``IN`` made it a scan of every ProviderCred)."""
    app, database = loaded
    headers = api_headers(app, database)
    api = app.test_client()
    ui = ui_client(app, database)
    pages = [
        "/ui/credentials/1/licenses",
        "/ui/credentials/1/licenses?page=50",
        "/ui/credentials/2/licenses",
        "/ui/credentials/5000/licenses",
    ]
    searches = [
        "/ui/credentials?q=PRV00000002",
        "/ui/credentials?q=prv0000123",
        "/ui/credentials?q=tx-000000001",
        "/ui/credentials?q=4321",
        "/ui/credentials?q=PRV00000002&page=2",
    ]
    requests = [(ui, path, {}) for path in pages + searches]
    requests += [
        (api, f"/provider-credentialing/{cred}/licenses?pageSize=10&page={page}", headers)
        for cred, page in ((1, 1), (1, 30), (2, 1))
    ]
    previous = app.config.get("GRID_PAGE_SIZE")
    app.config["GRID_PAGE_SIZE"] = 10
    try:
        engine, statements = recorded_statements(app, database, requests)
    finally:
        app.config["GRID_PAGE_SIZE"] = previous
    searched = {path for _, _, path in statements if "?q=" in path}
    assert searched == set(searches)

    offenders = []
    with engine.connect() as connection:
        for statement, parameters, path in statements:
            plan = plan_of(connection, statement, parameters)
            tables = (*BIG_TABLES, "provider_cred") if "?q=" in path else BIG_TABLES
            scans = [
                line.strip()
                for line in plan
                if "Seq Scan" in line and any(f" on {table}" in line for table in tables)
            ]
            if found := scans + whole_index_walks(plan):
                offenders.append((path, statement, found))
    assert offenders == []


def test_the_index_walk_check_would_see_a_grid_page_walk_the_primary_key(
    loaded: tuple[Any, str],
) -> None:
    """Not vacuous: with the single-column ProviderCred index the migrations had before
    0008, a 10-row page of a ProviderCred's licenses walks the primary key (the index and
    its replacement are swapped in a transaction that is rolled back)."""
    app, database = loaded
    from app.tenancy import engine_for

    with app.app_context():
        engine = engine_for(database)
    page = (
        "SELECT * FROM provider_cred_license WHERE provider_cred_key = 2 "
        "ORDER BY provider_cred_license_key LIMIT 10"
    )
    with engine.connect() as connection, connection.begin() as transaction:
        assert not whole_index_walks(plan_of(connection, page, None))
        connection.execute(text("DROP INDEX ix_license_cred"))
        connection.execute(
            text("CREATE INDEX ix_single ON provider_cred_license (provider_cred_key)")
        )
        assert whole_index_walks(plan_of(connection, page, None))
        transaction.rollback()


def test_the_search_check_would_see_the_scan_of_every_provider_cred(
    loaded: tuple[Any, str],
) -> None:
    """Not vacuous: the search's former condition (the license number as an ``IN``
    subquery in the ``OR``) is planned as a sequential scan of ``provider_cred``."""
    app, database = loaded
    from app.tenancy import engine_for

    with app.app_context():
        engine = engine_for(database)
    former = (
        "SELECT count(*) FROM provider_cred WHERE provider_id ILIKE '%PRV00000002%' "
        "OR provider_cred_key IN (SELECT provider_cred_key FROM provider_cred_license "
        "WHERE lower(license_number) = 'prv00000002')"
    )
    with engine.connect() as connection:
        plan = plan_of(connection, former, None)
    assert any("Seq Scan on provider_cred " in line for line in plan), plan
