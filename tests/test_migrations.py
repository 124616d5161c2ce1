"""Alembic migrations: applied on an empty database, idempotent, and equal to the models."""

from __future__ import annotations

import json
import shutil
import threading
import time
import warnings
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from foundation_support import empty_database, migrate_to
from sqlalchemy import DateTime, Engine, Integer, String, create_engine, inspect, text
from sqlalchemy.exc import IntegrityError, OperationalError

from app import models  # noqa: F401  (every table on the metadata)
from app.extensions import db
from app.schema import (
    alembic_config,
    current_revision,
    head_revision,
    include_for,
    upgrade_database,
)

EXPECTED_TABLES = {
    "license_history_head",
    "monitoring_run",
    "monitoring_run_license",
    "alembic_version",
    "api_key",
    "cred_license_type",
    "idempotency_record",
    "license_change",
    "provider_cred",
    "provider_cred_license",
    "refresh_token",
    "staff_user",
}


@pytest.fixture
def empty_engine(backend: str, tmp_path: Path) -> Iterator[Engine]:
    with empty_database(backend, tmp_path) as url:
        engine = create_engine(url)
        try:
            yield engine
        finally:
            engine.dispose()


@pytest.fixture
def migrated_engine(empty_engine: Engine) -> Engine:
    upgrade_database(empty_engine)
    return empty_engine


def test_one_linear_history() -> None:
    script = ScriptDirectory.from_config(alembic_config())
    assert script.get_heads() == [head_revision()]
    assert [r.revision for r in script.walk_revisions()][-1] == "0001"


def test_upgrade_applies_head_on_an_empty_database(empty_engine: Engine) -> None:
    assert inspect(empty_engine).get_table_names() == []
    assert current_revision(empty_engine) is None
    assert upgrade_database(empty_engine) == (None, head_revision())
    assert current_revision(empty_engine) == head_revision()
    assert set(inspect(empty_engine).get_table_names()) == EXPECTED_TABLES
    assert set(db.metadata.tables) | {"alembic_version"} == EXPECTED_TABLES


def test_upgrade_is_idempotent(migrated_engine: Engine) -> None:
    with migrated_engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO cred_license_type (cred_license_type_key, display, entry_date, "
                "update_date) VALUES (1, 'MD', :now, :now)"
            ),
            {"now": datetime(2024, 1, 1)},
        )
    assert upgrade_database(migrated_engine) == (head_revision(), head_revision())
    assert current_revision(migrated_engine) == head_revision()
    with migrated_engine.connect() as connection:
        assert connection.execute(text("SELECT display FROM cred_license_type")).all() == [("MD",)]
        assert connection.execute(text("SELECT version_num FROM alembic_version")).all() == [
            (head_revision(),)
        ]


def schema_differences(engine: Engine) -> list[Any]:
    """What Alembic finds between the models and the migrated database.

    Objects the models declare for one dialect only (the PostgreSQL trigram index) are left
    out on the others, as the migrations environment does (``include_for``): a SQLite
    database lacks them by design. SQLAlchemy cannot reflect SQLite's expression indexes
    (lower(license_number)); it says so and leaves them out of the comparison there.
    PostgreSQL's are compared.
    """
    with warnings.catch_warnings(), engine.connect() as connection:
        warnings.filterwarnings(
            "ignore", message="Skipped unsupported reflection of expression-based index"
        )
        warnings.filterwarnings("ignore", message=".*expression-based index.*can't reflect")
        context = MigrationContext.configure(
            connection,
            opts={
                "compare_type": True,
                "compare_server_default": True,
                "include_object": include_for(connection.dialect.name),
            },
        )
        return compare_metadata(context, db.metadata)


def test_migrated_schema_matches_the_models(migrated_engine: Engine) -> None:
    assert schema_differences(migrated_engine) == []


def test_schema_difference_would_be_seen(migrated_engine: Engine) -> None:
    """The comparison above is not vacuous: a drifted column is reported."""
    with migrated_engine.begin() as connection:
        connection.execute(text("ALTER TABLE staff_user ADD COLUMN nickname VARCHAR(5)"))
    diffs = schema_differences(migrated_engine)
    assert [(d[0], d[2], d[3].name) for d in diffs] == [("remove_column", "staff_user", "nickname")]


def test_downgrade_to_base_and_back(migrated_engine: Engine) -> None:
    migrate_to(migrated_engine, "base", direction="downgrade")
    assert set(inspect(migrated_engine).get_table_names()) == {"alembic_version"}
    assert current_revision(migrated_engine) is None
    assert upgrade_database(migrated_engine).head == head_revision()
    assert schema_differences(migrated_engine) == []


# ---------------------------------------------------------------------------------------------
# SPEC section 1, spot checks on the migrated (not the declared) schema


def columns(engine: Engine, table: str) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in inspect(engine).get_columns(table)}


def shape(column: dict[str, Any]) -> tuple[str, int | None, bool]:
    kind = column["type"]
    if isinstance(kind, String):
        return ("string", kind.length, column["nullable"])
    if isinstance(kind, DateTime):
        return ("datetime", None, column["nullable"])
    assert isinstance(kind, Integer), kind
    return ("int", None, column["nullable"])


def test_license_columns_per_spec(migrated_engine: Engine) -> None:
    found = {
        name: shape(c) for name, c in columns(migrated_engine, "provider_cred_license").items()
    }
    assert found == {
        "provider_cred_license_key": ("int", None, False),
        "provider_cred_key": ("int", None, False),
        "cred_license_type_key": ("int", None, True),
        "license_name": ("string", 512, True),
        "license_number": ("string", 50, True),
        "state": ("string", 2, True),
        "specialty_code": ("string", 10, True),
        "effective_date": ("datetime", None, True),
        "term_date": ("datetime", None, True),
        "psv_date": ("datetime", None, True),
        "entry_date": ("datetime", None, False),
        "entry_user": ("string", 20, True),
        "update_date": ("datetime", None, False),
        "update_user": ("string", 20, True),
    }


