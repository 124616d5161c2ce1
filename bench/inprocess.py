"""In-process measurements: the upsert service by batch size against the floor, and the phases
of one 1,000-item request (parse, validate, database, serialise)."""

from __future__ import annotations

import dataclasses
import json
import statistics
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask, g
from sqlalchemy import event

from app import pg_pipeline
from app.api.envelope import json_response
from app.api.requests import json_array_body
from app.audit import utcnow
from app.batch.engine import upsert_rows
from app.licenses.schemas import KEY_FIELD
from app.licenses.service import LICENSE_SPEC, upsert_licenses
from app.tenancy import engine_for, open_session
from bench import floors
from bench.databases import BenchDatabase, Seeder, sqlite_connect
from bench.workload import ACTOR, CRED_KEY, Batch, KeyAllocator, batch, db_row, history_rows

SIZES = (1, 10, 100, 1000, 5000)
REPEATS = {1: 101, 10: 51, 100: 31, 1000: 11, 5000: 5}
PHASE_ITEMS = 1000


def median_ms(seconds: list[float]) -> float:
    return statistics.median(seconds) * 1000


@contextmanager
def counting_statements(app: Flask, name: str) -> Iterator[list[Any]]:
    """Every cursor execution on database ``name`` (what ``count_statements`` counts in tests):
    the statements as given, not compiled to text here, which is inside the timed section
    (``str()`` of a pipelined statement took 6 ms, three times a 1-item batch on PostgreSQL)."""
    statements: list[Any] = []
    with app.app_context():
        engine = engine_for(name)

    def listener(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    def pipelined(connection: Any, steps: Any, **options: Any) -> Any:
        def counted() -> Iterator[Any]:
            # One at a time: a later step is built once the earlier ones are sent.
            for statement, parameters in steps:
                statements.append(statement)
                yield statement, parameters

        return real_run(connection, counted(), **options)

    real_run = pg_pipeline.run
    event.listen(engine, "before_cursor_execute", listener)
    pg_pipeline.run = pipelined  # type: ignore[assignment]
    try:
        yield statements
    finally:
        pg_pipeline.run = real_run  # type: ignore[assignment]
        event.remove(engine, "before_cursor_execute", listener)


class Floor:
    """The floor writers of one backend; each returns seconds for the given wire items."""

    def __init__(self, database: BenchDatabase) -> None:
        self.backend = database.backend
        if database.backend == "sqlite":
            assert database.path is not None
            self.sqlite = sqlite_connect(database.path)
        else:
            import psycopg

            self.pg = psycopg.connect(database.libpq or "", options=f"-csearch_path={_schema()}")

    @property
    def methods(self) -> tuple[str, ...]:
        if self.backend == "sqlite":
            return ("sqlite3 executemany",)
        return ("psycopg executemany (pipeline)", "psycopg unnest (binary)")

    def run(self, method: str, prepared: Batch, with_history: bool = False) -> float:
        """Seconds for the driver alone to write ``prepared``'s rows (and their history)."""
        now = utcnow()
        rows = [db_row(w, now) for w in prepared.items]
        history = history_rows(prepared, str(uuid.uuid4()), now) if with_history else []
        if self.backend == "sqlite":
            rows = [tuple(floors.sqlite_value(v) for v in row) for row in rows]
            history = [tuple(floors.sqlite_value(v) for v in row) for row in history]
            return floors.sqlite_floor(self.sqlite, rows, history)
        if method.startswith("psycopg executemany"):
            return floors.pg_executemany_floor(self.pg, rows, history)
        return floors.pg_unnest_floor(self.pg, rows, history)

    def close(self) -> None:
        if self.backend == "sqlite":
            self.sqlite.close()
        else:
            self.pg.close()


def _schema() -> str:
    from bench.databases import PG_SCHEMA

    return PG_SCHEMA


def check_outcomes(outcomes: list[Any], prepared: Batch) -> None:
    """The benchmark measures real writes: every new item created, every existing one updated."""
    expected_updates = len(prepared.existing)
    statuses = [o.status for o in outcomes]
    if statuses.count(200) != expected_updates or statuses.count(201) != len(statuses) - (
        expected_updates
    ):
        bad = next(o for o in outcomes if o.status not in (200, 201))
        raise RuntimeError(f"benchmark batch failed: {bad.status} {bad.body}")


def run_service(app: Flask, name: str, prepared: Batch) -> tuple[float, list[Any]]:
    with app.app_context():
        started = time.perf_counter()
        session = open_session(name)
        outcomes = upsert_licenses(
            session, CRED_KEY, prepared.items, actor=ACTOR, activity_id=str(uuid.uuid4())
        )
        session.close()
        elapsed = time.perf_counter() - started
    check_outcomes(outcomes, prepared)
    return elapsed, outcomes


def measure_sizes(
    app: Flask,
    database: BenchDatabase,
    allocator: KeyAllocator,
    repeats: dict[int, int],
    log: Callable[[str], None],
) -> list[dict[str, Any]]:
    seeder, floor = Seeder(database), Floor(database)
    results = []
    try:
        for n in SIZES:
            service_times: list[float] = []
            floor_times: dict[str, list[float]] = {m: [] for m in floor.methods}
            statement_counts: set[int] = set()
            for rep in range(repeats[n] + 1):  # the first round warms up and is dropped
                prepared = batch(allocator.take(n), n)
                seeder.seed(prepared.existing)
                with counting_statements(app, database.name) as statements:
                    elapsed, _ = run_service(app, database.name, prepared)
                for method in floor.methods:
                    same_rows = batch(allocator.take(n), n)
                    seeder.seed(same_rows.existing)
                    floor_elapsed = floor.run(method, same_rows)
                    if rep:
                        floor_times[method].append(floor_elapsed)
                if rep:
                    service_times.append(elapsed)
                    statement_counts.add(len(statements))
            floor_ms = {m: median_ms(t) for m, t in floor_times.items()}
            best = min(floor_ms, key=floor_ms.__getitem__)
            service_ms = median_ms(service_times)
            results.append(
                {
                    "items": n,
                    "repeats": repeats[n],
                    "service_ms": service_ms,
                    "service_us_per_item": service_ms * 1000 / n,
                    "statements": sorted(statement_counts),
                    "floor_ms": floor_ms,
                    "floor_method": best,
                    "floor_us_per_item": floor_ms[best] * 1000 / n,
                    "ratio_to_floor": service_ms / floor_ms[best],
                }
            )
            log(
                f"  {database.backend} {n:>5} items: service {service_ms:8.2f} ms, floor "
                f"{floor_ms[best]:8.2f} ms ({best}), statements {sorted(statement_counts)}"
            )
    finally:
        seeder.close()
        floor.close()
    return results


def measure_phases(
    app: Flask,
    database: BenchDatabase,
    allocator: KeyAllocator,
    repeats: int,
) -> dict[str, Any]:
    """parse / validate / database / serialise of a 1,000-item request, and the whole of it.

    The floor is measured again here, interleaved with the phases, so both see the same table
    sizes (the 5,000-item runs before make the tables, and PostgreSQL's work per row, grow).
    The database part is also split by statement kind, and compared with a second floor: the
    driver alone writing the same license rows *and* the history rows the service must write
    for them (SPEC 4b), in one transaction.
    """
    seeder, floor = Seeder(database, checkpoint=True), Floor(database)
    name = database.name
    spec = LICENSE_SPEC
    times: dict[str, list[float]] = {
        k: []
        for k in (
            "parse",
            "validate",
            "database",
            "serialise",
            "whole",
            *DATABASE_PARTS,
        )
    }
    floor_plain: dict[str, list[float]] = {m: [] for m in floor.methods}
    floor_history: dict[str, list[float]] = {m: [] for m in floor.methods}
    history_counts: list[int] = []
    try:
        for rep in range(repeats + 1):
            for phase_run in ("phases", "whole"):
                prepared = batch(allocator.take(PHASE_ITEMS), PHASE_ITEMS)
                seeder.seed(prepared.existing)
                body = json.dumps(prepared.items).encode()
                with app.test_request_context(
                    method="PUT", data=body, content_type="application/json"
                ):
                    g.activity_id = str(uuid.uuid4())
                    if phase_run == "whole":
                        started = time.perf_counter()
                        items = json_array_body(app.config["BATCH_MAX_ITEMS"])
                        session = open_session(name)
                        outcomes = upsert_licenses(
                            session, CRED_KEY, items, actor=ACTOR, activity_id=g.activity_id
                        )
                        session.close()
                        json_response(
                            [o.to_wire(KEY_FIELD) for o in outcomes], status=207
                        ).get_data()
                        elapsed = {"whole": time.perf_counter() - started}
                        check_outcomes(outcomes, prepared)
                    else:
                        elapsed = _phases(app, name, spec, prepared)
                if rep:
                    for k, v in elapsed.items():
                        times[k].append(v)
            for method in floor.methods:
                for with_history, floor_times in ((False, floor_plain), (True, floor_history)):
                    same_rows = batch(allocator.take(PHASE_ITEMS), PHASE_ITEMS)
                    seeder.seed(same_rows.existing)
                    seconds = floor.run(method, same_rows, with_history=with_history)
                    if rep:
                        floor_times[method].append(seconds)
            history_counts.append(len(history_rows(same_rows, "", utcnow())))
    finally:
        seeder.close()
        floor.close()
    medians = {k: median_ms(v) for k, v in times.items()}
    floor_ms = min(median_ms(v) for v in floor_plain.values())
    with_history = min(median_ms(v) for v in floor_history.values())
    return {
        "items": PHASE_ITEMS,
        "repeats": repeats,
        "ms": medians,
        "us_per_item": {k: v * 1000 / PHASE_ITEMS for k, v in medians.items()},
        "floor_ms": floor_ms,
        "database_ratio_to_floor": medians["database"] / floor_ms,
        "whole_ratio_to_floor": medians["whole"] / floor_ms,
        "history_rows": history_counts[-1],
        "floor_with_history_ms": with_history,
        "database_ratio_to_floor_with_history": medians["database"] / with_history,
    }


#: How the database part splits (timed with SQLAlchemy's cursor and commit events, and around
#: PostgreSQL's pipelines).
DATABASE_PARTS = ("db: reads and locks", "db: license rows", "db: history rows", "db: commit")


@contextmanager
def timing_statements(app: Flask, name: str) -> Iterator[dict[str, float]]:
    spent = dict.fromkeys(DATABASE_PARTS, 0.0)
    mark: dict[str, float] = {}
    with app.app_context():
        engine = engine_for(name)

    def before(_conn: Any, _cursor: Any, _statement: str, *_args: Any) -> None:
        mark["statement"] = time.perf_counter()

    def after(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        took = time.perf_counter() - mark.pop("statement")
        if statement.startswith(("INSERT INTO license_change", "INSERT INTO license_history_h")):
            spent["db: history rows"] += took
        elif statement.startswith("INSERT INTO provider_cred_license"):
            spent["db: license rows"] += took
        else:
            spent["db: reads and locks"] += took

    def commit(_conn: Any) -> None:
        mark["commit"] = time.perf_counter()

    def pipelined(connection: Any, steps: Any, **options: Any) -> Any:
        """PostgreSQL's pipelines (``app.pg_pipeline``): BEGIN, the lock and the read are one
        round trip, timed as reads; the writes with COMMIT another, timed as license rows
        (the history, built while the server writes the rows, goes in the same round trip, so
        that Python time counts here, not under "python")."""
        started = time.perf_counter()
        try:
            return real_run(connection, steps, **options)
        finally:
            part = "db: license rows" if options.get("commit") else "db: reads and locks"
            spent[part] += time.perf_counter() - started

    real_run = pg_pipeline.run
    listeners = (("before_cursor_execute", before), ("after_cursor_execute", after))
    for event_name, listener in listeners:
        event.listen(engine, event_name, listener)
    event.listen(engine, "commit", commit)
    pg_pipeline.run = pipelined  # type: ignore[assignment]
    try:
        yield spent
    finally:
        pg_pipeline.run = real_run  # type: ignore[assignment]
        for event_name, listener in listeners:
            event.remove(engine, event_name, listener)
        event.remove(engine, "commit", commit)
    # The commit event fires just before the driver's commit, the last step of a batch (on
    # PostgreSQL the COMMIT went with the writes; what is left is SQLAlchemy's bookkeeping).
    spent["db: commit"] = time.perf_counter() - mark["commit"]


def _phases(app: Flask, name: str, spec: Any, prepared: Batch) -> dict[str, float]:
    from flask import current_app

    elapsed: dict[str, float] = {}
    started = time.perf_counter()
    items = json_array_body(current_app.config["BATCH_MAX_ITEMS"])
    elapsed["parse"] = time.perf_counter() - started

    started = time.perf_counter()
    validated = [spec.validate(raw) for raw in items]
    elapsed["validate"] = time.perf_counter() - started

    by_id = {id(raw): result for raw, result in zip(items, validated, strict=True)}
    prevalidated = dataclasses.replace(spec, validator=lambda raw: by_id[id(raw)])
    with timing_statements(app, name) as spent:
        started = time.perf_counter()
        session = open_session(name)
        outcomes = upsert_rows(
            session,
            prevalidated,
            items,
            actor=ACTOR,
            activity_id=g.activity_id,
            parent_key=CRED_KEY,
        )
        session.close()
        elapsed["database"] = time.perf_counter() - started
    elapsed.update(spent)
    check_outcomes(outcomes, prepared)

    started = time.perf_counter()
    json_response([o.to_wire(KEY_FIELD) for o in outcomes], status=207).get_data()
    elapsed["serialise"] = time.perf_counter() - started
    return elapsed
