"""Monitoring runs: ``monitor-expirables``, the snapshot it keeps, and the API that reads it."""

from __future__ import annotations

import getpass
import json
import os
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from app.audit import utcnow
from app.licenses.service import delete_licenses, upsert_licenses
from app.monitoring.models import MonitoringRun, MonitoringRunLicense
from app.monitoring.service import record_run
from app.wire.fields import format_wire_datetime
from tests.factories import license_item

RUNS = "/licenses/monitoring-runs"


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    """``other`` is on the CVO track: a 90-day PSV window of its own."""
    databases = dict(app_config["DATABASES"])
    databases["other"] = {"url": databases["other"], "psv_window_days": 90}
    return app_config | {"DATABASES": databases}


@pytest.fixture
def licenses(make_cred: Callable[..., Any], session_for: Callable[..., Any]) -> Callable[..., Any]:
    """``licenses(database)``: one license in each bucket (keys 1-6) of ``database``."""

    def _make(database: str = "main") -> dict[str, int]:
        make_cred(1, database=database, provider_id="PRV1")
        now = utcnow()
        recent, old = now - timedelta(days=10), now - timedelta(days=100)
        layout = {
            "expired": (1, now - timedelta(days=3), recent),
            "within30": (2, now + timedelta(days=10), None),
            "within60": (3, now + timedelta(days=45), old),
            "within90": (4, now + timedelta(days=75), recent),
            "later, PSV 100 days old": (5, now + timedelta(days=200), old),
            "never, PSV recent": (6, None, recent),
        }
        items = [
            license_item(
                key,
                1,
                term_Date=format_wire_datetime(term),
                psV_Date=format_wire_datetime(psv),
            )
            for key, term, psv in layout.values()
        ]
        with session_for(database) as session:
            outcomes = upsert_licenses(session, 1, items, actor="seed", activity_id="setup")
        assert [o.status for o in outcomes] == [201] * 6
        return {name: spec[0] for name, spec in layout.items()}

    return _make


def snapshot(session_for: Callable[..., Any], run_id: int, database: str = "main") -> list[tuple]:
    with session_for(database) as session:
        rows = session.scalars(
            select(MonitoringRunLicense)
            .where(MonitoringRunLicense.run_id == run_id)
            .order_by(MonitoringRunLicense.provider_cred_license_key)
        ).all()
        return [
            (
                r.provider_cred_license_key,
                r.provider_id,
                r.license_number,
                r.state,
                r.term_date,
                r.psv_date,
                r.expiry_status,
                r.psv_overdue,
            )
            for r in rows
        ]


def test_monitor_expirables_records_a_run_with_its_buckets_and_licenses(
    licenses: Any, runner: Any, session_for: Callable[..., Any], client: Any, auth_headers: Any
) -> None:
    licenses()
    result = runner.invoke(args=["monitor-expirables", "--by", "cron@host"])
    assert result.exit_code == 0, result.output
    assert "Monitoring run 1 in 'main'" in result.output
    assert "(PSV window 120 days): 1 expired, 1 within 30 days, 1 within 60, 1 within 90, " in (
        result.output
    )
    assert "1 without a term date, 1 PSV overdue." in (result.output)
    with session_for() as session:
        run = session.scalars(select(MonitoringRun)).one()
    assert (run.ran_by, run.psv_window_days) == ("cron@host", 120)
    assert abs(run.ran_at - utcnow()) < timedelta(minutes=1)
    expirables = client.get("/licenses/expirables", headers=auth_headers()).get_json()["data"]
    assert run.counts == {
        "expired": 1,
        "within30": 1,
        "within60": 1,
        "within90": 1,
        "no_term_date": expirables["counts"]["noTermDate"],
        "psv_overdue": expirables["counts"]["psvOverdue"],
    }
    assert run.psv_overdue == 1  # license 2: no PSV date; 100 days is inside 120
    assert [(row[0], row[6], row[7]) for row in snapshot(session_for, run.id)] == [
        (1, "expired", False),
        (2, "within30", True),
        (3, "within60", False),
        (4, "within90", False),
        (6, "noTermDate", False),
    ]


