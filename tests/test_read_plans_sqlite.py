"""The expiry lists and the credential search read SQLite's license table through an index.

SQLite's counterpart of ``tests/test_read_plans.py``: every request below runs through the app
while its statements are recorded, and each is then explained (``EXPLAIN QUERY PLAN``) with the
parameters it ran with. A ``SCAN`` of the license table reads every license, so a request that
shows one a page or a count takes time in proportion to the table: at 200,000 licenses each
expiry page took 181–283 ms and a search by license number 210–348 ms (docs/operations.md).
SQLite's plans do not depend on the table's size (no ``ANALYZE`` is run), so a few licenses
are enough to see them.

The expiry reads must also read index entries alone (``USING COVERING INDEX``) for their counts
and for choosing a page's licenses, and never sort a whole bucket: the state's and the type's
counts looked up every row of their ranges (270–610 ms a page at 200,000 licenses on a loaded
machine), and the PSV bucket in term order sorted the whole bucket, rows and all, for each
page. A page may walk an index in its order (``SCAN … USING COVERING INDEX``) inside the
subquery that picks its keys (``page``), which stops at the page's end.
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


#: A plan line: its own detail and those of the nodes it is nested in, innermost first.
PlanLine = tuple[str, tuple[str, ...]]


def recorded_plans(app: Any, requests: Callable[[], None]) -> list[tuple[str, list[str]]]:
    """Each statement ``requests`` ran on the main database, with its plan's lines."""
    return [
        (statement, [line for line, _ in lines])
        for statement, lines in recorded_plan_trees(app, requests)
    ]


def recorded_plan_trees(app: Any, requests: Callable[[], None]) -> list[tuple[str, list[PlanLine]]]:
    """Each statement ``requests`` ran on the main database, with its plan's lines, each with
    the lines it is nested in."""
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
            nodes = {row[0]: (row[1], row[3]) for row in rows}
            lines = [(detail, outer(nodes, parent)) for parent, detail in nodes.values()]
            plans.append((statement, lines))
    return plans


def outer(nodes: dict[int, tuple[int, str]], parent: int) -> tuple[str, ...]:
    found = []
    while parent in nodes:
        parent, detail = nodes[parent]
        found.append(detail)
    return tuple(found)


def in_page(nesting: tuple[str, ...]) -> bool:
    """Whether a line is part of the subquery that picks a page's keys (it has a LIMIT)."""
    return any(node in ("MATERIALIZE page", "CO-ROUTINE page") for node in nesting)


def license_scans(
    trees: list[tuple[str, list[PlanLine]]],
) -> list[tuple[str, list[str]]]:
    """The statements whose plan reads the whole license table (with or without an index),
    apart from a page's walk of an index's entries in the page's order, which stops at the
    page."""

    def scan(line: str, nesting: tuple[str, ...]) -> bool:
        walk = in_page(nesting) and "USING COVERING INDEX" in line
        return line.startswith(f"SCAN {LICENSE_TABLE}") and not walk

    return [
        (statement, [line for line, _ in lines])
        for statement, lines in trees
        if any(scan(line, nesting) for line, nesting in lines)
    ]


def whole_reads(trees: list[tuple[str, list[PlanLine]]]) -> list[tuple[str, list[str]]]:
    """The statements that read license rows to filter them (an index that is not
    ``COVERING``), scan the license table other than to walk a page's index in order, or
    sort what they read of it: a whole bucket, rows and all, for one page. Reading a page's
    rows by key, ``USE TEMP B-TREE FOR RIGHT PART OF ORDER BY`` (the key among licenses of one
    date) and the sort of a page's own rows are none of these."""
    found = []
    for statement, lines in trees:
        sorts = {nesting for line, nesting in lines if line == "USE TEMP B-TREE FOR ORDER BY"}
        bad = []
        for line, nesting in lines:
            if not line.startswith(("SEARCH", "SCAN")) or f" {LICENSE_TABLE}" not in line:
                continue
            if "USING INTEGER PRIMARY KEY" in line:
                continue
            if line.startswith("SCAN") and not in_page(nesting):
                bad.append(f"scans: {line}")
            elif "USING COVERING INDEX" not in line:
                bad.append(f"reads rows: {line}")
            elif without_or(nesting) in sorts:
                bad.append(f"sorts: {line}")
        if bad:
            found.append((statement, bad))
    return found


def without_or(nesting: tuple[str, ...]) -> tuple[str, ...]:
    """``nesting`` outside a ``MULTI-INDEX OR``'s parts (a sort of them is a sort of the OR)."""
    index = 0
    while index < len(nesting) and nesting[index].startswith(("INDEX ", "MULTI-INDEX OR")):
        index += 1
    return nesting[index:]


