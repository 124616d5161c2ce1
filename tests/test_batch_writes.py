"""The set-wise write path: what a batch stores, the history it writes, and its SQL cost."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import orjson
import pytest
from sqlalchemy import DateTime, select, text

from app.history.models import LicenseChange
from app.licenses.history import license_history
from app.licenses.models import ProviderCredLicense
from app.licenses.service import delete_licenses, upsert_licenses
from app.wire.fields import format_wire_datetime
from tests.factories import license_item

CRED = 1


#: The license columns that hold a date and time.
DATE_COLUMNS = ["effective_date", "term_date", "psv_date", "entry_date", "update_date"]


def stored_form_of_dates(dialect: Any) -> Callable[[Any], Any]:
    """What SQLAlchemy's own DateTime type stores for a value on ``dialect``."""
    return DateTime().dialect_impl(dialect).bind_processor(dialect) or (lambda v: v)


def doctor_license(key: int, **changes: Any) -> dict[str, Any]:
    """A license item whose values the service must normalise (case, spaces, date forms)."""
    values: dict[str, Any] = {
        "credLicenseType_Key": 1,
        "license_Name": "Medical Doctor",
        "license_Number": f"MD-{key}",
        "state": "ca",
        "specialty_Code": " FM ",
        "effective_Date": "2024-01-01T00:00:00Z",
        "term_Date": "2026-06-30 12:30:00 UTC",
        "psV_Date": "2024-02-03",
    }
    return license_item(key, CRED, **{**values, **changes})


@pytest.fixture
def upsert(session_for: Callable[..., Any], make_cred: Any, make_license_type: Any) -> Any:
    make_cred(CRED)
    make_license_type(1)
    make_license_type(2)

    def _upsert(items: list[dict[str, Any]], activity: str = "act-1", **kwargs: Any) -> list:
        with session_for() as session:
            return upsert_licenses(
                session, CRED, items, actor="alice", activity_id=activity, **kwargs
            )

    return _upsert


def stored(session_for: Callable[..., Any], key: int) -> ProviderCredLicense | None:
    with session_for() as session:
        return session.get(ProviderCredLicense, key)


def history(session_for: Callable[..., Any], key: int) -> list[tuple[Any, ...]]:
    with session_for() as session:
        rows = session.execute(
            select(LicenseChange)
            .where(LicenseChange.provider_cred_license_key == key)
            .order_by(LicenseChange.id)
        ).scalars()
        return [(r.provider_cred_key, r.activity_id, r.user, r.action, r.changes) for r in rows]


def test_create_stores_the_loaded_values_and_the_audit_stamps(upsert: Any, session_for: Any):
    outcomes = upsert([doctor_license(10)])
    assert [(o.status, o.body) for o in outcomes] == [(201, "Created")]
    row = stored(session_for, 10)
    assert row is not None
    assert (row.provider_cred_key, row.cred_license_type_key) == (CRED, 1)
    assert (row.license_name, row.license_number, row.state, row.specialty_code) == (
        "Medical Doctor",
        "MD-10",
        "CA",
        "FM",
    )
    assert row.effective_date == datetime(2024, 1, 1)
    assert row.term_date == datetime(2026, 6, 30, 12, 30)
    assert row.psv_date == datetime(2024, 2, 3)
    assert (row.entry_user, row.update_user) == ("alice", "alice")
    assert row.entry_date == row.update_date
    assert isinstance(row.entry_date, datetime)
    with session_for() as session:
        stamps = set(session.scalars(select(LicenseChange.at)))
    assert stamps == {row.entry_date}  # the same instant, to the microsecond, on both paths


def test_create_history_is_one_row_with_every_field_the_create_sets(upsert: Any, session_for: Any):
    """The key and the null fields too: the same ``changes`` as the dry run answers."""
    upsert([doctor_license(10, license_Name=None)])
    assert history(session_for, 10) == [
        (
            CRED,
            "act-1",
            "alice",
            "created",
            {
                "providerCredLicense_Key": [None, 10],
                "providerCred_Key": [None, 1],
                "credLicenseType_Key": [None, 1],
                "license_Name": [None, None],
                "license_Number": [None, "MD-10"],
                "state": [None, "CA"],
                "specialty_Code": [None, "FM"],
                "effective_Date": [None, "2024-01-01T00:00:00Z"],
                "term_Date": [None, "2026-06-30T12:30:00Z"],
                "psV_Date": [None, "2024-02-03T00:00:00Z"],
            },
        )
    ]
    # in wire order, as the history API gives them back (jsonb keeps keys in its own order)
    with session_for() as session:
        (entry,) = license_history(session, CRED, 10).entries
    assert list(entry["changes"])[:3] == [
        "providerCredLicense_Key",
        "providerCred_Key",
        "credLicenseType_Key",
    ]


