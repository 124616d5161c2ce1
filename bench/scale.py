"""``python -m bench --postgres URL --scale N``: every read of the API and the UI on a large
database, in process (Flask's test client: the whole app, no socket) and over HTTP (gunicorn,
one request at a time), each with its answer size. Without ``--postgres`` the database is a
SQLite file (``bench/scale_sqlite.py``), measured as loaded and after ``ANALYZE``.

The database is built set-wise (``bench/scale_data.py``) in the schema ``credgrid_bench`` of the
named database, measured first as loaded (no statistics, no visibility map: autovacuum may
start during this phase) and then after ``VACUUM ANALYZE`` (what autovacuum leaves behind), and
dropped at the end. Each phase starts with a ``CHECKPOINT`` (a superuser's or
``pg_checkpoint``'s; without the right, a warning and the phase goes on): building a million
rows writes about 500 MB of WAL, and the checkpoint it sets off otherwise flushed the build's
pages while a phase was being measured (a 1,000-item batch 62 -> 70 ms over one phase). The
psycopg HTTP floor row of the table belongs to the batch benchmark and is shown as "not
measured here".
"""

from __future__ import annotations

import html
import json
import logging
import math
import re
import secrets
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.exc import ProgrammingError

from bench import http
from bench.databases import PASSWORD, USERNAME, postgres_database, remove, sqlite_database
from bench.scale_data import BIG_CRED_LICENSES, build
from bench.scale_sqlite import build as build_sqlite
from bench.workload import KeyAllocator, batch

REPEATS = 7
PAGE_SIZE = 100
TARGET_MS = 150.0
TARGET_BYTES = 1_000_000
#: The table's first column: the longest read's name (a narrowed expiry list's page).
NAME_WIDTH = 78
#: Issue 12: a 1,000-item batch into an existing ProviderCred, in process, at a million.
BATCH_ITEMS = 1000
BATCH_TARGET_MS = 60.0
BATCH = f"api: {BATCH_ITEMS:,}-item batch into an existing ProviderCred (half updates)"
FAR_TERM = "2031-06-30T00:00:00Z"  # in no expiry bucket
BUCKETS = ("expired", "within30", "within60", "within90", "psvOverdue", "noTermDate")
#: The expiry lists narrowed by state and license type, and the PSV bucket, besides the
#: buckets alone (each read at its first and its last page).
FILTERED_API_LISTS = (
    "within=90",
    "state=TX",
    "credLicenseType_Key=3",
    "state=TX&credLicenseType_Key=3",
    "bucket=expired&state=TX",
    "bucket=within90&credLicenseType_Key=3",
    "bucket=psvOverdue&state=TX",
    "bucket=noTermDate&state=TX&credLicenseType_Key=3",
)
FILTERED_UI_LISTS = (
    *(f"show={bucket}" for bucket in BUCKETS[1:]),
    "show=expired&state=TX",
    "show=expired&type=3",
    "show=within90&state=TX&type=3",
    "show=psvOverdue&state=TX",
    "show=expired&sort=psv",
    "show=psvOverdue&sort=-term",
)
#: Rows of the batch benchmark, listed so one table shows the whole of issue 12's targets.
NOT_MEASURED_HERE = ("http floor: hand-written psycopg handler, 5-item batch",)


@dataclass
class Read:
    name: str
    path: str
    ui: bool = False
    results: dict[str, dict[str, float]] = field(default_factory=dict)


def main(url: str | None, scale: int, results_dir: Path, with_http: bool = True) -> dict[str, Any]:
    """Build ``scale`` licenses in ``url`` and measure every read on them. The reads' access
    lines are silenced meanwhile, and only meanwhile: the logger is the process's, and a
    caller that goes on (the test suite) expects its lines back."""
    access = logging.getLogger("credgrid.access")
    level = access.level
    access.setLevel(logging.WARNING)
    try:
        return _build_and_measure(url, scale, results_dir, with_http)
    finally:
        access.setLevel(level)


