"""``python -m bench.compare LABEL=CHECKOUT …``: SQLite 5-item batches over HTTP, several
checkouts side by side, in interleaved rounds.

Each checkout (a directory with its own ``.venv``, for example a ``git worktree`` of an older
commit) gets a fresh SQLite database prepared by its own code and its own gunicorn (2 sync
workers), all started before the first round. Every round then measures, checkout after
checkout (the order reversed every other round), the bare route and then 5-item batches
(half new licenses, half existing); the figures are the medians of the rounds. Interleaving is
the point: on a shared machine requests/s move with the neighbours' load by more than the
code does, and alternating rounds let both sides meet the same load.

It needs of each checkout only what every version of the benchmark has had: ``bench.server``
(the bare route), ``bench.databases`` (``sqlite_database``, ``prepare``) and the API.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import http
from bench.workload import KeyAllocator

#: Run by each checkout's own Python in that checkout: its database, user, key and token.
SETUP = """
import json, secrets, sys
from pathlib import Path
from bench.databases import PASSWORD, USERNAME, prepare, sqlite_database
from app import create_app
from app.auth.keys import issue_api_key
from app.auth.users import create_user
from app.tenancy import session_scope
database = sqlite_database(Path(sys.argv[1]))
prepare(database)
secret = secrets.token_urlsafe(32)
app = create_app({"DATABASES": {database.name: database.url}, "SECRET_KEY": secret})
with app.app_context(), session_scope(database.name) as session:
    create_user(session, USERNAME, PASSWORD)
    key = issue_api_key(session, "bench")
    session.commit()
    try:
        from app.auth.tokens import mint_token_for
        token = mint_token_for(session, secret, USERNAME, database.name, 3600, "id")
    except ImportError:  # older checkouts: the token carried the username only
        from app.auth.tokens import mint_token
        token = mint_token(secret, USERNAME, database.name, 3600, "id")
print(json.dumps({"databases": {database.name: database.url}, "secret": secret,
                  "name": database.name,
                  "headers": {"x-api-key": key, "Authorization": f"Bearer {token}"}}))
"""


def prepare_checkout(root: Path, scratch: Path) -> dict[str, Any]:
    """The checkout's database, prepared by its own code; its settings and request headers."""
    scratch.mkdir(parents=True, exist_ok=True)
    output = subprocess.run(
        [str(root / ".venv" / "bin" / "python"), "-c", SETUP, str(scratch)],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def start_checkout_server(root: Path, setup: dict[str, Any], scratch: Path) -> http.Server:
    """The checkout's own gunicorn on its database (as ``http.start_server`` starts ours)."""
    port = http.free_port()
    env = {
        **os.environ,
        "FLASK_DATABASES": json.dumps(setup["databases"]),
        "FLASK_SECRET_KEY": setup["secret"],
        "FLASK_BENCH_ENDPOINTS": "true",
        "FLASK_RATE_LIMIT": "1000000 per second",
        "PYTHONPATH": str(root),
    }
    command = [
        str(root / ".venv" / "bin" / "python"),
        *("-m", "gunicorn", "--workers", str(http.WORKERS), "--worker-class", "sync"),
        *("--bind", f"{http.HOST}:{port}", "bench.server:create_app()"),
    ]
    log_path = scratch / "gunicorn.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, cwd=root, env=env, stdout=log, stderr=log)
    server = http.Server(process, port, log_path)
    probe = http.build_request("GET", http.BARE_PATH, {})
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if http.send(port, probe, timeout=2)[0] == 200 and len(server.worker_pids()) == 2:
                return server
        except OSError:
            pass
        time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"gunicorn of {root} did not start; see {log_path}")


def seeding(server: http.Server, setup: dict[str, Any]) -> Callable[[list[dict[str, Any]]], None]:
    """Existing licenses are created through the checkout's own API (its schema may differ)."""
    headers = {"vbasoftware-database": setup["name"], **setup["headers"]}

    def seed(items: list[dict[str, Any]]) -> None:
        for start in range(0, len(items), 500):
            body = json.dumps(items[start : start + 500]).encode()
            status, answer = http.send(
                server.port, http.build_request("PUT", http.BATCH_PATH, headers, body)
            )
            if status != 207:
                raise RuntimeError(f"seeding failed: {status} {answer[:200]!r}")

    return seed


def summary(rounds: dict[str, list[dict[str, float]]]) -> dict[str, dict[str, float]]:
    """Per label, the medians of its rounds: bare and batch requests/s, the batch's share of
    bare (the median of the rounds' own shares) and the workers' CPU per batch request."""
    return {
        label: {
            "bare_rps": statistics.median(r["bare_rps"] for r in measured),
            "batch_rps": statistics.median(r["batch_rps"] for r in measured),
            "share": statistics.median(r["batch_rps"] / r["bare_rps"] for r in measured),
            "cpu_ms": statistics.median(r["cpu_ms"] for r in measured),
        }
        for label, measured in rounds.items()
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.compare", description=__doc__)
    parser.add_argument("checkouts", nargs="+", metavar="LABEL=CHECKOUT")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--requests", type=int, default=1500, help="5-item batches a round")
    parser.add_argument("--scratch", type=Path, default=Path("bench/results/compare"))
    args = parser.parse_args(argv)
    checkouts = {
        label: Path(root).resolve() for label, root in (a.split("=", 1) for a in args.checkouts)
    }
    servers: dict[str, http.Server] = {}
    requests: dict[str, http.BatchRequests] = {}
    allocator = KeyAllocator()
    try:
        for label, root in checkouts.items():
            scratch = (args.scratch / label).resolve()
            setup = prepare_checkout(root, scratch / "db")
            servers[label] = start_checkout_server(root, setup, scratch)
            seed = seeding(servers[label], setup)
            requests[label] = http.BatchRequests(setup["name"], setup["headers"], allocator, seed)
        bare = http.build_request("GET", http.BARE_PATH, {})
        rounds: dict[str, list[dict[str, float]]] = {label: [] for label in checkouts}
        labels = list(checkouts)
        for number in range(args.rounds):
            for label in labels if number % 2 == 0 else labels[::-1]:
                server = servers[label]
                bare_load = http.load(server.port, [bare] * (args.requests * 2), 200, max_seconds=5)
                batches = http.batch5_load(
                    server, requests[label], count=args.requests, max_seconds=5
                )
                rounds[label].append(
                    {
                        "bare_rps": bare_load["requests_per_second"],
                        "batch_rps": batches["requests_per_second"],
                        "cpu_ms": batches["worker_cpu_ms_per_request"],
                    }
                )
                print(f"round {number + 1} {label}: {rounds[label][-1]}", file=sys.stderr)
    finally:
        for server in servers.values():
            server.stop()
    print(
        f"{'checkout':12} {'bare req/s':>10} {'batch req/s':>11} {'of bare':>8} {'CPU ms/req':>10}"
    )
    for label, figures in summary(rounds).items():
        print(
            f"{label:12} {figures['bare_rps']:10.0f} {figures['batch_rps']:11.0f} "
            f"{figures['share']:8.1%} {figures['cpu_ms']:10.2f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