def test_update_replaces_the_record_and_records_only_the_changed_fields(
    upsert: Any, session_for: Any
):
    upsert([doctor_license(10)])
    created = stored(session_for, 10)
    assert created is not None
    outcomes = upsert(
        [doctor_license(10, license_Number="MD-NEW", psV_Date=None, credLicenseType_Key=2)],
        activity="act-2",
    )
    assert [(o.status, o.body, o.action) for o in outcomes] == [(200, "Updated", "updated")]
    assert outcomes[0].changes == {
        "credLicenseType_Key": [1, 2],
        "license_Number": ["MD-10", "MD-NEW"],
        "psV_Date": ["2024-02-03T00:00:00Z", None],
    }
    row = stored(session_for, 10)
    assert row is not None
    assert (row.license_number, row.psv_date, row.cred_license_type_key) == ("MD-NEW", None, 2)
    assert row.entry_date == created.entry_date
    assert row.update_date >= created.update_date
    assert history(session_for, 10)[1:] == [
        (
            CRED,
            "act-2",
            "alice",
            "updated",
            {
                "credLicenseType_Key": [1, 2],
                "license_Number": ["MD-10", "MD-NEW"],
                "psV_Date": ["2024-02-03T00:00:00Z", None],
            },
        )
    ]


def test_an_unchanged_resend_writes_nothing(upsert: Any, session_for: Any):
    upsert([doctor_license(10)])
    before = stored(session_for, 10)
    rows_before = history(session_for, 10)
    outcomes = upsert([doctor_license(10)], activity="act-2")
    assert [(o.status, o.body, o.action) for o in outcomes] == [(200, "Updated", "unchanged")]
    after = stored(session_for, 10)
    assert after is not None and before is not None
    assert (after.update_date, after.update_user) == (before.update_date, before.update_user)
    assert history(session_for, 10) == rows_before


def test_mixed_batch_answers_in_request_order(upsert: Any, session_for: Any):
    upsert([doctor_license(1), doctor_license(2)])
    outcomes = upsert(
        [
            doctor_license(3),
            doctor_license(1, state="NY"),
            doctor_license(4, state="XX"),
            doctor_license(2),
            doctor_license(5, credLicenseType_Key=99),
        ]
    )
    assert [(o.index, o.key, o.status) for o in outcomes] == [
        (0, 3, 201),
        (1, 1, 200),
        (2, 4, 400),
        (3, 2, 200),
        (4, 5, 400),
    ]
    assert outcomes[4].body == "credLicenseType_Key: No license type 99 in this database."
    assert stored(session_for, 4) is None and stored(session_for, 5) is None
    row = stored(session_for, 1)
    assert row is not None and row.state == "NY"


def test_delete_writes_a_deleted_history_entry(upsert: Any, session_for: Any):
    upsert([doctor_license(10, license_Name=None, specialty_Code=None)])
    with session_for() as session:
        outcomes = delete_licenses(session, CRED, [10], actor="bob", activity_id="act-3")
    assert [(o.status, o.action) for o in outcomes] == [(204, "deleted")]
    assert stored(session_for, 10) is None
    deleted = [r for r in history(session_for, 10) if r[3] == "deleted"]
    assert [(r[1], r[2], r[4]) for r in deleted] == [
        (
            "act-3",
            "bob",
            {
                "providerCred_Key": [1, None],
                "credLicenseType_Key": [1, None],
                "license_Number": ["MD-10", None],
                "state": ["CA", None],
                "effective_Date": ["2024-01-01T00:00:00Z", None],
                "term_Date": ["2026-06-30T12:30:00Z", None],
                "psV_Date": ["2024-02-03T00:00:00Z", None],
            },
        )
    ]


def test_a_key_listed_twice_is_deleted_once_with_one_history_entry(upsert: Any, session_for: Any):
    upsert([doctor_license(10)])
    with session_for() as session:
        outcomes = delete_licenses(session, CRED, [10, 10], actor="bob", activity_id="act-3")
    assert [(o.status, o.body) for o in outcomes] == [
        (204, "Deleted"),
        (409, "Listed twice; deleted once."),
    ]
    assert stored(session_for, 10) is None
    assert [r[3] for r in history(session_for, 10)].count("deleted") == 1