def _build_and_measure(
    url: str | None, scale: int, results_dir: Path, with_http: bool
) -> dict[str, Any]:
    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    if url is None:
        (results_dir / "sqlite").mkdir(parents=True, exist_ok=True)
        database = sqlite_database(results_dir / "sqlite", "scale.db")
    else:
        database = postgres_database(url)
    engine = create_engine(database.url)
    from app.schema import upgrade_database

    upgrade_database(engine)
    started = time.perf_counter()
    with engine.begin() as connection:
        counts = (build_sqlite if url is None else build)(connection, scale)
    built_seconds = time.perf_counter() - started
    log(f"built {counts} in {built_seconds:.1f} s (not analysed)")

    from app import create_app
    from app.auth.keys import issue_api_key
    from app.auth.tokens import mint_token_for
    from app.auth.users import create_user
    from app.tenancy import session_scope

    secret = secrets.token_urlsafe(32)
    config = {"DATABASES": {database.name: database.url}, "SECRET_KEY": secret}
    app = create_app({**config, "RATE_LIMIT": "1000000 per second"})
    with app.app_context(), session_scope(database.name) as session:
        create_user(session, USERNAME, PASSWORD, role="editor")
        key = issue_api_key(session, "bench")
        session.commit()
        token = mint_token_for(session, secret, USERNAME, database.name, 3600, "id")
    api_headers = {
        "x-api-key": key,
        "Authorization": f"Bearer {token}",
        "vbasoftware-database": database.name,
    }
    client = app.test_client()
    cookie = ui_login(client, database.name)
    reads = read_list(client, api_headers, counts["provider_creds"])

    result: dict[str, Any] = {
        "scale": counts,
        "built_seconds": built_seconds,
        "phases": {},
    }
    server = None
    try:
        if with_http:
            server = http.start_server(config["DATABASES"], secret, results_dir)
        batch_keys = KeyAllocator(counts["licenses"] + 1)  # above every loaded license
        for phase in PHASES[database.backend]:
            prepare_phase(engine, phase, log)
            log(f"measuring ({phase})")
            for read in reads:
                headers = {"Cookie": cookie} if read.ui else api_headers
                read.results[phase] = measure(client, read, headers, server)
                log(f"  {read.name}: {format_result(read.results[phase])}")
            result["phases"][phase] = {read.name: read.results[phase] for read in reads}
            last_cred = counts["provider_creds"]
            written = measure_batch(client, api_headers, server, batch_keys, last_cred)
            log(f"  {BATCH}: {format_result(written)}")
            result["phases"][phase][BATCH] = written
    finally:
        if server is not None:
            server.stop()
        engine.dispose()
        with app.app_context():
            from app.extensions import db

            for bound in db.engines.values():
                bound.dispose()
        remove(database)
    result["table"] = table(result)
    return result


#: The phases measured: as loaded, then with the statistics a loaded database gets
#: (PostgreSQL's autovacuum; on SQLite, ``import-licenses``'s ``ANALYZE``).
PHASES = {
    "postgresql": ("as loaded", "after VACUUM ANALYZE"),
    "sqlite": ("as loaded", "after ANALYZE"),
}


def prepare_phase(engine: Any, phase: str, log: Callable[[str], None]) -> None:
    """Analyse (after the first phase) and checkpoint, so that no phase pays for the writes of
    the build or of the one before it."""
    if engine.dialect.name == "sqlite":
        if phase != "as loaded":
            with engine.begin() as conn:
                conn.execute(text("ANALYZE"))
        with engine.connect() as conn:
            busy = conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").scalar()
        if busy:
            log("the WAL was not checkpointed before measuring; figures may vary")
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        if phase != "as loaded":
            conn.execute(text("VACUUM ANALYZE"))
        try:
            conn.execute(text("CHECKPOINT"))
        except ProgrammingError as error:  # not a superuser nor pg_checkpoint
            log(f"no CHECKPOINT before measuring ({error.orig}); figures may vary")


