"""``python -m bench [--postgres URL]``: the whole benchmark in one run (see bench/README.md).

Prints a table and writes ``bench/results/bench-<time>.json`` (and ``latest.json``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import sqlite3
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import http, http_rounds, inprocess, report
from bench.databases import (
    PASSWORD,
    PG_HTTP_SCHEMA,
    USERNAME,
    postgres_database,
    prepare,
    remove,
    sqlite_database,
)
from bench.workload import KeyAllocator

RESULTS = Path(__file__).resolve().parent / "results"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--postgres", metavar="URL", help="a PostgreSQL database to use as well")
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (a smoke run)")
    parser.add_argument("--no-http", action="store_true", help="skip the gunicorn measurements")
    parser.add_argument("--results", type=Path, default=RESULTS, help="output directory")
    parser.add_argument(
        "--scale",
        type=int,
        metavar="N",
        help="instead: build N licenses (in --postgres, else SQLite) and measure every read",
    )
    args = parser.parse_args(argv)
    if args.scale:
        return run_scale(args)

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    args.results.mkdir(parents=True, exist_ok=True)
    scratch = args.results / "sqlite"
    scratch.mkdir(exist_ok=True)
    databases = [sqlite_database(scratch)]
    if args.postgres:
        databases.append(postgres_database(args.postgres))
    for database in databases:
        prepare(database)
    # Over HTTP, PostgreSQL gets fresh tables of its own, autovacuum off (bench/http_rounds.py).
    http_databases = [d for d in databases if d.backend != "postgresql"]
    if args.postgres and not args.no_http:
        fresh = postgres_database(args.postgres, "postgresql_http", PG_HTTP_SCHEMA)
        prepare(fresh, autovacuum=False)
        http_databases.append(fresh)
    every_database = [*databases, *(d for d in http_databases if d not in databases)]

    from app import create_app
    from app.auth.keys import issue_api_key
    from app.auth.tokens import mint_token_for
    from app.auth.users import create_user
    from app.extensions import db
    from app.tenancy import session_scope

    secret = secrets.token_urlsafe(32)
    config = {"DATABASES": {d.name: d.url for d in every_database}, "SECRET_KEY": secret}
    app = create_app(config)
    headers: dict[str, dict[str, str]] = {}
    with app.app_context():
        for database in every_database:
            with session_scope(database.name) as session:
                create_user(session, USERNAME, PASSWORD)
                key = issue_api_key(session, "bench")
                session.commit()
                token = mint_token_for(session, secret, USERNAME, database.name, 3600, "id")
            headers[database.name] = {"x-api-key": key, "Authorization": f"Bearer {token}"}

    repeats = {n: max(3, r // 4) for n, r in inprocess.REPEATS.items()} if args.quick else None
    result: dict[str, Any] = {
        "started": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "environment": environment(app, databases),
        "backends": {},
    }
    allocator = KeyAllocator()
    for database in databases:
        log(f"{database.backend}: service alone")
        sizes = inprocess.measure_sizes(app, database, allocator, repeats or inprocess.REPEATS, log)
        log(f"{database.backend}: phases of a {inprocess.PHASE_ITEMS}-item request")
        phases = inprocess.measure_phases(app, database, allocator, 5 if args.quick else 11)
        result["backends"][database.backend] = {"service": sizes, "phases": phases}

    if not args.no_http:
        max_seconds = 5.0 if args.quick else 15.0
        count = 500 if args.quick else 3000
        log(f"http: gunicorn, {http.WORKERS} sync workers, {http.CLIENTS} clients")
        server = http.start_server(config["DATABASES"], secret, args.results)
        try:
            result["http"] = http_rounds.measure_http(
                server, http_databases, headers, allocator, count, max_seconds, log
            )
        finally:
            server.stop()
        for database in http_databases:
            result["backends"][database.backend]["http"] = result["http"].pop(database.backend)

    with app.app_context():
        for engine in db.engines.values():
            engine.dispose()
    for database in every_database:
        remove(database)

    result["targets"] = report.targets(result)
    text = report.table(result)
    print(text)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    payload = json.dumps(result, indent=2, sort_keys=True)
    (args.results / f"bench-{stamp}.json").write_text(payload)
    (args.results / "latest.json").write_text(payload)
    (args.results / "latest.txt").write_text(text + "\n")
    log(f"wrote {args.results / f'bench-{stamp}.json'}")
    return 0


def run_scale(args: argparse.Namespace) -> int:
    """The read measurements of ``bench/scale.py``: on the ``--postgres`` database, or without
    one on a SQLite file under the results folder (kept for inspection)."""
    from bench import scale

    args.results.mkdir(parents=True, exist_ok=True)
    result = scale.main(args.postgres, args.scale, args.results, with_http=not args.no_http)
    print(result["table"])
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = args.results / f"scale-{args.scale}-{stamp}.json"
    path.write_text(json.dumps(result, indent=2, sort_keys=True))
    print(f"wrote {path}", file=sys.stderr)
    return 0


def environment(app: Any, databases: list[Any]) -> dict[str, Any]:
    env = {
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
    }
    for database in databases:
        if database.backend == "postgresql":
            from sqlalchemy import text

            from app.tenancy import engine_for

            with app.app_context(), engine_for(database.name).connect() as connection:
                env["postgresql"] = connection.execute(text("SHOW server_version")).scalar()
    return env


if __name__ == "__main__":
    raise SystemExit(main())