def test_provider_cred_and_license_type_columns_per_spec(migrated_engine: Engine) -> None:
    cred = {name: shape(c) for name, c in columns(migrated_engine, "provider_cred").items()}
    assert cred["provider_cred_key"] == ("int", None, False)
    assert cred["provider_id"] == ("string", 20, False)
    assert cred["cred_type_key"] == ("int", None, False)
    assert cred["effective_date"] == ("datetime", None, False)
    assert cred["term_date"] == ("datetime", None, True)
    assert cred["cred_status"] == ("string", 16, True)
    assert cred["cred_organization"] == ("string", 512, True)
    assert cred["specialty_code"] == ("string", 10, True)
    types = {name: shape(c) for name, c in columns(migrated_engine, "cred_license_type").items()}
    assert types["cred_license_type_key"] == ("int", None, False)
    assert types["display"] == ("string", 128, True)
    assert types["description"] == ("string", 512, True)


@pytest.mark.parametrize(
    ("table", "key"),
    [
        ("provider_cred_license", "provider_cred_license_key"),
        ("provider_cred", "provider_cred_key"),
        ("cred_license_type", "cred_license_type_key"),
    ],
)
def test_vbapi_keys_are_client_assigned_primary_keys(
    migrated_engine: Engine, table: str, key: str
) -> None:
    inspector = inspect(migrated_engine)
    assert inspector.get_pk_constraint(table)["constrained_columns"] == [key]
    column = columns(migrated_engine, table)[key]
    assert column["default"] is None  # no sequence, no serial: the client assigns the key
    assert column.get("identity") is None


def test_license_foreign_keys(migrated_engine: Engine) -> None:
    fks = {
        (tuple(fk["constrained_columns"]), fk["referred_table"], tuple(fk["referred_columns"]))
        for fk in inspect(migrated_engine).get_foreign_keys("provider_cred_license")
    }
    assert fks == {
        (("provider_cred_key",), "provider_cred", ("provider_cred_key",)),
        (("cred_license_type_key",), "cred_license_type", ("cred_license_type_key",)),
    }


@pytest.mark.parametrize("column", ["provider_cred_key", "cred_license_type_key"])
def test_license_foreign_keys_are_enforced(migrated_engine: Engine, column: str) -> None:
    values = {"provider_cred_key": 404, "cred_license_type_key": None}
    if column == "cred_license_type_key":
        with migrated_engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO provider_cred (provider_cred_key, provider_id, cred_type_key, "
                    "effective_date, entry_date, update_date) VALUES (1, 'P1', 1, :d, :d, :d)"
                ),
                {"d": datetime(2024, 1, 1)},
            )
        values = {"provider_cred_key": 1, "cred_license_type_key": 404}
    with pytest.raises(IntegrityError), migrated_engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO provider_cred_license (provider_cred_license_key, "
                "provider_cred_key, cred_license_type_key, entry_date, update_date) "
                "VALUES (1, :provider_cred_key, :cred_license_type_key, :d, :d)"
            ),
            values | {"d": datetime(2024, 1, 1)},
        )


def test_unique_keys_of_users_and_api_keys(migrated_engine: Engine) -> None:
    inspector = inspect(migrated_engine)

    def unique_columns(table: str) -> set[tuple[str, ...]]:
        return {tuple(u["column_names"]) for u in inspector.get_unique_constraints(table)}

    assert unique_columns("staff_user") == {("username",)}
    assert unique_columns("api_key") == {("label",), ("key_hash",)}
    assert unique_columns("refresh_token") == {("token_hash",)}
    assert shape(columns(migrated_engine, "api_key")["key_hash"]) == ("string", 64, False)


# ---------------------------------------------------------------------------------------------
# Later migrations on populated SQLite databases

REBUILD_PROVIDER_CRED = """
import sqlalchemy as sa
from alembic import op

revision = "9999"
down_revision = "{down}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Batch mode on SQLite: copy provider_cred to a new table, drop the old one, rename.
    with op.batch_alter_table("provider_cred", recreate="always") as batch_op:
        batch_op.alter_column("cred_status", type_=sa.String(32))
    {extra}


def downgrade() -> None:
    pass
"""


@pytest.fixture
def later_migration(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """``later_migration(extra)`` → a copy of the migrations with a revision 9999 after head."""
    import app.schema

    def _add(extra: str = "") -> str:
        directory = tmp_path / "migrations"
        shutil.copytree(
            app.schema.MIGRATIONS_DIR, directory, ignore=shutil.ignore_patterns("__pycache__")
        )
        (directory / "versions" / "9999_rebuild_provider_cred.py").write_text(
            REBUILD_PROVIDER_CRED.format(down=head_revision(), extra=extra)
        )
        monkeypatch.setattr(app.schema, "MIGRATIONS_DIR", directory)
        return "9999"

    return _add


def add_license(engine: Engine) -> None:
    day = datetime(2024, 1, 1)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO provider_cred (provider_cred_key, provider_id, cred_type_key, "
                "effective_date, entry_date, update_date) VALUES (1, 'P1', 1, :d, :d, :d)"
            ),
            {"d": day},
        )
        connection.execute(
            text(
                "INSERT INTO provider_cred_license (provider_cred_license_key, "
                "provider_cred_key, entry_date, update_date) VALUES (10, 1, :d, :d)"
            ),
            {"d": day},
        )


def test_batch_migration_of_a_referenced_table_on_populated_sqlite(
    backend: str, migrated_engine: Engine, later_migration: Any
) -> None:
    if backend != "sqlite":
        pytest.skip("batch (copy and move) migrations are how SQLite changes tables")
    add_license(migrated_engine)
    revision = later_migration()
    assert upgrade_database(migrated_engine).head == revision
    assert current_revision(migrated_engine) == revision
    with migrated_engine.connect() as connection:
        assert connection.execute(
            text("SELECT provider_cred_license_key, provider_cred_key FROM provider_cred_license")
        ).all() == [(10, 1)]
        # foreign keys are enforced again on the pooled connection
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    with pytest.raises(IntegrityError), migrated_engine.begin() as connection:
        connection.execute(text("DELETE FROM provider_cred"))


def test_migration_breaking_foreign_keys_on_sqlite_is_rolled_back(
    backend: str, migrated_engine: Engine, later_migration: Any
) -> None:
    if backend != "sqlite":
        pytest.skip("PostgreSQL enforces foreign keys during migrations itself")
    from app.schema import MigrationError

    add_license(migrated_engine)
    before = current_revision(migrated_engine)
    later_migration('op.execute("DELETE FROM provider_cred")')
    with pytest.raises(MigrationError) as excinfo:
        upgrade_database(migrated_engine)
    assert str(excinfo.value) == (
        "The migration left rows with broken foreign keys: "
        "[('provider_cred_license', 10, 'provider_cred', 0)]."
    )
    assert current_revision(migrated_engine) == before
    with migrated_engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM provider_cred")).scalar() == 1
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