def test_monitor_expirables_does_not_read_the_runs_licenses_back(
    licenses: Any, runner: Any, count_statements: Any
) -> None:
    """It prints the counts: reading the run's licenses back held every one in memory, and a
    run holds every license with PSV overdue, most of a large plan's."""
    licenses()
    with count_statements() as counter:
        result = runner.invoke(args=["monitor-expirables", "--by", "cron@host"])
    assert result.exit_code == 0, result.output
    assert "1 without a term date, 1 PSV overdue." in result.output
    reads = [s for s in counter.statements if s.lstrip().upper().startswith("SELECT")]
    assert not [s for s in reads if "monitoring_run_license.provider_id" in s], reads


def test_a_run_uses_and_records_its_database_psv_window(
    licenses: Any, runner: Any, session_for: Callable[..., Any]
) -> None:
    licenses("other")
    result = runner.invoke(args=["monitor-expirables", "--database", "other"])
    assert result.exit_code == 0, result.output
    assert "(PSV window 90 days)" in result.output
    with session_for("other") as session:
        run = session.scalars(select(MonitoringRun)).one()
        assert run.ran_by.startswith("monitor-expirables:")
    assert run.psv_window_days == 90
    assert run.psv_overdue == 3  # licenses 2 (none), 3 and 5 (100 days > 90)
    assert [(row[0], row[6], row[7]) for row in snapshot(session_for, run.id, "other")] == [
        (1, "expired", False),
        (2, "within30", True),
        (3, "within60", True),
        (4, "within90", False),
        (5, None, True),
        (6, "noTermDate", False),
    ]


def test_a_run_does_not_change_when_licenses_change_afterwards(
    licenses: Any, session_for: Callable[..., Any]
) -> None:
    licenses()
    with session_for() as session:
        run_id = record_run(session, now=utcnow(), ran_by="test", psv_window_days=120)
    before = snapshot(session_for, run_id)
    with session_for() as session:
        counts_before = session.get(MonitoringRun, run_id).counts  # type: ignore[union-attr]
    with session_for() as session:
        outcomes = upsert_licenses(
            session,
            1,
            [
                license_item(1, 1, term_Date="2030-01-01", psV_Date=None, license_Number="NEW"),
                license_item(2, 1, term_Date="2030-01-01", state="CA"),
            ],
            actor="bob",
            activity_id="later",
        )
        assert [o.status for o in outcomes] == [200, 200]
    with session_for() as session:
        delete_licenses(session, 1, [3], actor="bob", activity_id="gone")
    assert snapshot(session_for, run_id) == before
    with session_for() as session:
        assert session.get(MonitoringRun, run_id).counts == counts_before  # type: ignore[union-attr]
        assert session.scalar(select(func.count()).select_from(MonitoringRunLicense)) == 5
    # ... while a new run sees the licenses as they are now.
    with session_for() as session:
        later = record_run(session, now=utcnow(), ran_by="test", psv_window_days=120)
    assert [(row[0], row[6]) for row in snapshot(session_for, later)] == [
        (1, None),  # term 2030 now, in for its PSV (cleared)
        (2, None),  # term 2030 now, in for its PSV (never set)
        (4, "within90"),
        (6, "noTermDate"),
    ]


def test_a_run_records_at_most_64_characters_of_who_ran_it(
    licenses: Any, session_for: Callable[..., Any]
) -> None:
    """The column holds 64 (PostgreSQL refuses more): ``record_run`` keeps the first 64."""
    with session_for("main") as session:
        run_id = record_run(session, now=utcnow(), ran_by="x" * 63 + "yz", psv_window_days=120)
        assert session.get(MonitoringRun, run_id).ran_by == "x" * 63 + "y"


def test_monitor_expirables_refuses_an_unknown_database(runner: Any) -> None:
    result = runner.invoke(args=["monitor-expirables", "--database", "nope"])
    assert result.exit_code == 2
    assert "'nope' is not a configured database." in result.output


# ---------------------------------------------------------------------------------------------
# The API


@pytest.fixture
def three_runs(licenses: Any, session_for: Callable[..., Any]) -> list[int]:
    licenses()
    ids = []
    for number in range(3):
        with session_for() as session:
            ids.append(
                record_run(
                    session,
                    now=utcnow() + timedelta(seconds=number),
                    ran_by=f"run-{number}",
                    psv_window_days=120,
                )
            )
    return ids