def ui_login(client: Any, database: str) -> str:
    """Log the test client in through the form (with its CSRF token); returns the Cookie
    header that carries the session, for the HTTP requests."""
    page = client.get("/ui/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    data = {"username": USERNAME, "password": PASSWORD, "database": database}
    if token:
        data["csrf_token"] = token.group(1)
    response = client.post("/ui/login", data=data)
    if response.status_code != 302:
        raise RuntimeError(f"UI login failed: {response.status_code}")
    name = client.application.config["SESSION_COOKIE_NAME"]
    return f"{name}={client.get_cookie(name).value}"


def read_list(client: Any, headers: dict[str, str], provider_creds: int) -> list[Read]:
    """The reads, with the last page of each bucket asked of the API first."""
    typical_cred = 2
    typical_license = BIG_CRED_LICENSES + 1
    last_big_page = math.ceil(BIG_CRED_LICENSES / PAGE_SIZE)
    # Not the last: it holds the last ProviderCred, which each phase's batch writes to.
    cred_pages = math.ceil(provider_creds / client.application.config["UI_PAGE_SIZE"])
    far_cred_page = max(1, cred_pages - 1)
    reads = [
        Read("api: one license", f"/provider-credentialing/1/licenses/{BIG_CRED_LICENSES // 2}"),
        Read("api: license list (1,000-license cred)", "/provider-credentialing/1/licenses"),
        Read(
            "api: license list (1,000-license cred), last page by term date",
            f"/provider-credentialing/1/licenses?sortBy=term_Date:desc&page={last_big_page}",
        ),
        Read(
            "api: license history",
            f"/provider-credentialing/{typical_cred}/licenses/{typical_license}/history",
        ),
        Read(
            "api: license history, oldest first",
            f"/provider-credentialing/{typical_cred}/licenses/{typical_license}/history"
            "?sortBy=at:asc",
        ),
        Read("api: license types", "/credentialing-license-types"),
        Read("api: a provider's credentials", "/providers/PRV00000002/credentialing"),
        # The expiry list's slowest order: no index holds the ProviderCred key with a date.
        Read(
            "api: expirables by providerCred_Key",
            "/licenses/expirables?sortBy=providerCred_Key:desc",
        ),
    ]
    for query in [*(f"bucket={bucket}" for bucket in BUCKETS), *FILTERED_API_LISTS]:
        response = client.get(f"/licenses/expirables?{query}&pageSize=1", headers=headers)
        total = json.loads(response.headers["x-pagination"])["TotalCount"]
        last = max(1, math.ceil(total / PAGE_SIZE))
        path = f"/licenses/expirables?{query}"
        label = query.removeprefix("bucket=") if query.count("=") == 1 else query
        reads.append(Read(f"api: expirables {label} first page", f"{path}&page=1"))
        reads.append(Read(f"api: expirables {label} last page ({last})", f"{path}&page={last}"))
    license_number = f"TX-{1:09d}"
    yesterday = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%d")
    # The review's default range, 31 days, but to yesterday: the batches measured write today.
    month_start = (datetime.now(UTC) - timedelta(days=31)).strftime("%Y-%m-%d")
    month = f"the 31 days to {yesterday}"
    month_review = f"/ui/integrity?since={month_start}&until={yesterday}"
    reads += [
        Read("ui: credential search by provider ID", "/ui/credentials?q=PRV00000002", ui=True),
        Read(
            "ui: credential search by license number",
            f"/ui/credentials?q={license_number}",
            ui=True,
        ),
        Read("ui: credential search, two letters", "/ui/credentials?q=TX", ui=True),
        Read("ui: credential list", "/ui/credentials", ui=True),
        Read(
            f"ui: credential list, page {far_cred_page} of {cred_pages}",
            f"/ui/credentials?page={far_cred_page}",
            ui=True,
        ),
        Read("ui: license history page", f"/ui/licenses/{typical_license}/history", ui=True),
        Read("ui: expiring page (expired, first page)", "/ui/licenses/expiring", ui=True),
        Read(
            "ui: expiring page (expired, last page)",
            "/ui/licenses/expiring?show=expired&page=1000000",
            ui=True,
        ),
        Read(
            "ui: expiring page (TX, within 30)",
            "/ui/licenses/expiring?show=within30&state=TX",
            ui=True,
        ),
        *(
            Read(
                f"ui: expiring page ({query}{last})",
                f"/ui/licenses/expiring?{query}{page}",
                ui=True,
            )
            for query in FILTERED_UI_LISTS
            for last, page in (("", ""), (", last page", "&page=1000000"))
        ),
        # A download, not a page: every expired license (8 % of them), in the page's order.
        Read("ui: expiring page's CSV (expired)", "/ui/licenses/expiring.csv", ui=True),
        Read("ui: grid, typical cred", f"/ui/credentials/{typical_cred}/licenses", ui=True),
        Read(
            f"ui: integrity review of {yesterday}",
            f"/ui/integrity?since={yesterday}&until={yesterday}",
            ui=True,
        ),
        Read(f"ui: integrity review of {month}, first part", month_review, ui=True),
    ]
    last_part, parts = last_review_part(client, month_review)
    reads += [
        Read(f"ui: integrity review of {month}, last part ({parts})", last_part, ui=True),
        Read(
            f"ui: grid, cred with {BIG_CRED_LICENSES:,} licenses",
            "/ui/credentials/1/licenses",
            ui=True,
        ),
        Read(
            f"ui: grid, cred with {BIG_CRED_LICENSES:,} licenses, last page",
            "/ui/credentials/1/licenses?page=1000000",
            ui=True,
        ),
    ]
    return reads


#: A month at a million licenses is some 6 parts; many more means the parts stopped advancing.
MAX_REVIEW_PARTS = 1000


def last_review_part(client: Any, path: str) -> tuple[str, int]:
    """The integrity review's last part of the range ``path`` starts, and how many parts it has
    (the review is read in parts of a bounded number of history rows: ``Next part`` links)."""
    for parts in range(1, MAX_REVIEW_PARTS + 1):
        page = client.get(path).get_data(as_text=True)
        found = re.search(r'<a rel="next" href="([^"]+)"', page)
        if found is None:
            return path, parts
        path = html.unescape(found.group(1))
    raise RuntimeError(f"the integrity review of {path} has over {MAX_REVIEW_PARTS} parts")


def measure(client: Any, read: Read, headers: dict[str, str], server: Any) -> dict[str, float]:
    def in_process() -> tuple[int, int]:
        response = client.get(read.path, headers=headers)
        return response.status_code, len(response.get_data())

    timings = _timed(in_process)
    measured = {"ms": timings[0], "bytes": timings[1], "status": timings[2]}
    if server is not None:
        raw = http.build_request("GET", read.path, headers)

        def over_http() -> tuple[int, int]:
            status, body = http.send(server.port, raw)
            return status, len(body)

        http_ms, _, http_status = _timed(over_http)
        measured.update(http_ms=http_ms, http_status=http_status)
    return measured


def measure_batch(
    client: Any, headers: dict[str, str], server: Any, keys: KeyAllocator, cred: int
) -> dict[str, float]:
    """``BATCH_ITEMS`` licenses PUT into an existing ProviderCred (in process, and over HTTP
    when there is a server), half of them stored just before (untimed, with older values, so
    they are real updates); every batch takes keys no earlier one used (``keys``).

    ``cred`` should be one the reads do not look at (the last: not on the credential list's
    first page), and the licenses' dates put them in no expiry bucket, so the reads measured
    after the batches see the data they saw before."""
    path = f"/provider-credentialing/{cred}/licenses-batch"
    put_headers = {**headers, "Content-Type": "application/json"}
    recent = datetime.now(UTC).strftime("%Y-%m-%dT00:00:00Z")

    def prepared() -> bytes:
        chosen = batch(keys.take(BATCH_ITEMS), BATCH_ITEMS)
        for item in (*chosen.existing, *chosen.items):
            item.update(providerCred_Key=cred, term_Date=FAR_TERM, psV_Date=recent)
        seeded = client.put(path, data=json.dumps(chosen.existing), headers=put_headers)
        if seeded.status_code != 207:
            raise RuntimeError(f"seeding the batch failed: {seeded.status_code}")
        return json.dumps(chosen.items).encode()

    def in_process() -> tuple[float, int, int]:
        body = prepared()
        started = time.perf_counter()
        response = client.put(path, data=body, headers=put_headers)
        return (time.perf_counter() - started) * 1000, response.status_code, len(response.data)

    in_process()  # warm
    runs = [in_process() for _ in range(REPEATS)]
    measured = {
        "ms": statistics.median(r[0] for r in runs),
        "status": runs[-1][1],
        "bytes": runs[-1][2],
    }
    if server is not None:
        http_runs = []
        for _ in range(REPEATS):
            raw = http.build_request("PUT", path, headers, prepared())  # it adds the type
            started = time.perf_counter()
            status, answer = http.send(server.port, raw)
            if status != 207:
                raise RuntimeError(f"the batch over HTTP failed: {status} {answer[:200]!r}")
            http_runs.append(((time.perf_counter() - started) * 1000, status))
        measured["http_ms"] = statistics.median(r[0] for r in http_runs)
        measured["http_status"] = http_runs[-1][1]
    return measured


def _timed(call: Callable[[], tuple[int, int]]) -> tuple[float, int, int]:
    call()  # warm: the first request of a path compiles its statements
    times, size, status = [], 0, 0
    for _ in range(REPEATS):
        start = time.perf_counter()
        status, size = call()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), size, status