# ---------------------------------------------------------------------------------------------
# 0002: history from one row per field to one row per change, and back


REPORT_ORDER_INDEX = "ix_monitoring_run_license_report_order"
#: What a schema at 0008 or 0009 lacks of the models: the indexes later migrations add.
LATER_INDEXES = {"ix_license_change_at", "ix_license_change_license_id"}
#: What it has that the models no longer do: the index 0011 replaces.
REPLACED_INDEXES = {"ix_license_change_license_at"}


#: What a SQLite schema before 0014 lacks that Alembic compares: the PSV date's index (the
#: license number's is an expression index, which Alembic does not compare on SQLite).
SQLITE_0014_INDEXES = {"ix_license_psv"}


#: The index 0016 gives the refresh tokens' expiry (both engines).
REFRESH_EXPIRY_INDEX = "ix_refresh_token_expires_at"


def apart_from_0016(differences: list[Any]) -> list[Any]:
    """``differences`` of a schema before 0016 without the refresh tokens' expiry index, which
    must be among them."""
    added = [d for d in differences if d[0] == "add_index" and d[1].name == REFRESH_EXPIRY_INDEX]
    assert len(added) == 1, differences
    return [d for d in differences if d not in added]


#: What 0015 changes on SQLite: its two date indexes, made again wider under new names.
SQLITE_0015_INDEXES = {"ix_license_term_sqlite", "ix_license_psv_sqlite"}
SQLITE_0015_REPLACED = {"ix_license_term", "ix_license_psv"}


def apart_from_0015(differences: list[Any]) -> list[Any]:
    """``differences`` of a schema before 0015 without what 0015 changes on SQLite: its wide
    date indexes missing, the narrow ones they replace there (PostgreSQL: neither); and without
    0016's."""

    def changed(d: Any) -> bool:
        added = d[0] == "add_index" and d[1].name in SQLITE_0015_INDEXES
        return added or (d[0] == "remove_index" and d[1].name in SQLITE_0015_REPLACED)

    return [d for d in apart_from_0016(differences) if not changed(d)]


def apart_from_0014(differences: list[Any]) -> list[Any]:
    """``differences`` of a schema before 0014 without the index 0014 gives SQLite (PostgreSQL
    has had it since 0003, so it is never among them there); and without 0015's."""
    return [
        d
        for d in apart_from_0015(differences)
        if not (d[0] == "add_index" and d[1].name in SQLITE_0014_INDEXES)
    ]


def apart_from_report_order(differences: list[Any]) -> list[Any]:
    """``differences`` of a schema before 0013 without what 0013 adds (both must be among
    them): the monitoring run licenses' ``report_order`` and its index; and without 0014's."""
    differences = apart_from_0014(differences)

    def added(d: Any) -> bool:
        column = d[0] == "add_column" and d[2] == "monitoring_run_license"
        return (column and d[3].name == "report_order") or (
            d[0] == "add_index" and d[1].name == REPORT_ORDER_INDEX
        )

    assert sorted(d[0] for d in differences if added(d)) == ["add_column", "add_index"], differences
    return [d for d in differences if not added(d)]


def apart_from_later_indexes(
    differences: list[Any],
    later_indexes: set[str] = LATER_INDEXES,
    replaced_indexes: set[str] = REPLACED_INDEXES,
) -> list[Any]:
    """``differences`` without the later migrations' indexes (each of which must be among
    them): those they add, and those they drop; and without 0013's report order."""
    differences = apart_from_report_order(differences)
    later = [d for d in differences if d[0] == "add_index" and d[1].name in later_indexes]
    assert {d[1].name for d in later} == later_indexes, differences
    gone = [d for d in differences if d[0] == "remove_index" and d[1].name in replaced_indexes]
    assert {d[1].name for d in gone} == replaced_indexes, differences
    return [d for d in differences if d not in later and d not in gone]


PER_FIELD_HISTORY = [
    # id, license, cred, activity, at, user, action, field, old, new
    (1, 10, 1, "a1", datetime(2024, 1, 1, 9), "ann", "created", "providerCred_Key", None, "1"),
    (2, 10, 1, "a1", datetime(2024, 1, 1, 9), "ann", "created", "license_Number", None, "MD-1"),
    (3, 11, 1, "a1", datetime(2024, 1, 1, 9), "ann", "created", "state", None, "CA"),
    (4, 10, 1, "a2", datetime(2024, 2, 1, 9), "bob", "updated", "credLicenseType_Key", "3", "4"),
    (
        5,
        10,
        1,
        "a2",
        datetime(2024, 2, 1, 9),
        "bob",
        "updated",
        "term_Date",
        None,
        "2026-12-31T00:00:00Z",
    ),
    (6, 10, 1, "a3", datetime(2024, 3, 1, 9), None, "deleted", None, None, None),
]
HISTORY_INSERT = text(
    "INSERT INTO license_change (id, provider_cred_license_key, provider_cred_key, activity_id, "
    'at, "user", action, field, old_value, new_value) '
    "VALUES (:id, :k, :c, :a, :at, :u, :action, :f, :old, :new)"
)
HISTORY_PARAMS = [
    dict(zip(("id", "k", "c", "a", "at", "u", "action", "f", "old", "new"), row, strict=True))
    for row in PER_FIELD_HISTORY
]


def add_per_field_history(engine: Engine) -> None:
    """The rows 0001's code wrote (ids given, as the sequence would have given them)."""
    with engine.begin() as connection:
        connection.execute(HISTORY_INSERT, HISTORY_PARAMS)
        if connection.dialect.name == "postgresql":
            connection.execute(
                text("SELECT setval(pg_get_serial_sequence('license_change', 'id'), :n)"),
                {"n": len(HISTORY_PARAMS)},
            )


def json_object(value: Any) -> Any:
    """``changes`` as read raw: JSON text on SQLite, already parsed ``jsonb`` on PostgreSQL."""
    return value if isinstance(value, dict) else json.loads(value)