def test_dry_run_and_atomic_failures_write_nothing(upsert: Any, session_for: Any):
    upsert([doctor_license(1)])
    dry = upsert([doctor_license(1, state="NY"), doctor_license(2)], dry_run=True)
    assert [o.status for o in dry] == [200, 201]
    atomic = upsert([doctor_license(1, state="NY"), doctor_license(3, state="XX")], atomic=True)
    assert [o.status for o in atomic] == [424, 400]
    row = stored(session_for, 1)
    assert row is not None and row.state == "CA"
    assert stored(session_for, 2) is None and stored(session_for, 3) is None


def test_a_dry_run_ends_its_transaction(upsert: Any, session_for: Any):
    """Nothing is written, and the locks the planning took (SQLite's write lock, the parent's
    row lock on PostgreSQL) are let go at once, not held until the caller's session ends."""
    with session_for() as session:
        outcomes = upsert_licenses(
            session, CRED, [doctor_license(1)], actor="alice", activity_id="dry", dry_run=True
        )
        assert [o.status for o in outcomes] == [201]
        assert not session.in_transaction()
    assert stored(session_for, 1) is None


@pytest.mark.parametrize("size", [1, 1000])
def test_a_batch_costs_the_same_statements_whatever_its_size(
    upsert: Any, count_statements: Any, size: int, backend: str
):
    """Lock/begin (on PostgreSQL with the setting that keeps the batch on its generic
    plans), existing rows with the references and the history's heads, then the created and
    updated rows (one statement on PostgreSQL, the updates a writable CTE), the history and its
    new heads (one more, with a CTE; three statements in all on SQLite): never per item."""
    existing = [doctor_license(k) for k in range(1, size + 1, 2)]
    upsert(existing)
    items = [doctor_license(k, state="NY") for k in range(1, size + 1)] + [doctor_license(size + 1)]
    with count_statements() as counter:
        outcomes = upsert(items, activity="act-2")
    assert sorted({o.status for o in outcomes}) == [200, 201]
    assert counter.count == 5, counter.statements


def test_the_batch_statements_are_planned_once_not_per_batch(
    upsert: Any, session_for: Any, backend: str
):
    """PostgreSQL: once psycopg has prepared the batch's statements (after five runs), every
    batch runs their generic plans; the server never plans them again per batch (left to
    choose, it re-planned the state read every time)."""
    if backend != "postgresql":
        pytest.skip("SQLite plans every statement itself")
    upsert([doctor_license(k) for k in range(1, 21, 2)])
    for batch in range(12):
        upsert([doctor_license(1 + 2 * batch, state="NY"), doctor_license(100 + batch)])
    with session_for() as session:
        plans = session.execute(
            text(
                "SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements "
                "WHERE statement LIKE 'SELECT -1 AS kind%' OR statement LIKE 'WITH write_%'"
            )
        ).all()
    # The read, the rows (the updates a CTE) and the history (its heads a CTE).
    assert sorted(statement.split()[0] for statement, _, _ in plans) == ["SELECT", "WITH", "WITH"]
    assert all(generic > 0 and custom == 0 for _, generic, custom in plans), plans


def test_the_history_is_built_while_the_rows_are_written(
    upsert: Any,
    session_for: Any,
    count_statements: Any,
    monkeypatch: pytest.MonkeyPatch,
    backend: str,
):
    """PostgreSQL: the rows' statement is on its way before the history is built and hashed
    (``write_tables``' ``then``), so that Python work overlaps the server's; the history
    goes in the same round trip, after the rows."""
    if backend != "postgresql":
        pytest.skip("SQLite runs one statement at a time")
    from app.batch import plan as planning

    sent_when_history_was_built: list[list[str]] = []
    real_history_rows = planning.history_rows

    with count_statements() as counter:  # counts pipelined statements as they are sent

        def history_rows(*args: Any, **kwargs: Any) -> Any:
            sent_when_history_was_built.append(list(counter.statements))
            return real_history_rows(*args, **kwargs)

        monkeypatch.setattr(planning, "history_rows", history_rows)
        upsert([doctor_license(10), doctor_license(11)])

    (before,) = sent_when_history_was_built
    assert "INSERT INTO provider_cred_license" in before[-1], before
    assert not any("license_change" in statement for statement in before)
    assert "INSERT INTO license_change" in counter.statements[-1]
    assert [r[1] for r in history(session_for, 10)] == ["act-1"]