def planner_client(app: Any, make_user: Callable[..., str]) -> Any:
    """A test client of the staff UI, logged in."""
    make_user("planner", UI_PASSWORD)
    ui = app.test_client()
    login = {"username": "planner", "password": UI_PASSWORD, "database": "main"}
    assert ui.post("/ui/login", data=login).status_code == 302
    return ui


def put_three_licenses(client: Any, headers: dict[str, str]) -> None:
    """Into ProviderCred 1 (type 1): one expired (TX), one without a term date with an overdue
    PSV (TX), one far off (CA): every bucket's range holds a license or its edge."""
    licenses = [
        {
            "providerCredLicense_Key": key,
            "providerCred_Key": 1,
            "state": state,
            "credLicenseType_Key": 1,
            "license_Number": f"{state}-{key}",
            "term_Date": term,
            "psV_Date": psv,
        }
        for key, (state, term, psv) in enumerate(
            [
                ("TX", "2020-01-01T00:00:00Z", None),
                ("TX", None, "2020-01-01T00:00:00Z"),
                ("CA", "2099-01-01T00:00:00Z", "2099-01-01T00:00:00Z"),
            ],
            start=1,
        )
    ]
    put = client.put("/provider-credentialing/1/licenses-batch", json=licenses, headers=headers)
    assert put.status_code == 207, put.data


def reading(
    client: Any, headers: dict[str, str], api_paths: list[str], ui: Any, ui_paths: list[str]
) -> Callable[[], None]:
    """The requests that GET each API path, then each UI path, each answered 200 and read to
    its end (a download is written as it is read)."""

    def requests() -> None:
        for path in api_paths:
            response = client.get(path, headers=headers)
            assert response.status_code == 200, (path, response.data)
        for path in ui_paths:
            response = ui.get(path)
            assert response.status_code == 200, path
            response.get_data()

    return requests


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
    ui = planner_client(app, make_user)

    def requests() -> None:
        for path in API_PATHS:
            response = client.get(path, headers=headers)
            assert response.status_code == 200, (path, response.data)
            assert "counts" in data(response)
        for path in UI_PATHS:
            assert ui.get(path).status_code == 200, path

    scans = license_scans(recorded_plan_trees(app, requests))
    assert not scans, "\n\n".join(f"{s}\n  {lines}" for s, lines in scans)


def test_the_check_would_see_a_scan_of_the_license_table(sqlite_only: None, app: Any) -> None:
    def requests() -> None:
        with app.app_context(), session_scope("main") as session:
            session.execute(text(f"SELECT count(*) FROM {LICENSE_TABLE} WHERE state = 'TX'"))

    assert license_scans(recorded_plan_trees(app, requests))


#: The expiry lists' narrowings and orders (API), each with a bucket and without one.
NARROWINGS = ["", "&state=TX", "&credLicenseType_Key=1", "&state=TX&credLicenseType_Key=1"]
API_ORDERS = ["", "&sortBy=term_Date:desc", "&sortBy=psV_Date:asc", "&sortBy=psV_Date:desc"]
UI_ORDERS = ["term", "-term", "psv", "-psv"]


def expiry_paths() -> tuple[list[str], list[str]]:
    """Every expiry list of the API and the UI: each bucket and none, each narrowing, the
    orders by either date, a first and a far page (read from the list's other end)."""
    api = [
        f"/licenses/expirables?{chosen}{narrowing}{order}&page={page}"
        for chosen in ["within=90", "within=30", *(f"bucket={b}" for b in BUCKETS)]
        for narrowing in NARROWINGS
        for order in API_ORDERS
        for page in (1, 3)
    ]
    ui = [
        f"/ui/licenses/expiring?show={bucket}&sort={sort}{narrowing}&page={page}"
        for bucket in BUCKETS
        for narrowing in ("", "&state=TX", "&type=1", "&state=TX&type=1")
        for sort in UI_ORDERS
        for page in (1, 3)
    ]
    return api, ui


def test_expiry_reads_read_index_entries_alone_and_sort_no_bucket(
    sqlite_only: None,
    app: Any,
    client: Any,
    auth_headers: Callable[..., dict[str, str]],
    make_cred: Callable[..., int],
    make_license_type: Callable[..., int],
    make_user: Callable[..., str],
) -> None:
    make_cred(1)
    make_license_type(1)
    headers = auth_headers()
    put_three_licenses(client, headers)
    ui = planner_client(app, make_user)
    api_paths, ui_paths = expiry_paths()
    trees = recorded_plan_trees(app, reading(client, headers, api_paths, ui, ui_paths))
    found = whole_reads(trees)
    assert not found, "\n\n".join(f"{s}\n  {lines}" for s, lines in found)
    assert any("page" in statement for statement, _ in trees)  # the pages were explained