def test_0002_folds_per_field_history_into_one_row_per_change(empty_engine: Engine) -> None:
    migrate_to(empty_engine, "0001")
    add_per_field_history(empty_engine)
    assert upgrade_database(empty_engine).head == head_revision()
    with empty_engine.connect() as connection:
        rows = connection.execute(
            text(
                'SELECT id, provider_cred_license_key, activity_id, "user", action, changes '
                "FROM license_change ORDER BY id"
            )
        ).all()
    assert [(r[0], r[1], r[2], r[3], r[4], json_object(r[5])) for r in rows] == [
        (
            1,
            10,
            "a1",
            "ann",
            "created",
            {"providerCred_Key": [None, 1], "license_Number": [None, "MD-1"]},
        ),
        (3, 11, "a1", "ann", "created", {"state": [None, "CA"]}),
        (
            4,
            10,
            "a2",
            "bob",
            "updated",
            {"credLicenseType_Key": [3, 4], "term_Date": [None, "2026-12-31T00:00:00Z"]},
        ),
        (6, 10, "a3", None, "deleted", {}),
    ]
    assert "field" not in columns(empty_engine, "license_change")
    assert schema_differences(empty_engine) == []


def test_0002_downgrade_unfolds_the_changes_again(empty_engine: Engine) -> None:
    migrate_to(empty_engine, "0001")
    add_per_field_history(empty_engine)
    upgrade_database(empty_engine)
    migrate_to(empty_engine, "0001", "downgrade")
    with empty_engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT provider_cred_license_key, provider_cred_key, activity_id, at, "
                '"user", action, field, old_value, new_value FROM license_change'
            ).columns(at=DateTime)
        ).all()
    assert sorted(map(tuple, rows), key=repr) == sorted(
        (row[1:] for row in PER_FIELD_HISTORY), key=repr
    )
    assert "changes" not in columns(empty_engine, "license_change")


# ---------------------------------------------------------------------------------------------
# 0003: 64-bit history ids, jsonb changes, the read indexes

ONE_CHANGE_PER_ROW = [
    (1, 10, 1, "a1", datetime(2024, 1, 1, 9), "ann", "created", '{"state": [null, "CA"]}'),
    (2, 10, 1, "a2", datetime(2024, 2, 1, 9), "bob", "updated", '{"credLicenseType_Key": [3, 4]}'),
    (3, 11, 1, "a3", datetime(2024, 3, 1, 9), None, "deleted", "{}"),
]


def add_history_0002(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO license_change (id, provider_cred_license_key, provider_cred_key, "
                'activity_id, at, "user", action, changes) '
                "VALUES (:id, :k, :c, :a, :at, :u, :action, :changes)"
            ),
            [
                dict(zip(("id", "k", "c", "a", "at", "u", "action", "changes"), r, strict=True))
                for r in ONE_CHANGE_PER_ROW
            ],
        )
        if connection.dialect.name == "postgresql":
            connection.execute(
                text("SELECT setval(pg_get_serial_sequence('license_change', 'id'), 3)")
            )


def read_history(engine: Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                'SELECT id, provider_cred_license_key, provider_cred_key, activity_id, at, "user", '
                "action, changes FROM license_change ORDER BY id"
            ).columns(at=DateTime)
        ).all()
    return [(*r[:7], json_object(r[7])) for r in rows]


def license_index_names(engine: Engine, table: str = "provider_cred_license") -> set[str]:
    """Every index of the license table (or ``table``), expression indexes included (which
    SQLAlchemy's SQLite reflection leaves out)."""
    query = {
        "sqlite": "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = :t",
        "postgresql": "SELECT indexname FROM pg_indexes "
        "WHERE tablename = :t AND schemaname = current_schema()",
    }[engine.dialect.name]
    with engine.connect() as connection:
        return set(connection.execute(text(query), {"t": table}).scalars())


EXPECTED_0003_ROWS = [(*r[:7], json.loads(r[7])) for r in ONE_CHANGE_PER_ROW]


def test_0003_keeps_the_history_and_adds_the_read_indexes(empty_engine: Engine) -> None:
    migrate_to(empty_engine, "0002")
    add_license(empty_engine)
    add_history_0002(empty_engine)
    migrate_to(empty_engine, "0003")
    assert read_history(empty_engine) == EXPECTED_0003_ROWS
    indexes = license_index_names(empty_engine)
    assert {
        "ix_license_term",
        "ix_license_psv",
        "ix_license_state_term",
        "ix_license_type_term",
        "ix_license_number_lower",
    } <= indexes
    assert "ix_provider_cred_license_term_date" not in indexes
    with empty_engine.connect() as connection:
        assert connection.execute(
            text("SELECT provider_cred_license_key FROM provider_cred_license")
        ).all() == [(10,)]
    migrate_to(empty_engine, "head")  # the later migrations on top: the models' schema
    assert schema_differences(empty_engine) == []


def test_0003_history_ids_and_changes_on_postgresql(backend: str, empty_engine: Engine) -> None:
    if backend != "postgresql":
        pytest.skip("SQLite's rowid is 64-bit already, and JSON stays text there")
    migrate_to(empty_engine, "0002")
    add_history_0002(empty_engine)
    migrate_to(empty_engine, "0003")
    with empty_engine.begin() as connection:
        kinds = dict(
            connection.execute(
                text(
                    "SELECT column_name, data_type FROM information_schema.columns "
                    "WHERE table_name = 'license_change' AND column_name IN ('id', 'changes') "
                    "AND table_schema = current_schema()"
                )
            ).all()
        )
        assert kinds == {"id": "bigint", "changes": "jsonb"}
        # past 32 bits: the sequence and the column both take it
        connection.execute(
            text("SELECT setval(pg_get_serial_sequence('license_change', 'id'), 3000000000)")
        )
        new_id = connection.execute(
            text(
                "INSERT INTO license_change (provider_cred_license_key, provider_cred_key, "
                "activity_id, at, action, changes) VALUES (12, 1, 'a4', now(), 'created', "
                '\'{"state": [null, "TX"]}\') RETURNING id'
            )
        ).scalar()
        assert new_id == 3000000001
        assert (
            connection.execute(
                text("SELECT count(*) FROM license_change WHERE changes ? 'state'")
            ).scalar()
            == 2
        )