def test_a_failure_while_the_history_is_built_writes_nothing(
    upsert: Any, session_for: Any, monkeypatch: pytest.MonkeyPatch
):
    """On PostgreSQL the rows' statement is already on the server when the history is built;
    if building it fails, the rows are rolled back with everything else (no ``COMMIT`` was
    sent) and the next batch writes normally."""
    from app.batch import plan as planning

    upsert([doctor_license(10)])
    real_history_rows = planning.history_rows

    def failing(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("simulated")

    monkeypatch.setattr(planning, "history_rows", failing)
    with pytest.raises(RuntimeError, match="simulated"):
        upsert([doctor_license(10, state="NY"), doctor_license(11)], activity="act-2")
    row = stored(session_for, 10)
    assert row is not None and row.state == "CA"
    assert stored(session_for, 11) is None
    assert [r[1] for r in history(session_for, 10)] == ["act-1"]

    monkeypatch.setattr(planning, "history_rows", real_history_rows)
    upsert([doctor_license(10, state="NY"), doctor_license(11)], activity="act-3")
    row = stored(session_for, 10)
    assert row is not None and row.state == "NY" and stored(session_for, 11) is not None
    assert [r[1] for r in history(session_for, 10)] == ["act-1", "act-3"]


def test_an_unknown_provider_credential_writes_nothing(upsert: Any, session_for: Any):
    from app.batch.outcome import ParentNotFound

    with session_for() as session, pytest.raises(ParentNotFound):
        upsert_licenses(session, 999, [doctor_license(10)], actor="alice", activity_id="a")
    with session_for() as session, pytest.raises(ParentNotFound):
        delete_licenses(session, 999, [10], actor="alice", activity_id="a")
    assert stored(session_for, 10) is None
    assert history(session_for, 10) == []


def test_text_and_instants_round_trip_exactly(upsert: Any, session_for: Any):
    name = 'Médecin "généraliste" \\ 東京 \U0001f3e5 ' + "x" * 400
    upsert([doctor_license(10, license_Name=name, effective_Date="2024-01-01T00:00:59.999Z")])
    row = stored(session_for, 10)
    assert row is not None
    assert row.license_name == name.strip()
    assert row.effective_date == datetime(2024, 1, 1, 0, 0, 59)
    upsert(
        [doctor_license(10, license_Name="plain", effective_Date="2024-01-01T00:00:59Z")],
        activity="act-2",
    )
    assert [r[4] for r in history(session_for, 10) if r[1] == "act-2"] == [
        {"license_Name": [name.strip(), "plain"]}
    ]


def test_expected_versions_compare_with_the_stored_update_date(upsert: Any, session_for: Any):
    upsert([doctor_license(10)])
    row = stored(session_for, 10)
    assert row is not None
    seen = row.update_date
    stale = upsert([doctor_license(10, state="NY")], expected_versions={10: datetime(2000, 1, 1)})
    assert [(o.status, o.action) for o in stale] == [(409, "conflict")]
    assert stale[0].current == {  # the stored version, each field as the wire spells it
        "providerCredLicense_Key": 10,
        "providerCred_Key": CRED,
        "credLicenseType_Key": 1,
        "license_Name": "Medical Doctor",
        "license_Number": "MD-10",
        "state": "CA",
        "specialty_Code": "FM",
        "effective_Date": format_wire_datetime(row.effective_date),
        "term_Date": format_wire_datetime(row.term_date),
        "psV_Date": format_wire_datetime(row.psv_date),
        "update_Date": format_wire_datetime(seen),
        "update_User": "alice",
    }
    fresh = upsert([doctor_license(10, state="NY")], expected_versions={10: seen})
    assert [(o.status, o.action) for o in fresh] == [(200, "updated")]
    gone = upsert([doctor_license(11)], expected_versions={11: seen})
    assert [o.status for o in gone] == [409]


def test_an_actor_longer_than_the_audit_columns_is_stored_cut_to_their_length(
    upsert: Any, session_for: Any
):
    """The audit and history ``user`` columns hold 20 characters: a longer actor (a caller of
    the service other than the API, whose usernames fit) is cut, not refused by PostgreSQL
    nor stored whole by SQLite."""
    actor = "a-very-long-actor-name-indeed"
    with session_for() as session:
        outcomes = upsert_licenses(
            session, CRED, [doctor_license(10)], actor=actor, activity_id="long"
        )
    assert [o.status for o in outcomes] == [201]
    row = stored(session_for, 10)
    assert row is not None
    assert (row.entry_user, row.update_user) == (actor[:20], actor[:20])
    assert [r[2] for r in history(session_for, 10)] == [actor[:20]]


def test_a_database_error_is_confined_to_its_item(
    upsert: Any, session_for: Any, monkeypatch: pytest.MonkeyPatch
):
    """The set-wise write fails; the batch is replayed item by item, one savepoint each."""
    from sqlalchemy.exc import IntegrityError

    from app.batch import write

    real_write = write.write_tables

    def failing_write(connection: Any, writes: Any, **options: Any) -> None:
        if any(row.get("provider_cred_license_key") == 13 for w in writes for row in w.rows):
            raise IntegrityError("INSERT", {}, Exception("simulated"))
        real_write(connection, writes, **options)

    monkeypatch.setattr(write, "write_tables", failing_write)
    upsert([doctor_license(1)])
    outcomes = upsert(
        [doctor_license(12), doctor_license(13), doctor_license(1, state="NY")], "act-9"
    )
    assert [(o.key, o.status) for o in outcomes] == [(12, 201), (13, 500), (1, 200)]
    assert outcomes[1].body == "Internal error (activity act-9)"
    assert stored(session_for, 12) is not None and stored(session_for, 13) is None
    row = stored(session_for, 1)
    assert row is not None and row.state == "NY"
    assert history(session_for, 13) == []
    assert [r[4] for r in history(session_for, 1) if r[1] == "act-9"] == [{"state": ["CA", "NY"]}]


def test_values_land_as_sqlalchemys_own_types_store_them(upsert: Any, session_for: Any):
    """Whatever statement shape the batch writes with (``write.write_tables``), what lands in
    each column is what SQLAlchemy itself stores for those values: on SQLite a date and time is
    text with microseconds, also when there are none (``2024-01-01 00:00:00.000000``); any
    other form would compare wrongly with the instants the reads bind."""
    upsert([doctor_license(10)])
    upsert([doctor_license(10, state="NY")], activity="act-2")
    dates = DATE_COLUMNS
    with session_for() as session:
        dialect = session.get_bind().dialect
        as_stored = stored_form_of_dates(dialect)
        row = session.get(ProviderCredLicense, 10)
        raw = session.execute(
            text(
                f"SELECT {', '.join(dates)} FROM provider_cred_license "
                "WHERE provider_cred_license_key = 10"
            )
        ).one()
        assert row is not None
        assert dict(zip(dates, raw, strict=True)) == {
            name: as_stored(getattr(row, name)) for name in dates
        }
        changes = session.execute(
            select(LicenseChange.changes, text("license_change.changes")).where(
                LicenseChange.activity_id == "act-2"
            )
        ).one()
    parsed, stored_raw = changes
    assert parsed == {"state": ["CA", "NY"]}
    assert stored_raw == (orjson.dumps(parsed).decode() if dialect.name == "sqlite" else parsed)


def test_each_row_keeps_its_own_dates_where_a_batch_repeats_some(upsert: Any, session_for: Any):
    """The SQLite writer converts each distinct date once per batch (``write._execute_sqlite``):
    rows that share a date and rows that do not must each land with their own values."""
    terms = ["2026-06-30", "2027-01-15", "2026-06-30", "2028-12-31 23:59:59 UTC", "2027-01-15"]
    upsert([doctor_license(20 + i, term_Date=term) for i, term in enumerate(terms)])
    dates = DATE_COLUMNS
    with session_for() as session:
        dialect = session.get_bind().dialect
        as_stored = stored_form_of_dates(dialect)
        raw = session.execute(
            text(
                f"SELECT provider_cred_license_key, {', '.join(dates)} FROM provider_cred_license"
                " WHERE provider_cred_license_key BETWEEN 20 AND 24"
            )
        ).all()
        rows = {
            r.provider_cred_license_key: r for r in session.scalars(select(ProviderCredLicense))
        }
    assert [rows[20 + i].term_date for i in range(5)] == [
        datetime(2026, 6, 30),
        datetime(2027, 1, 15),
        datetime(2026, 6, 30),
        datetime(2028, 12, 31, 23, 59, 59),
        datetime(2027, 1, 15),
    ]
    for key, *stored in raw:
        assert stored == [as_stored(getattr(rows[key], name)) for name in dates]


def test_what_every_row_shares_is_sent_once_not_per_row(
    upsert: Any, session_for: Any, monkeypatch: pytest.MonkeyPatch, backend: str
):
    """On PostgreSQL the rows travel as JSON documents the server parses; the audit stamps and
    the history's activity, instant and user are the same in every row of a batch, so they are
    bound once beside the documents, and every stored row still carries them."""
    if backend != "postgresql":
        pytest.skip("SQLite's executemany takes every column of every row")
    from app import pg_pipeline

    sent: list[dict[str, Any]] = []
    real_run = pg_pipeline.run

    def spying(connection: Any, steps: Any, **options: Any) -> Any:
        steps = list(steps)  # taken here: under this spy the history is built before the rows go
        if options.get("commit"):
            sent.extend(parameters for _, parameters in steps)
        return real_run(connection, steps, **options)

    upsert([doctor_license(10)])
    monkeypatch.setattr(pg_pipeline, "run", spying)
    upsert([doctor_license(10, state="NY"), doctor_license(11)], activity="act-2")

    _, history_parameters = sent  # the licenses, then their history with its heads
    documents = [
        orjson.loads(v)
        for parameters in sent
        for k, v in parameters.items()
        if k.startswith("rows_") and isinstance(v, str) and v.startswith("[")
    ]
    values = [value for document in documents for row in document for value in row.values()]
    assert values and "alice" not in values and "act-2" not in values, documents
    users = [
        sorted(k for k, v in parameters.items() if k.endswith("user") and v == "alice")
        for parameters in sent
    ]
    assert users == [["rows_0_entry_user", "rows_0_update_user"], ["rows_0_user"]], users
    assert history_parameters["rows_0_activity_id"] == "act-2", history_parameters.keys()
    updated, created = stored(session_for, 10), stored(session_for, 11)
    assert updated is not None and created is not None
    assert (updated.state, updated.update_user, created.entry_user) == ("NY", "alice", "alice")
    assert updated.update_date == created.entry_date == created.update_date
    assert updated.entry_date < updated.update_date
    assert [(r[1], r[2]) for r in history(session_for, 10)] == [
        ("act-1", "alice"),
        ("act-2", "alice"),
    ]
    assert [(r[1], r[2]) for r in history(session_for, 11)] == [("act-2", "alice")]


def test_a_write_refuses_a_shared_column_repeated_in_its_rows():
    """A value every row shares is given once (``TableWrite.shared``); a row that also carries
    it would leave two values for one column."""
    from app.batch.write import TableWrite

    table = ProviderCredLicense.__table__
    rows = [{"provider_cred_license_key": 1}, {"provider_cred_license_key": 2}]
    assert TableWrite(table, rows, shared={"entry_user": "a"}).shape.columns == (
        "provider_cred_license_key",
        "entry_user",
    )
    with pytest.raises(AssertionError, match="shared column"):
        TableWrite(
            table,
            [{"provider_cred_license_key": 1, "entry_user": "b"}],
            shared={"entry_user": "a"},
        )


def test_a_write_names_its_columns_and_leaves_the_rows_other_keys_unwritten(session_for):
    """A batch's validated items go to the write as they are (``TableWrite.columns``): keys
    a row holds beside the named columns are not written, on either engine."""
    from app.batch.write import UPSERT, TableWrite, transaction, write_tables
    from app.history.models import LicenseHistoryHead
    from app.tenancy import begin_write

    table = LicenseHistoryHead.__table__
    columns = ("provider_cred_license_key", "row_hash")
    rows = [
        {"provider_cred_license_key": key, "row_hash": f"h{key}", "not_a_column": object()}
        for key in (21, 22)
    ]
    write = TableWrite(
        table,
        rows,
        how=UPSERT,
        key_column="provider_cred_license_key",
        update_columns=("row_hash",),
        columns=columns,
    )
    assert write.shape.columns == columns
    with session_for() as session:
        begin_write(session)
        with transaction(session) as tx:
            write_tables(tx, [write], commit=tx.owned)  # as the engine commits
        session.commit()
    with session_for() as session:
        stored_rows = session.execute(select(table).order_by(table.c.provider_cred_license_key))
        assert [tuple(r) for r in stored_rows] == [(21, "h21"), (22, "h22")]