def test_the_entries_check_would_see_rows_read_and_a_bucket_sorted(
    sqlite_only: None, app: Any
) -> None:
    statements = [
        # a row read for each entry of the range: the license name is in no index
        f"SELECT count(*) FROM {LICENSE_TABLE} WHERE term_date >= '2000-01-01' "
        "AND term_date < '2030-01-01' AND license_name = 'x'",
        # the PSV bucket read range by range through its index, then sorted for a page
        f"SELECT provider_cred_license_key FROM {LICENSE_TABLE} "
        "WHERE psv_date IS NULL OR (psv_date >= '0001-01-01' AND psv_date < '2020-01-01') "
        "ORDER BY psv_date, provider_cred_license_key LIMIT 10",
        # the whole table's index entries, outside a page
        f"SELECT count(*) FROM {LICENSE_TABLE} WHERE state = 'TX'",
    ]

    def requests() -> None:
        with app.app_context(), session_scope("main") as session:
            for statement in statements:
                session.execute(text(statement))

    found = whole_reads(recorded_plan_trees(app, requests))
    assert [(s, [line.split(":")[0] for line in lines]) for s, lines in found] == [
        (statements[0], ["reads rows"]),
        (statements[1], ["sorts", "sorts"]),
        (statements[2], ["scans"]),
    ]


def other_reads(license_key: int, run_id: int) -> tuple[list[str], list[str]]:
    """Every read besides the expiry pages, API then UI: a cred's licenses in each order the
    API offers, a license's history each way, the license types, a provider's credentials;
    the grid and the credential list at their first and last pages, the searches, a
    history page, the monitoring pages and every expiry CSV download (each bucket, order
    and narrowing: a whole list, read through its bucket's index)."""
    from app.api.licenses import LICENSE_SORTABLE

    history = f"/provider-credentialing/1/licenses/{license_key}/history"
    api = [
        *(
            f"/provider-credentialing/1/licenses?sortBy={name}:{way}&page={page}"
            for name in LICENSE_SORTABLE
            for way in ("asc", "desc")
            for page in (1, 3)
        ),
        history,
        f"{history}?sortBy=at:asc",
        "/credentialing-license-types",
        "/providers/PRV1/credentialing",
        f"/licenses/monitoring-runs/{run_id}",
    ]
    ui = [
        "/ui/credentials",
        "/ui/credentials?page=1000000",
        *(f"/ui/credentials?q={q}" for q in ("PRV1", "TX", "1", "tx-1", "zz")),
        "/ui/credentials/1/licenses",
        "/ui/credentials/1/licenses?page=1000000",
        f"/ui/credentials/1/licenses?license={license_key}",
        f"/ui/licenses/{license_key}/history",
        "/ui/monitoring",
        f"/ui/monitoring/{run_id}",
        f"/ui/monitoring/{run_id}/csv",
        *(
            f"/ui/licenses/expiring.csv?show={bucket}&sort={sort}{narrowing}"
            for bucket in BUCKETS
            for narrowing in ("", "&state=TX", "&type=1")
            for sort in (*UI_ORDERS, "key")
        ),
    ]
    return api, ui


def test_every_other_read_reads_no_whole_license_table(
    sqlite_only: None,
    app: Any,
    client: Any,
    auth_headers: Callable[..., dict[str, str]],
    make_cred: Callable[..., int],
    make_license_type: Callable[..., int],
    make_user: Callable[..., str],
) -> None:
    """No other page, list or download reads the whole license table either. The expiry
    CSV downloads did, in the other date's order: they walked that date's index over every
    license, each looked up, to keep the bucket's (PSV overdue soonest term first at 200,000
    licenses: 171 ms of SQL for 18,000 licenses; narrowed to a state, 29 ms for 360)."""
    from app.audit import utcnow
    from app.monitoring.service import record_run

    make_cred(1, provider_id="PRV1")
    make_license_type(1)
    headers = auth_headers()
    put_three_licenses(client, headers)
    with app.app_context(), session_scope("main") as session:
        run_id = record_run(session, now=utcnow(), ran_by="plans", psv_window_days=120)
        session.commit()
    ui = planner_client(app, make_user)
    api_paths, ui_paths = other_reads(1, run_id)
    trees = recorded_plan_trees(app, reading(client, headers, api_paths, ui, ui_paths))
    scans = license_scans(trees)
    assert not scans, "\n\n".join(f"{s}\n  {lines}" for s, lines in scans)
    assert len(trees) > len(api_paths) + len(ui_paths)  # every read was explained