def test_0003_downgrade_keeps_the_history(empty_engine: Engine) -> None:
    migrate_to(empty_engine, "0002")
    add_history_0002(empty_engine)
    migrate_to(empty_engine, "0003")
    migrate_to(empty_engine, "0002", "downgrade")
    assert read_history(empty_engine) == EXPECTED_0003_ROWS
    indexes = license_index_names(empty_engine)
    assert "ix_license_term" not in indexes
    assert "ix_provider_cred_license_term_date" in indexes


# ---------------------------------------------------------------------------------------------
# 0007: the existing history is chained


def test_0007_chains_the_existing_history(empty_engine: Engine) -> None:
    from sqlalchemy.orm import Session

    from app.history.models import LicenseHistoryHead
    from app.history.verification import chain_breaks

    migrate_to(empty_engine, "0002")
    rows = [
        (
            1,
            10,
            1,
            "a1",
            datetime(2024, 1, 1, 9, 0, 0, 250),
            "ann",
            "created",
            '{"state": [null, "NY"]}',
        ),
        (2, 11, 1, "a1", datetime(2024, 1, 1, 9), "ann", "created", "{}"),
        (3, 10, 1, "a2", datetime(2024, 2, 1, 9), None, "updated", '{"state": ["NY", "CA"]}'),
        (4, 10, 1, "a3", datetime(2024, 3, 1, 9), "bob", "deleted", '{"state": ["CA", null]}'),
    ]
    with empty_engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO license_change (id, provider_cred_license_key, provider_cred_key, "
                'activity_id, at, "user", action, changes) '
                "VALUES (:id, :k, :c, :a, :at, :u, :action, :changes)"
            ),
            [
                dict(zip(("id", "k", "c", "a", "at", "u", "action", "changes"), row, strict=True))
                for row in rows
            ],
        )
    assert upgrade_database(empty_engine).head == head_revision()
    with Session(empty_engine) as session:
        assert list(chain_breaks(session)) == []
        assert {h.provider_cred_license_key for h in session.query(LicenseHistoryHead)} == {10, 11}
    with empty_engine.begin() as connection:
        connection.execute(text("UPDATE license_change SET action = 'updated' WHERE id = 2"))
    with Session(empty_engine) as session:
        assert [b.license_key for b in chain_breaks(session)] == [11]
    migrate_to(empty_engine, "0002", "downgrade")
    assert "license_history_head" not in inspect(empty_engine).get_table_names()


# ---------------------------------------------------------------------------------------------
# 0006: idempotency records scoped to the user, claims as leases


IDEMPOTENCY_INSERT = text(
    "INSERT INTO idempotency_record (api_key_id, idempotency_key, request_hash, status, "
    "response_body, created_at) VALUES (1, :key, 'h', :status, :body, :at)"
)


def test_0006_keeps_idempotency_records_and_downgrades(empty_engine: Engine) -> None:
    migrate_to(empty_engine, "0002")
    at = datetime(2026, 12, 1, 9)
    with empty_engine.begin() as connection:
        connection.execute(
            IDEMPOTENCY_INSERT, {"key": "done", "status": 207, "body": "{}", "at": at}
        )
        connection.execute(
            IDEMPOTENCY_INSERT, {"key": "stuck", "status": None, "body": None, "at": at}
        )
    migrate_to(empty_engine, "0006")
    query = text(
        "SELECT idempotency_key, username, status, response_body, owner, lease_expires_at "
        "FROM idempotency_record ORDER BY idempotency_key"
    )
    with empty_engine.connect() as connection:
        rows = [tuple(row) for row in connection.execute(query)]
    assert rows == [("done", "", 207, "{}", None, None), ("stuck", "", None, None, None, None)]
    with empty_engine.begin() as connection:  # another user may now use the same key
        connection.execute(
            text(
                "INSERT INTO idempotency_record (api_key_id, username, idempotency_key, "
                "request_hash, created_at) VALUES (1, 'bob', 'done', 'h', :at)"
            ),
            {"at": at},
        )
    migrate_to(empty_engine, "0002", direction="downgrade")
    with empty_engine.connect() as connection:
        keys = connection.execute(
            text("SELECT idempotency_key, status FROM idempotency_record ORDER BY id")
        ).all()
    assert [tuple(k) for k in keys] == [("done", 207), ("stuck", None)]


def test_0005_gives_every_user_stamps_and_binds_refresh_tokens(empty_engine: Engine) -> None:
    migrate_to(empty_engine, "0002")
    with empty_engine.begin() as connection:
        for user_id, name in ((1, "ann"), (2, "bob")):
            connection.execute(
                text(
                    "INSERT INTO staff_user (id, username, password_hash, role, created_at) "
                    "VALUES (:id, :name, 'hash', 'editor', :at)"
                ),
                {"id": user_id, "name": name, "at": datetime(2024, 1, 1)},
            )
        for token_id, name in ((1, "ann"), (2, "gone")):
            connection.execute(
                text(
                    "INSERT INTO refresh_token (id, token_hash, username, expires_at, created_at) "
                    "VALUES (:id, :hash, :name, :at, :at)"
                ),
                {"id": token_id, "hash": f"h{token_id}", "name": name, "at": datetime(2030, 1, 1)},
            )
    migrate_to(empty_engine, "0005")
    with empty_engine.connect() as connection:
        users = connection.execute(
            text("SELECT id, session_stamp, token_stamp, disabled FROM staff_user ORDER BY id")
        ).all()
        tokens = connection.execute(
            text("SELECT id, user_id, token_stamp, family FROM refresh_token ORDER BY id")
        ).all()
    stamps = [u.session_stamp for u in users] + [u.token_stamp for u in users]
    assert len(set(stamps)) == 4 and all(len(s) == 32 for s in stamps)
    assert [bool(u.disabled) for u in users] == [False, False]
    assert (tokens[0].user_id, tokens[0].token_stamp) == (1, users[0].token_stamp)
    assert (tokens[1].user_id, tokens[1].token_stamp) == (None, None)  # its user is gone
    assert tokens[0].family and tokens[1].family
    migrate_to(empty_engine, "0002", "downgrade")
    with empty_engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM staff_user")).scalar() == 2
        assert connection.execute(text("SELECT count(*) FROM refresh_token")).scalar() == 2


# ---------------------------------------------------------------------------------------------
# 0008: the provider ID's trigram index (PostgreSQL), licenses by ProviderCred and key