def format_result(measured: dict[str, float]) -> str:
    http_part = f", http {measured['http_ms']:.1f} ms" if "http_ms" in measured else ""
    return f"{measured['ms']:.1f} ms, {measured['bytes']:,} B{http_part} ({measured['status']})"


def table(result: dict[str, Any]) -> str:
    phases = list(result["phases"])
    lines = [
        f"credgrid reads at {result['scale']['licenses']:,} licenses "
        f"({result['scale']['provider_creds']:,} ProviderCreds, {result['scale']['history']:,} "
        f"history rows; built in {result['built_seconds']:.1f} s); medians of {REPEATS}",
        f"{'read':<{NAME_WIDTH}} "
        + " ".join(f"{p + ' ms / http ms':>26}" for p in phases)
        + f" {'bytes':>10}",
    ]
    names = list(result["phases"][phases[0]])
    for name in names:
        cells = []
        for phase in phases:
            m = result["phases"][phase][name]
            http_ms = f"{m['http_ms']:.1f}" if "http_ms" in m else "-"
            limit = BATCH_TARGET_MS if name == BATCH else TARGET_MS
            flag = "" if m["ms"] <= limit and m["bytes"] <= TARGET_BYTES else " !"
            cells.append(f"{m['ms']:>12.1f} / {http_ms:>8}{flag:>3}")
        size = result["phases"][phases[-1]][name]["bytes"]
        lines.append(
            f"{name:<{NAME_WIDTH}} " + " ".join(f"{c:>26}" for c in cells) + f" {size:>10,}"
        )
    for name in NOT_MEASURED_HERE:
        lines.append(f"{name:<{NAME_WIDTH}} {'(batch benchmark: not measured here)':>26}")
    lines.append(
        f"! = over {TARGET_MS:.0f} ms (the batch: {BATCH_TARGET_MS:.0f} ms) "
        f"or {TARGET_BYTES:,} bytes"
    )
    return "\n".join(lines)