def test_the_runs_list_is_paged_newest_first(
    three_runs: list[int], client: Any, auth_headers: Any
) -> None:
    response = client.get(f"{RUNS}?pageSize=2", headers=auth_headers(role="viewer"))
    assert response.status_code == 200
    body = response.get_json()
    assert [run["id"] for run in body["data"]] == [three_runs[2], three_runs[1]]
    assert json.loads(response.headers["x-pagination"]) == {
        "TotalCount": 3,
        "TotalPages": 2,
        "CurrentPage": 1,
        "PageSize": 2,
    }
    run = body["data"][0]
    assert set(run) == {"id", "ranAt", "ranBy", "psvWindowDays", "counts"}
    assert run["ranBy"] == "run-2" and run["psvWindowDays"] == 120
    assert run["counts"] == {
        "expired": 1,
        "within30": 1,
        "within60": 1,
        "within90": 1,
        "noTermDate": 1,
        "psvOverdue": 1,
    }
    assert run["ranAt"].endswith("Z")
    second = client.get(f"{RUNS}?pageSize=2&page=2", headers=auth_headers()).get_json()
    assert [r["id"] for r in second["data"]] == [three_runs[0]]
    oldest_first = client.get(f"{RUNS}?sortBy=ranAt:asc", headers=auth_headers()).get_json()
    assert [r["id"] for r in oldest_first["data"]] == three_runs


@pytest.mark.parametrize(
    ("query", "field"), [("page=0", "page"), ("pageSize=5000", "pageSize"), ("sortBy=x", "sortBy")]
)
def test_the_runs_list_rejects_bad_paging(
    client: Any, auth_headers: Any, query: str, field: str
) -> None:
    response = client.get(f"{RUNS}?{query}", headers=auth_headers())
    assert response.status_code == 400
    assert list(response.get_json()["error"]["errors"]) == [field]


def test_one_run_with_its_licenses(three_runs: list[int], client: Any, auth_headers: Any) -> None:
    response = client.get(f"{RUNS}/{three_runs[0]}", headers=auth_headers())
    assert response.status_code == 200
    run = response.get_json()["data"]
    assert run["ranBy"] == "run-0"
    assert [
        (item["providerCredLicense_Key"], item["expiryStatus"], item["psvOverdue"])
        for item in run["licenses"]
    ] == [
        (1, "expired", False),
        (2, "within30", True),
        (3, "within60", False),
        (4, "within90", False),
        (6, "noTermDate", False),
    ]
    first = run["licenses"][0]
    assert first["provider_ID"] == "PRV1" and first["license_Number"] == "N-1"
    assert first["term_Date"].endswith("Z") and first["providerCred_Key"] == 1
    # also under VBAPI's base path
    assert (
        client.get(f"/vbasoftware{RUNS}/{three_runs[0]}", headers=auth_headers()).status_code == 200
    )


def test_a_runs_licenses_are_paged(three_runs: list[int], client: Any, auth_headers: Any) -> None:
    """A run holds every license found at that moment: read a page at a time, in its order."""
    url = f"{RUNS}/{three_runs[0]}"

    def page(query: str) -> tuple[list[int], dict[str, int]]:
        response = client.get(f"{url}?{query}", headers=auth_headers())
        assert response.status_code == 200
        keys = [item["providerCredLicense_Key"] for item in response.get_json()["data"]["licenses"]]
        return keys, json.loads(response.headers["x-pagination"])

    assert page("pageSize=2") == (
        [1, 2],
        {"TotalCount": 5, "TotalPages": 3, "CurrentPage": 1, "PageSize": 2},
    )
    assert page("pageSize=2&page=3")[0] == [6]
    assert page("pageSize=2&page=9")[0] == []
    assert page("pageSize=1000&page=2147483647")[0] == []  # past any place a run can hold
    assert page("")[0] == [1, 2, 3, 4, 6]  # 100 a page unless asked
    for bad in ("pageSize=0", "pageSize=1001", "page=x"):
        assert client.get(f"{url}?{bad}", headers=auth_headers()).status_code == 400


def test_an_unknown_run_is_404_and_runs_are_per_database(
    three_runs: list[int], client: Any, auth_headers: Any
) -> None:
    response = client.get(f"{RUNS}/999", headers=auth_headers())
    assert response.status_code == 404
    assert response.get_json()["error"]["detail"] == "No monitoring run 999 in this database."
    other = client.get(f"{RUNS}/{three_runs[0]}", headers=auth_headers("other"))
    assert other.status_code == 404
    assert client.get(RUNS, headers=auth_headers("other")).get_json()["data"] == []