def test_0008_adds_the_search_and_grid_indexes_and_downgrades(
    backend: str, empty_engine: Engine
) -> None:
    migrate_to(empty_engine, "0007")
    add_license(empty_engine)
    migrate_to(empty_engine, "0008")
    indexes = license_index_names(empty_engine)
    assert "ix_license_cred" in indexes
    assert "ix_provider_cred_license_provider_cred_key" not in indexes
    with warnings.catch_warnings():  # SQLite: the expression index is not reflected
        warnings.filterwarnings("ignore", message=".*expression-based index")
        reflected = inspect(empty_engine).get_indexes("provider_cred_license")
    by_name = {i["name"]: i for i in reflected}
    assert by_name["ix_license_cred"]["column_names"] == [
        "provider_cred_key",
        "provider_cred_license_key",
    ]
    trigram = "ix_provider_cred_provider_id_trgm" in license_index_names(
        empty_engine, "provider_cred"
    )
    assert trigram == (backend == "postgresql")
    assert apart_from_later_indexes(schema_differences(empty_engine)) == []

    migrate_to(empty_engine, "0007", "downgrade")
    indexes = license_index_names(empty_engine)
    assert "ix_license_cred" not in indexes
    assert "ix_provider_cred_license_provider_cred_key" in indexes
    assert "ix_provider_cred_provider_id_trgm" not in license_index_names(
        empty_engine, "provider_cred"
    )
    with empty_engine.connect() as connection:
        assert connection.execute(
            text("SELECT provider_cred_license_key FROM provider_cred_license")
        ).all() == [(10,)]


def test_0008_trigram_index_is_seen_by_the_comparison_on_postgresql(
    backend: str, migrated_engine: Engine
) -> None:
    """Left out of the comparison on SQLite only: on PostgreSQL a missing trigram index is
    reported like any other."""
    if backend != "postgresql":
        pytest.skip("the trigram index is PostgreSQL's")
    with migrated_engine.begin() as connection:
        connection.execute(text("DROP INDEX ix_provider_cred_provider_id_trgm"))
    diffs = schema_differences(migrated_engine)
    assert [(d[0], d[1].name) for d in diffs] == [
        ("add_index", "ix_provider_cred_provider_id_trgm")
    ]


def test_0008_keeps_pg_trgm_out_of_the_migrated_schema(
    backend: str, migrated_engine: Engine
) -> None:
    """The extension lives in ``public``, not in the (here throwaway) schema migrated: dropping
    that schema must not take the extension, and every trigram index of the database's other
    schemas, with it."""
    if backend != "postgresql":
        pytest.skip("pg_trgm is PostgreSQL's")
    with migrated_engine.connect() as connection:
        where, current = connection.execute(
            text(
                "SELECT extnamespace::regnamespace::text, current_schema() FROM pg_extension "
                "WHERE extname = 'pg_trgm'"
            )
        ).one()
        assert where == "public" and current != "public"
        definition = connection.execute(
            text("SELECT pg_get_indexdef('ix_provider_cred_provider_id_trgm'::regclass)")
        ).scalar_one()
    assert "USING gin (provider_id public.gin_trgm_ops)" in definition


# ---------------------------------------------------------------------------------------------
# 0009: the narrow read indexes are PostgreSQL's alone

NARROW_READ_INDEXES = {
    "ix_license_psv",
    "ix_license_state_term",
    "ix_license_type_term",
    "ix_license_number_lower",
}


def test_0009_sqlite_keeps_only_the_term_index_and_downgrades(
    backend: str, empty_engine: Engine
) -> None:
    migrate_to(empty_engine, "0008")
    add_license(empty_engine)
    migrate_to(empty_engine, "0009")
    indexes = license_index_names(empty_engine)
    assert {"ix_license_term", "ix_license_cred"} <= indexes
    if backend == "sqlite":
        assert not NARROW_READ_INDEXES & indexes
    else:
        assert indexes >= NARROW_READ_INDEXES
    assert apart_from_later_indexes(schema_differences(empty_engine)) == []

    migrate_to(empty_engine, "0008", "downgrade")
    assert license_index_names(empty_engine) >= NARROW_READ_INDEXES
    with empty_engine.connect() as connection:
        assert connection.execute(
            text("SELECT provider_cred_license_key FROM provider_cred_license")
        ).all() == [(10,)]


def test_0010_indexes_the_history_by_time_and_downgrades(empty_engine: Engine) -> None:
    migrate_to(empty_engine, "0009")
    add_license(empty_engine)
    with empty_engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO license_change (provider_cred_license_key, provider_cred_key, "
                'activity_id, at, "user", action, changes) '
                "VALUES (10, 1, 'a1', :at, 'ann', 'created', '{}')"
            ),
            {"at": datetime(2024, 1, 1, 9)},
        )
    migrate_to(empty_engine, "0010")
    assert "ix_license_change_at" in license_index_names(empty_engine, "license_change")
    later = {"ix_license_change_license_id"}  # 0011's
    assert apart_from_later_indexes(schema_differences(empty_engine), later) == []
    migrate_to(empty_engine, "0009", "downgrade")
    assert "ix_license_change_at" not in license_index_names(empty_engine, "license_change")
    with empty_engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM license_change")).scalar() == 1


def test_0011_indexes_the_history_by_license_and_id_instead_of_time_and_downgrades(
    empty_engine: Engine,
) -> None:
    """The integrity review's probes of a row's chain neighbours (license, then id), and a
    license's history page, on one index: the (license, time) one goes."""
    migrate_to(empty_engine, "0010")
    add_license(empty_engine)
    with empty_engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO license_change (provider_cred_license_key, provider_cred_key, "
                'activity_id, at, "user", action, changes) '
                "VALUES (10, 1, 'a1', :at, 'ann', 'created', '{}')"
            ),
            {"at": datetime(2024, 1, 1, 9)},
        )
    migrate_to(empty_engine, "0011")
    columns = {
        index["name"]: index["column_names"]
        for index in inspect(empty_engine).get_indexes("license_change")
    }
    assert columns["ix_license_change_license_id"] == ["provider_cred_license_key", "id"]
    assert "ix_license_change_license_at" not in columns
    assert apart_from_report_order(schema_differences(empty_engine)) == []
    migrate_to(empty_engine, "0010", "downgrade")
    names = license_index_names(empty_engine, "license_change")
    assert "ix_license_change_license_id" not in names
    assert "ix_license_change_license_at" in names
    with empty_engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM license_change")).scalar() == 1


