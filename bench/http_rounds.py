"""The HTTP loads in alternating rounds: the bare route, each backend's 5-item batches and, on
PostgreSQL, the hand-written psycopg handler (``bench.http_floor``), the batch's HTTP floor.

PostgreSQL is measured twice on tables of its own (issue 12): right after a bulk load of
licenses through the API into fresh tables whose autovacuum is off (so no ANALYZE has run:
the planner has no statistics yet), and again after an explicit ANALYZE.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from typing import Any

from bench import http
from bench.databases import BenchDatabase, Seeder, analyse
from bench.http_floor import floor_path
from bench.workload import CRED_KEY, KeyAllocator

#: The bare and 5-item loads alternate this many times; each figure is the median of its
#: rounds and the share of bare the median of the rounds' own shares, so a neighbour's load
#: that comes and goes during the run moves both sides of a ratio alike. Five, not three:
#: single rounds' shares spread from 27 % to 51 % in one run on a noisy machine.
HTTP_ROUNDS = 5
#: Licenses created through the API before the first PostgreSQL rounds, in batches of this many.
BULK_LICENSES = 5000
BULK_BATCH_ITEMS = 500
FLOOR = "floor"

Load = Callable[[], dict[str, Any]]
Log = Callable[[str], None]


def measure_http(
    server: http.Server,
    databases: list[BenchDatabase],
    headers: dict[str, dict[str, str]],
    allocator: KeyAllocator,
    count: int,
    max_seconds: float,
    log: Log,
) -> dict[str, Any]:
    """Every backend's HTTP figures, by backend, plus the bare route's (of the first rounds)."""
    seeders = {d.name: Seeder(d) for d in databases}
    try:
        requests = {
            d.name: http.BatchRequests(d.name, headers[d.name], allocator, seeders[d.name].seed)
            for d in databases
        }
        postgres = [d for d in databases if d.backend == "postgresql"]
        floors = {
            d.name: http.BatchRequests(
                d.name, headers[d.name], allocator, seeders[d.name].seed, floor_path(CRED_KEY)
            )
            for d in postgres
        }
        for database in postgres:
            seconds = http.bulk_load(
                server, requests[database.name], BULK_LICENSES, BULK_BATCH_ITEMS
            )
            log(
                f"  {database.backend}: {BULK_LICENSES} licenses through the API "
                f"({BULK_BATCH_ITEMS}-item batches, fresh tables, autovacuum off): {seconds:.1f} s"
            )

        def batch5(batch_requests: http.BatchRequests) -> Load:
            return lambda: http.batch5_load(
                server, batch_requests, count=count, max_seconds=max_seconds
            )

        def loads(round_number: int, with_sqlite: bool) -> list[tuple[str, Load]]:
            """This round's loads; the real batch and its floor swap places every round."""
            chosen = [
                (d.backend, batch5(requests[d.name]))
                for d in databases
                if with_sqlite and d.backend != "postgresql"
            ]
            for database in postgres:
                pair = [
                    (database.backend, batch5(requests[database.name])),
                    (f"{database.backend} {FLOOR}", batch5(floors[database.name])),
                ]
                chosen += pair if round_number % 2 else pair[::-1]
            return chosen

        log("  rounds right after the bulk load (no ANALYZE yet)")
        loaded = rounds(server, lambda n: loads(n, True), count, max_seconds, log)
        for database in postgres:
            analyse(database)
        log(f"  rounds after ANALYZE of {', '.join(d.schema or d.name for d in postgres)}")
        analysed = rounds(server, lambda n: loads(n, False), count, max_seconds, log)

        measured: dict[str, Any] = {
            "bare": loaded["bare"],
            "workers": http.WORKERS,
            "clients": http.CLIENTS,
            "rounds": HTTP_ROUNDS,
        }
        for database in databases:
            if database.backend == "postgresql":
                states = {
                    "after_load": floor_state(loaded, database.backend),
                    "after_analyse": floor_state(analysed, database.backend),
                }
                states["after_load"]["bulk_licenses"] = BULK_LICENSES
                small = states["after_analyse"]["batch5"]
                figures: dict[str, Any] = {"batch5": small, "floor_states": states}
            else:
                figures = {"batch5": loaded[database.backend]}
            log(f"  {database.backend}")
            figures.update(
                http.measure_backend(
                    server, requests[database.name], max_seconds=max_seconds, log=log
                )
            )
            measured[database.backend] = figures
    finally:
        for seeder in seeders.values():
            seeder.close()
    return measured


def rounds(
    server: http.Server,
    loads_of_round: Callable[[int], list[tuple[str, Load]]],
    count: int,
    max_seconds: float,
    log: Log,
) -> dict[str, Any]:
    """``HTTP_ROUNDS`` rounds of the bare load followed by that round's loads; by label, the
    median of the rounds (with each round's share of its bare load), and ``bare``."""
    bare_request = http.build_request("GET", http.BARE_PATH, {})
    bare_rounds: list[dict[str, Any]] = []
    runs: dict[str, list[dict[str, Any]]] = {}
    for round_number in range(1, HTTP_ROUNDS + 1):
        bare = http.load(
            server.port,
            [bare_request] * (count * 2),
            200,
            max_seconds=max_seconds,
            workers=server.worker_pids(),
        )
        bare_rounds.append(bare)
        line = f"    round {round_number}: bare {bare['requests_per_second']:.0f} req/s"
        for label, load in loads_of_round(round_number):
            run = load()
            run["share_of_bare"] = run["requests_per_second"] / bare["requests_per_second"]
            runs.setdefault(label, []).append(run)
            line += f", {label} {run['requests_per_second']:.0f} ({run['share_of_bare']:.0%})"
        log(line)
    measured: dict[str, Any] = {"bare": http.median_of_rounds(bare_rounds)}
    for label, label_runs in runs.items():
        summary = http.median_of_rounds(label_runs)
        summary["share_of_bare"] = statistics.median(r["share_of_bare"] for r in label_runs)
        measured[label] = summary
    return measured


def floor_state(measured: dict[str, Any], backend: str) -> dict[str, Any]:
    """The real 5-item batch and its floor in one set of rounds; ``share_of_floor`` is the
    median of the rounds' own ratios (each round's real load against its floor load)."""
    real, floor = measured[backend], measured[f"{backend} {FLOOR}"]
    shares = [
        r["requests_per_second"] / f["requests_per_second"]
        for r, f in zip(real["rounds"], floor["rounds"], strict=True)
    ]
    return {
        "bare": measured["bare"],
        "batch5": real,
        "floor": floor,
        "share_of_floor": statistics.median(shares),
    }