def test_the_runs_need_authentication(client: Any) -> None:
    response = client.get(RUNS, headers={"vbasoftware-database": "main"})
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("by", "reason"),
    [
        ("x" * 65, "has 65 characters; a run records at most 64."),
        ("", "must not be empty: it is recorded as who did this."),
        ("a\x01b", "has a control character; use printable text."),
    ],
)
def test_monitor_by_must_fit_and_be_printable(runner: Any, by: str, reason: str) -> None:
    """300 characters were stored on SQLite (and failed on PostgreSQL's 64-character column)."""
    result = runner.invoke(args=["monitor-expirables", "--by", by])
    assert result.exit_code == 2
    assert reason in result.output


def test_a_run_by_a_user_without_a_name_is_recorded_by_its_uid(
    licenses: Any, runner: Any, session_for: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A container's arbitrary uid has no passwd entry (and often no USER): getpass.getuser
    raised, and the scheduled run ended with a traceback, recording nothing."""

    def no_passwd_entry() -> str:
        raise KeyError(f"getpwuid(): uid not found: {os.getuid()}")

    monkeypatch.setattr(getpass, "getuser", no_passwd_entry)
    licenses("main")
    result = runner.invoke(args=["monitor-expirables", "--database", "main"])
    assert result.exit_code == 0, result.output
    with session_for("main") as session:
        run = session.scalars(select(MonitoringRun)).one()
    assert run.ran_by.startswith(f"monitor-expirables:uid{os.getuid()}@")


def test_a_run_stores_each_licenses_place_in_its_report(
    three_runs: list[int], session_for: Callable[..., Any]
) -> None:
    """Places 1 to the run's size, in the report's order (expired first, then by term date,
    the PSV-only rows last): what a page reads its rows by."""
    with session_for() as session:
        placed = session.execute(
            select(
                MonitoringRunLicense.report_order, MonitoringRunLicense.provider_cred_license_key
            )
            .where(MonitoringRunLicense.run_id == three_runs[0])
            .order_by(MonitoringRunLicense.report_order)
        ).all()
    assert [tuple(row) for row in placed] == [(1, 1), (2, 2), (3, 3), (4, 4), (5, 6)]


def test_a_run_page_reads_its_own_places_not_the_whole_run(
    app: Any, three_runs: list[int], client: Any, auth_headers: Any
) -> None:
    """A page selects its places (a range of the run's index), never sorts or skips the rest
    of the run: its cost does not grow with the run."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if "FROM monitoring_run_license" in statement and "count(" not in statement:
            statements.append(statement)

    event.listen(Engine, "before_cursor_execute", record)
    try:
        response = client.get(f"{RUNS}/{three_runs[0]}?pageSize=2&page=2", headers=auth_headers())
    finally:
        event.remove(Engine, "before_cursor_execute", record)
    assert [i["providerCredLicense_Key"] for i in response.get_json()["data"]["licenses"]] == [3, 4]
    page = [s for s in statements if "report_order BETWEEN" in s]
    assert len(page) == 1 and "OFFSET" not in page[0], statements


def test_a_run_recorded_without_places_is_read_in_the_same_order(
    three_runs: list[int], client: Any, auth_headers: Any, session_for: Callable[..., Any]
) -> None:
    """A run recorded by the release before (a rolling upgrade: its workers still record runs
    after migration 0013) has no places: its pages come in the same order, computed."""
    from sqlalchemy import update

    url = f"{RUNS}/{three_runs[0]}"

    def keys(query: str) -> list[int]:
        body = client.get(f"{url}?{query}", headers=auth_headers()).get_json()
        return [item["providerCredLicense_Key"] for item in body["data"]["licenses"]]

    placed = [keys(f"pageSize=2&page={n}") for n in (1, 2, 3)]
    with session_for() as session:
        session.execute(
            update(MonitoringRunLicense)
            .where(MonitoringRunLicense.run_id == three_runs[0])
            .values(report_order=None)
        )
        session.commit()
    assert [keys(f"pageSize=2&page={n}") for n in (1, 2, 3)] == placed == [[1, 2], [3, 4], [6]]