def test_0014_sqlite_gets_the_psv_and_license_number_indexes_and_downgrades(
    backend: str, empty_engine: Engine
) -> None:
    migrate_to(empty_engine, "0013")
    add_license(empty_engine)
    wanted = {"ix_license_psv", "ix_license_number_lower"}
    at_0013 = license_index_names(empty_engine)
    assert not wanted & at_0013 if backend == "sqlite" else wanted <= at_0013
    migrate_to(empty_engine, "0014")
    assert wanted <= license_index_names(empty_engine)
    assert apart_from_0015(schema_differences(empty_engine)) == []
    migrate_to(empty_engine, "0013", "downgrade")
    assert license_index_names(empty_engine) == at_0013
    with empty_engine.connect() as connection:
        assert connection.execute(
            text("SELECT provider_cred_license_key FROM provider_cred_license")
        ).all() == [(10,)]


def test_0015_sqlite_widens_its_date_indexes_and_downgrades(
    backend: str, empty_engine: Engine
) -> None:
    """SQLite's term-date and PSV-date indexes are made again with the other date, the state
    and the type after the date and the key (so in the same order), none added; PostgreSQL's
    stay as they are."""
    migrate_to(empty_engine, "0014")
    add_license(empty_engine)
    at_0014 = license_index_names(empty_engine)
    migrate_to(empty_engine, "0015")
    names = license_index_names(empty_engine)
    if backend == "sqlite":
        assert names == (at_0014 - SQLITE_0015_REPLACED) | SQLITE_0015_INDEXES
        key, filters = "provider_cred_license_key", ["state", "cred_license_type_key"]
        assert sqlite_index_columns(empty_engine, "ix_license_term_sqlite") == [
            *("term_date", key, "psv_date"),
            *filters,
        ]
        assert sqlite_index_columns(empty_engine, "ix_license_psv_sqlite") == [
            *("psv_date", key, "term_date"),
            *filters,
        ]
    else:
        assert names == at_0014
    assert apart_from_0016(schema_differences(empty_engine)) == []
    migrate_to(empty_engine, "0014", "downgrade")
    assert license_index_names(empty_engine) == at_0014
    with empty_engine.connect() as connection:
        assert connection.execute(
            text("SELECT provider_cred_license_key FROM provider_cred_license")
        ).all() == [(10,)]


def sqlite_index_columns(engine: Engine, name: str) -> list[str]:
    with engine.connect() as connection:
        rows = connection.exec_driver_sql(f"PRAGMA index_info({name})").all()
    return [row[2] for row in sorted(rows)]


def test_0009_a_missing_narrow_index_is_seen_on_postgresql(
    backend: str, migrated_engine: Engine
) -> None:
    """The comparison leaves them out on SQLite only: on PostgreSQL a missing one is drift."""
    if backend != "postgresql":
        pytest.skip("the narrow read indexes are PostgreSQL's")
    with migrated_engine.begin() as connection:
        connection.execute(text("DROP INDEX ix_license_psv"))
    diffs = schema_differences(migrated_engine)
    assert [(d[0], d[1].name) for d in diffs] == [("add_index", "ix_license_psv")]


def waiting_for_a_lock(engine: Engine, than_pid: int) -> bool:
    """Whether a backend other than ``than_pid`` waits for a lock in this database."""
    with engine.connect() as connection:
        return bool(
            connection.scalar(
                text(
                    "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid) "
                    "WHERE NOT l.granted AND a.datname = current_database() AND l.pid <> :pid"
                ),
                {"pid": than_pid},
            )
        )


def test_upgrade_beside_a_previous_release_batch_is_not_a_deadlock(
    backend: str, empty_engine: Engine
) -> None:
    """The previous release's workers still write while ``init-db`` runs. A batch updates a
    license, then appends its history; 0003 changes the history table first, then indexes the
    license table. Taken one migration at a time, the upgrade waited for the batch's license
    while the batch waited for the history: PostgreSQL ended the upgrade as a deadlock and every
    migration done so far was rolled back, again at each try while batches ran."""
    if backend != "postgresql":
        pytest.skip("SQLite's migration takes the database's one write lock before anything")
    migrate_to(empty_engine, "0002")
    add_license(empty_engine)
    failures: list[BaseException] = []

    def upgrade() -> None:
        try:
            upgrade_database(empty_engine)
        except BaseException as exc:  # noqa: BLE001  (reported by the assertion below)
            failures.append(exc)

    with empty_engine.connect() as batch:
        batch.begin()
        batch.execute(text("UPDATE provider_cred_license SET license_name = 'renamed'"))
        batch_pid = batch.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
        migration = threading.Thread(target=upgrade)
        migration.start()
        deadline = time.monotonic() + 30
        while not waiting_for_a_lock(empty_engine, batch_pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        try:
            batch.execute(
                text(
                    "INSERT INTO license_change (provider_cred_license_key, provider_cred_key, "
                    'activity_id, at, "user", action, changes) '
                    "VALUES (10, 1, 'a1', :at, 'alice', 'updated', '{}')"
                ),
                {"at": datetime(2024, 1, 2)},
            )
            batch.commit()
        except OperationalError:
            batch.rollback()  # this side may be the one PostgreSQL ends: a 503 to retry
    migration.join(120)
    assert not migration.is_alive()
    assert failures == []
    assert current_revision(empty_engine) == head_revision()


def test_0013_numbers_the_recorded_runs_in_report_order_and_downgrades(
    empty_engine: Engine,
) -> None:
    """Each run's licenses get their place in the run's report (expired, within30/60/90,
    noTermDate, then PSV-only; a missing term date first; then key), per run, from 1."""
    migrate_to(empty_engine, "0012")
    rows = [
        # run, key, status, term date
        (1, 30, None, datetime(2030, 1, 1)),
        (1, 20, "within30", datetime(2024, 2, 1)),
        (1, 10, "expired", datetime(2024, 1, 5)),
        (1, 11, "expired", datetime(2024, 1, 1)),
        (1, 40, "noTermDate", None),
        (1, 31, None, None),
        (2, 10, "within90", datetime(2024, 4, 1)),
        (2, 11, "within60", datetime(2024, 3, 1)),
    ]
    with empty_engine.begin() as connection:
        for run in (1, 2):
            connection.execute(
                text(
                    "INSERT INTO monitoring_run (id, ran_at, ran_by, psv_window_days, expired, "
                    "within30, within60, within90, no_term_date, psv_overdue) "
                    "VALUES (:id, :at, 'ann', 120, 0, 0, 0, 0, 0, 0)"
                ),
                {"id": run, "at": datetime(2024, 1, 1)},
            )
        for run, key, status, term in rows:
            connection.execute(
                text(
                    "INSERT INTO monitoring_run_license (run_id, provider_cred_license_key, "
                    "provider_cred_key, provider_id, term_date, expiry_status, psv_overdue) "
                    "VALUES (:run, :key, 1, 'P1', :term, :status, :overdue)"
                ),
                {"run": run, "key": key, "term": term, "status": status, "overdue": True},
            )
    migrate_to(empty_engine, "0013")
    with empty_engine.connect() as connection:
        placed = connection.execute(
            text(
                "SELECT run_id, report_order, provider_cred_license_key "
                "FROM monitoring_run_license ORDER BY run_id, report_order"
            )
        ).all()
    assert [tuple(row) for row in placed] == [
        (1, 1, 11),
        (1, 2, 10),
        (1, 3, 20),
        (1, 4, 40),
        (1, 5, 31),
        (1, 6, 30),
        (2, 1, 11),
        (2, 2, 10),
    ]
    assert apart_from_0014(schema_differences(empty_engine)) == []
    migrate_to(empty_engine, "0012", "downgrade")
    columns = {c["name"] for c in inspect(empty_engine).get_columns("monitoring_run_license")}
    assert "report_order" not in columns
    with empty_engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM monitoring_run_license")).scalar() == 8


# ---------------------------------------------------------------------------------------------
# The whole upgrade: every row written under an old release kept, value for value

UNUSUAL_CHANGES = [
    {"license_Name": [None, "Ünïcödé ✓ 中文 😀"]},
    {},
    {"a": {"b": [1, 2, {"c": None}], "d": 1.5}, "big": 12345678901234567890},
    {"license_Number": ['quote" back\\slash', "new\nline\ttab"]},
]


def test_every_row_of_an_old_release_survives_the_whole_upgrade(empty_engine: Engine) -> None:
    """Written at 0002 (the first release with one history row per change), then brought to
    head in one upgrade: dates to the microsecond, text and JSON equal, nulls still null, and
    the history, written before the chain existed, verifies."""
    from sqlalchemy.orm import Session

    from app.history.verification import chain_breaks

    migrate_to(empty_engine, "0002")
    at = datetime(2024, 2, 29, 23, 59, 59, 999999)
    license_row = {
        "key": 2147483647,
        "name": "Lïcense 'q' \"dq\"",
        "number": None,
        "state": "NY",
        "term": datetime(2025, 6, 30, 0, 0, 0, 1),
        "at": at,
    }
    with empty_engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO provider_cred (provider_cred_key, provider_id, cred_type_key, "
                "effective_date, entry_date, update_date) VALUES (1, 'PRV1', 1, :at, :at, :at)"
            ),
            {"at": at},
        )
        connection.execute(
            text(
                "INSERT INTO provider_cred_license (provider_cred_license_key, provider_cred_key, "
                "license_name, license_number, state, term_date, entry_date, entry_user, "
                "update_date) VALUES (:key, 1, :name, :number, :state, :term, :at, 'Zoë', :at)"
            ),
            license_row,
        )
        for number, changes in enumerate(UNUSUAL_CHANGES, start=1):
            connection.execute(
                text(
                    "INSERT INTO license_change (id, provider_cred_license_key, "
                    'provider_cred_key, activity_id, at, "user", action, changes) '
                    "VALUES (:id, :key, 1, :activity, :at, :user, 'updated', :changes)"
                ),
                {
                    "id": number,
                    "key": license_row["key"],
                    "activity": f"a{number}",
                    "at": at.replace(microsecond=number),
                    "user": None if number == 2 else "Zoë",
                    "changes": json.dumps(changes, ensure_ascii=number % 2 == 0),
                },
            )
    assert upgrade_database(empty_engine) == ("0002", head_revision())
    with empty_engine.connect() as connection:
        stored = connection.execute(
            text(
                "SELECT provider_cred_license_key, license_name, license_number, state, "
                "term_date, entry_date, entry_user FROM provider_cred_license"
            ).columns(term_date=DateTime, entry_date=DateTime)
        ).one()
    assert stored == (
        license_row["key"],
        license_row["name"],
        None,
        "NY",
        license_row["term"],
        at,
        "Zoë",
    )
    assert read_history(empty_engine) == [
        (
            number,
            license_row["key"],
            1,
            f"a{number}",
            at.replace(microsecond=number),
            None if number == 2 else "Zoë",
            "updated",
            changes,
        )
        for number, changes in enumerate(UNUSUAL_CHANGES, start=1)
    ]
    with Session(empty_engine) as session:
        assert list(chain_breaks(session)) == []


# ---------------------------------------------------------------------------------------------
# 0016: the refresh tokens' expiry, indexed for the purge


def test_0016_indexes_the_refresh_tokens_expiry_and_downgrades(empty_engine: Engine) -> None:
    migrate_to(empty_engine, "0015")
    with empty_engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO refresh_token (token_hash, username, expires_at, created_at) "
                "VALUES ('h1', 'ann', :at, :at)"
            ),
            {"at": datetime(2024, 1, 1)},
        )
    assert REFRESH_EXPIRY_INDEX not in license_index_names(empty_engine, "refresh_token")
    migrate_to(empty_engine, "0016")
    columns = {
        index["name"]: index["column_names"]
        for index in inspect(empty_engine).get_indexes("refresh_token")
    }
    assert columns[REFRESH_EXPIRY_INDEX] == ["expires_at"]
    assert schema_differences(empty_engine) == []
    migrate_to(empty_engine, "0015", "downgrade")
    assert REFRESH_EXPIRY_INDEX not in license_index_names(empty_engine, "refresh_token")
    with empty_engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM refresh_token")).scalar() == 1
