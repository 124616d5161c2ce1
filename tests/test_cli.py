"""Every CLI command (SPEC section 6) through Flask's CLI runner, each with ``--database``."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shlex
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
from foundation_support import empty_database, migrate_to, watch_filesystem
from sqlalchemy import func, inspect, select, text
from sqlalchemy.engine import make_url

from app import cli
from app.audit import utcnow
from app.auth.models import ApiKey, StaffUser
from app.credentials.models import ProviderCred
from app.extensions import db
from app.history.models import LicenseChange
from app.license_types.models import CredLicenseType
from app.licenses.models import ProviderCredLicense
from app.schema import current_revision, head_revision
from app.tenancy import engine_for
from tests.factories import bare_license_item

BATCH = "/provider-credentialing/{}/licenses-batch"
UNKNOWN = (
    "Error: Invalid value for '--database': {!r} is not a configured database. "
    "Configured: main, other, fresh."
)


@pytest.fixture
def fresh_url(backend: str, tmp_path: Path) -> Iterator[str]:
    with empty_database(backend, tmp_path) as url:
        yield url


@pytest.fixture
def app_config(app_config: dict[str, Any], fresh_url: str) -> dict[str, Any]:
    """The usual ``main`` (first, so the default) and ``other``, plus an empty ``fresh``."""
    return app_config | {"DATABASES": app_config["DATABASES"] | {"fresh": fresh_url}}


def invoke(runner: Any, *args: str, input: str | None = None) -> Any:
    return runner.invoke(args=list(args), input=input)


def ok(result: Any) -> str:
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert result.exit_code == 0, result.output
    return result.output


def table_names(app: Any, database: str) -> set[str]:
    with app.app_context():
        return set(inspect(engine_for(database)).get_table_names())


def count(session: Any, model: Any) -> int:
    return session.scalar(select(func.count()).select_from(model))


def login(client: Any, database: str, api_key: str, username: str, password: str) -> Any:
    basic = base64.b64encode(f"{username}:{password}".encode()).decode()
    return client.post(
        "/user-authentication",
        headers={
            "vbasoftware-database": database,
            "x-api-key": api_key,
            "Authorization": f"Basic {basic}",
        },
    )


def api_headers(client: Any, database: str, api_key: str, username: str, password: str) -> dict:
    response = login(client, database, api_key, username, password)
    assert response.status_code == 200, response.get_json()
    token = response.get_json()["data"]["authenticationResult"]["idToken"]
    return {
        "vbasoftware-database": database,
        "x-api-key": api_key,
        "Authorization": f"Bearer {token}",
    }


# ---------------------------------------------------------------------------------------------
# init-db


def test_init_db_creates_every_table_on_an_empty_database(runner: Any, app: Any) -> None:
    assert table_names(app, "fresh") == set()
    output = ok(invoke(runner, "init-db", "--database", "fresh"))
    assert output == f"Database 'fresh' created at schema revision {head_revision()}.\n"
    assert table_names(app, "fresh") == set(db.metadata.tables) | {"alembic_version"}
    with app.app_context():
        assert current_revision(engine_for("fresh")) == head_revision()


def test_init_db_is_idempotent(runner: Any, app: Any, session_for: Callable[..., Any]) -> None:
    first = ok(invoke(runner, "init-db", "--database", "fresh"))
    ok(invoke(runner, "seed", "--database", "fresh", "--providers", "2"))
    with session_for("fresh") as session:
        creds = count(session, ProviderCred)
    second = ok(invoke(runner, "init-db", "--database", "fresh"))
    assert first == f"Database 'fresh' created at schema revision {head_revision()}.\n"
    assert second == (
        f"Database 'fresh' is at schema revision {head_revision()} already; nothing to do.\n"
    )
    with app.app_context():
        assert current_revision(engine_for("fresh")) == head_revision()
    with session_for("fresh") as session:
        assert count(session, ProviderCred) == creds == 2  # data survives a second init-db


def test_init_db_says_which_revisions_it_migrated_between(runner: Any, app: Any) -> None:
    with app.app_context():
        migrate_to(engine_for("fresh"), "0010")
    output = ok(invoke(runner, "init-db", "--database", "fresh"))
    assert output == f"Database 'fresh' migrated from schema revision 0010 to {head_revision()}.\n"
    with app.app_context():
        assert current_revision(engine_for("fresh")) == head_revision()


def test_init_db_touches_only_the_named_database(runner: Any, app: Any) -> None:
    ok(invoke(runner, "init-db", "--database", "fresh"))
    assert "alembic_version" in table_names(app, "main")  # already migrated by the fixtures
    ok(invoke(runner, "init-db"))  # default: main, already at head
    assert table_names(app, "fresh") == set(db.metadata.tables) | {"alembic_version"}


# ---------------------------------------------------------------------------------------------
# --database


COMMANDS = [
    ["init-db"],
    ["seed"],
    ["seed", "--providers", "2"],
    ["create-user", "bob", "--password", "long enough"],
    ["create-api-key", "integration"],
    ["revoke-api-key", "integration"],
    ["demo"],
    ["export-licenses"],
]


HOSTILE = "../../etc/passwd"
UNKNOWN_CASES = (
    [(command, HOSTILE) for command in COMMANDS]
    # An explicitly empty name is not the default database (only an omitted option is).
    + [(command, "") for command in [*COMMANDS, ["import-licenses", "-"], ["users", "list"]]]
    + [
        (["init-db"], name)
        for name in ("nope", "main/../other", "sqlite:////tmp/credgrid-hostile.db", "MAIN")
    ]
)


@pytest.mark.parametrize(
    ("command", "name"), UNKNOWN_CASES, ids=[f"{' '.join(c)} {n}" for c, n in UNKNOWN_CASES]
)
def test_unknown_database_fails_cleanly(
    runner: Any, app: Any, tmp_path: Path, command: list[str], name: str
) -> None:
    before = sorted(tmp_path.rglob("*"))
    with watch_filesystem() as events:
        result = invoke(runner, *command, "--database", name)
    assert result.exit_code == 2
    assert UNKNOWN.format(name) in result.output
    assert "Traceback" not in result.output
    for url in app.config["DATABASES"].values():  # names only: a URL may hold a password
        assert url not in result.output
    assert [e for e in events if e[0] == "sqlite3.connect"] == []
    assert [e for e in events if "passwd" in str(e[1]) or "hostile" in str(e[1])] == []
    assert sorted(tmp_path.rglob("*")) == before
    assert not Path("/tmp/credgrid-hostile.db").exists()


@pytest.mark.parametrize(
    "command",
    [
        ["seed"],
        ["create-user", "bob", "--password", "long enough"],
        ["create-api-key", "integration"],
        ["revoke-api-key", "integration"],
        ["export-licenses"],
        ["import-licenses", "{csv}"],
    ],
    ids=lambda c: c[0],
)
def test_commands_on_a_database_without_schema_say_to_run_init_db(
    runner: Any, app: Any, tmp_path: Path, fresh_url: str, command: list[str]
) -> None:
    if fresh_url.startswith("sqlite"):
        Path(make_url(fresh_url).database or "").touch()  # a database file without tables
    csv = tmp_path / "licenses.csv"
    csv.write_text("providerCredLicense_Key,providerCred_Key\n1,1\n")
    args = [arg.format(csv=csv) for arg in command]
    result = invoke(runner, *args, "--database", "fresh")
    assert result.exit_code == 1
    assert result.output == (
        "Error: Database 'fresh' does not have the current schema; "
        "run 'flask --app app init-db --database fresh' first.\n"
    )
    assert table_names(app, "fresh") == set()


SCHEMA_COMMANDS = [
    ["users", "list"],
    ["export-licenses"],
    ["verify-history"],
    ["integrity-report", "--since", "2024-01-01"],
    ["monitor-expirables"],
    ["purge"],
    ["seed"],
    ["create-api-key", "integration"],
    ["create-user", "bob", "--password", "long enough"],
]


@pytest.mark.parametrize("command", SCHEMA_COMMANDS, ids=lambda c: " ".join(c))
def test_a_sqlite_file_that_does_not_exist_is_one_line_and_is_not_created(
    fresh_app: Callable[..., Any], tmp_path: Path, command: list[str]
) -> None:
    """Connecting creates a SQLite file (and its -wal and -shm): a command that needs the
    schema would leave an empty database behind, at a path perhaps mistyped, before saying
    to run init-db. It names the file and creates nothing; init-db and demo create it."""
    directory = tmp_path / "data"
    directory.mkdir()
    path = directory / "main.db"
    application = fresh_app(DATABASES={"main": f"sqlite:///{path}"})
    result = application.test_cli_runner().invoke(args=command)
    assert result.exit_code == 1
    assert result.output == (
        f"Error: Database 'main' has no file {path}: check its path in FLASK_DATABASES, or run "
        "'flask --app app init-db --database main' to create it.\n"
    )
    assert list(directory.iterdir()) == []
    ok(application.test_cli_runner().invoke(args=["init-db"]))
    assert path.exists()


@pytest.mark.parametrize(
    "command",
    [["init-db"], ["demo"], ["export-licenses"], ["users", "list"], ["verify-history"]],
    ids=lambda c: " ".join(c),
)
def test_a_schema_newer_than_the_code_is_one_line_saying_to_upgrade(
    runner: Any, app: Any, command: list[str]
) -> None:
    """A database the next release's ``init-db`` migrated: this code cannot migrate it (Alembic
    knows no such revision) and must not say to run ``init-db``, which cannot help."""
    ok(invoke(runner, "init-db", "--database", "fresh"))
    with app.app_context(), engine_for("fresh").begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    result = invoke(runner, *command, "--database", "fresh")
    assert result.exit_code == 1
    assert result.output == (
        "Error: Database 'fresh' is at schema revision 9999, newer than this version's "
        f"{head_revision()}: upgrade credgrid.\n"
    )
    with app.app_context():
        assert current_revision(engine_for("fresh")) == "9999"


def test_every_command_has_a_database_option(runner: Any) -> None:
    commands = ("init-db", "seed", "create-user", "create-api-key", "revoke-api-key", "demo")
    for command in (*commands, "export-licenses", "import-licenses"):
        output = ok(invoke(runner, command, "--help"))
        assert "--database TEXT" in output
        assert "(default: the first in FLASK_DATABASES)" in " ".join(output.split())


def test_commands_default_to_the_first_configured_database(
    runner: Any, session_for: Callable[..., Any]
) -> None:
    output = ok(invoke(runner, "create-user", "bob", "--password", "long enough"))
    assert output == "Created editor 'bob' in database 'main'.\n"
    with session_for("main") as session:
        assert session.scalar(select(StaffUser.username)) == "bob"
    with session_for("other") as session:
        assert count(session, StaffUser) == 0


# ---------------------------------------------------------------------------------------------
# a bad setting, an unreachable database, a full disk: one line, no traceback

GOOD_SECRET = "x" * 32
BAD_SETTINGS = {
    "short secret": (
        {"FLASK_SECRET_KEY": "short"},
        "Error: FLASK_SECRET_KEY must be at least 32 characters long.",
    ),
    "no database": (
        {"FLASK_DATABASES": "{}"},
        "Error: FLASK_DATABASES must be a non-empty JSON object mapping database names to "
        'SQLAlchemy URLs, e.g. {"demo": "sqlite:///instance/demo.db"}.',
    ),
    "unknown scheme": (
        {"FLASK_DATABASES": '{"main": "mysql://db/x"}'},
        "Error: FLASK_DATABASES['main'] uses 'mysql'; only sqlite and postgresql are supported.",
    ),
}


@pytest.mark.parametrize(("env", "message"), BAD_SETTINGS.values(), ids=list(BAD_SETTINGS))
def test_a_bad_setting_is_one_line_naming_it(
    tmp_path: Path, env: dict[str, str], message: str
) -> None:
    """What ``flask --app app <command>`` prints when the app factory refuses the settings."""
    from click.testing import CliRunner
    from flask.cli import cli as flask_cli

    environment = {
        "FLASK_SECRET_KEY": GOOD_SECRET,
        "FLASK_DATABASES": json.dumps({"main": f"sqlite:///{tmp_path / 'main.db'}"}),
        "CREDGRID_INSTANCE_PATH": str(tmp_path / "instance"),
        **env,
    }
    result = CliRunner().invoke(flask_cli, ["--app", "app", "export-licenses"], env=environment)
    assert result.exit_code == 1
    assert result.output == message + "\n"


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("sqlite:///{tmp}/missing/main.db", "unable to open database file"),
        ("postgresql://postgres@127.0.0.1:1/credgrid", "connection failed: "),
    ],
    ids=["missing directory", "closed port"],
)
@pytest.mark.parametrize("command", [["export-licenses"], ["users", "list"], ["init-db"]])
def test_an_unreachable_database_is_one_line_naming_it(
    fresh_app: Callable[..., Any], tmp_path: Path, url: str, reason: str, command: list[str]
) -> None:
    application = fresh_app(DATABASES={"main": url.format(tmp=tmp_path)})
    result = application.test_cli_runner().invoke(args=command)
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert result.output.startswith(f"Error: Database 'main' is unavailable: {reason}")
    assert len(result.output.splitlines()) == 1


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("missing/main.db", "the directory {tmp}/missing of its file does not exist"),
        ("", "{tmp} is a directory, not a file"),
    ],
    ids=["missing directory", "a directory"],
)
@pytest.mark.parametrize("command", [["export-licenses"], ["users", "list"], ["init-db"]])
def test_a_sqlite_path_that_cannot_be_a_file_is_named_with_what_is_wrong(
    fresh_app: Callable[..., Any], tmp_path: Path, path: str, reason: str, command: list[str]
) -> None:
    """SQLite says only "unable to open database file", which names neither the path nor why;
    a mistyped directory in FLASK_DATABASES is the likely cause."""
    application = fresh_app(DATABASES={"main": f"sqlite:///{tmp_path / path}"})
    result = application.test_cli_runner().invoke(args=command)
    assert result.exit_code == 1
    assert result.output == (
        "Error: Database 'main' is unavailable: unable to open database file "
        f"({reason.format(tmp=tmp_path)}: check its path in FLASK_DATABASES).\n"
    )


@pytest.mark.parametrize("content", [b"not a database\n" * 100, b"\x00" * 4096])
@pytest.mark.parametrize("command", [["export-licenses"], ["users", "list"], ["init-db"]])
def test_a_file_that_is_not_a_database_is_one_line_naming_it(
    fresh_app: Callable[..., Any], tmp_path: Path, content: bytes, command: list[str]
) -> None:
    """FLASK_DATABASES naming a file that is not SQLite's (a CSV, a dump, a backup tarball)."""
    path = tmp_path / "main.db"
    path.write_bytes(content)
    application = fresh_app(DATABASES={"main": f"sqlite:///{path}"})
    result = application.test_cli_runner().invoke(args=command)
    assert result.exit_code == 1
    assert result.output == "Error: Database 'main' is unavailable: file is not a database\n"
    assert path.read_bytes() == content


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full")
def test_export_to_a_full_disk_is_one_line(runner: Any, make_cred: Any) -> None:
    result = invoke(runner, "export-licenses", "-o", "/dev/full")
    assert result.exit_code == 1
    assert result.output == (
        "Error: Cannot write /dev/full: No space left on device; the export is incomplete.\n"
    )


# ---------------------------------------------------------------------------------------------
# seed


def snapshot(session: Any) -> dict[str, list[tuple[Any, ...]]]:
    """Every seeded row with every column, update_Date included."""

    def rows(model: Any) -> list[tuple[Any, ...]]:
        columns = list(model.__table__.columns)
        return [tuple(r) for r in session.execute(select(*columns).order_by(*columns[:1]))]

    return {
        "types": rows(CredLicenseType),
        "creds": rows(ProviderCred),
        "licenses": rows(ProviderCredLicense),
        "history": rows(LicenseChange),
    }


def test_seed_creates_a_realistic_demo_data_set(
    runner: Any, session_for: Callable[..., Any]
) -> None:
    output = ok(invoke(runner, "seed", "--database", "main"))
    with session_for("main") as session:
        licenses = session.scalars(select(ProviderCredLicense)).all()
        assert output == (
            f"Seeded 'main': 12 license types, 25 provider credentials, "
            f"{len(licenses)} licenses added.\n"
        )
        assert count(session, CredLicenseType) == 12
        assert count(session, ProviderCred) == 25
        assert all(t.display for t in session.scalars(select(CredLicenseType)))
        per_cred = dict(
            session.execute(
                select(ProviderCredLicense.provider_cred_key, func.count()).group_by(
                    ProviderCredLicense.provider_cred_key
                )
            ).all()
        )
        cred_keys = set(session.scalars(select(ProviderCred.provider_cred_key)))
        # every history entry was written by the license service, one "created" per license
        created = session.scalar(
            select(func.count(func.distinct(LicenseChange.provider_cred_license_key))).where(
                LicenseChange.action == "created"
            )
        )
    assert set(per_cred) == cred_keys  # every provider credential has licenses
    assert all(1 <= n <= 6 for n in per_cred.values())
    assert len(set(per_cred.values())) >= 3  # a spread, not the same number for everyone
    assert created == len(licenses)

    states = {lic.state for lic in licenses}
    assert len(states) >= 8
    assert all(s is not None and len(s) == 2 and s.isupper() for s in states)
    assert len({lic.cred_license_type_key for lic in licenses}) >= 6
    assert all(lic.license_number and lic.effective_date and lic.term_date for lic in licenses)
    assert all(lic.term_date >= lic.effective_date for lic in licenses)
    assert all(lic.entry_user == lic.update_user == "seed" for lic in licenses)

    now = utcnow()

    def within(low: int, high: int) -> int:
        return sum(
            1
            for lic in licenses
            if now + timedelta(days=low) <= lic.term_date < now + timedelta(days=high)
        )

    expired = sum(1 for lic in licenses if lic.term_date < now)
    assert expired >= 1
    assert within(0, 30) >= 1
    assert within(30, 60) >= 1
    assert within(60, 90) >= 1
    assert within(90, 100_000) >= 1
    assert any(
        lic.psv_date is None or lic.psv_date < now - timedelta(days=120) for lic in licenses
    )  # some PSV overdue
    assert all(lic.psv_date is None or lic.psv_date <= now for lic in licenses)


def test_seed_holds_a_chunk_of_provider_credentials_not_every_one(
    runner: Any, session_for: Callable[..., Any], monkeypatch: Any
) -> None:
    """``seed --providers 100000`` built every provider credential, its licenses and its
    random generator before writing any (10,000: 188 MB peak, against 137 MB for 1,000). They
    are built and written a chunk at a time now, and the data is the same: seeded in chunks
    of 5, ``fresh`` holds what ``main`` holds, seeded whole."""
    import gc

    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    from app.demo import seed

    ok(invoke(runner, "seed", "--database", "main", "--providers", "15"))
    monkeypatch.setattr(seed, "SEED_CHUNK", 5, raising=False)
    alive: list[int] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.startswith("INSERT INTO provider_cred "):
            gc.collect()  # what is garbage is not held
            alive.append(sum(isinstance(o, ProviderCred) for o in gc.get_objects()))

    event.listen(Engine, "before_cursor_execute", count)
    try:
        ok(invoke(runner, "init-db", "--database", "fresh"))
        output = ok(invoke(runner, "seed", "--database", "fresh", "--providers", "15"))
    finally:
        event.remove(Engine, "before_cursor_execute", count)
    assert "15 provider credentials" in output
    assert alive and max(alive) <= 6, alive  # a chunk, and the last one written
    with session_for("main") as main, session_for("fresh") as fresh:
        assert snapshot(fresh) == snapshot(main)


def test_seed_twice_adds_nothing_and_changes_nothing(
    runner: Any, session_for: Callable[..., Any]
) -> None:
    ok(invoke(runner, "seed", "--database", "main"))
    with session_for("main") as session:
        before = snapshot(session)
    output = ok(invoke(runner, "seed", "--database", "main"))
    assert output == "Seeded 'main': 0 license types, 0 provider credentials, 0 licenses added.\n"
    with session_for("main") as session:
        after = snapshot(session)
    assert {k: len(v) for k, v in after.items()} == {k: len(v) for k, v in before.items()}
    assert after == before


def test_seed_keeps_edited_rows(runner: Any, session_for: Callable[..., Any]) -> None:
    ok(invoke(runner, "seed", "--database", "main", "--providers", "2"))
    with session_for("main") as session:
        lic = session.scalars(select(ProviderCredLicense).limit(1)).one()
        lic.license_number = "EDITED"
        key = lic.provider_cred_license_key
        session.commit()
    ok(invoke(runner, "seed", "--database", "main", "--providers", "2"))
    with session_for("main") as session:
        assert session.get(ProviderCredLicense, key).license_number == "EDITED"


def test_seed_providers_option(runner: Any, session_for: Callable[..., Any]) -> None:
    output = ok(invoke(runner, "seed", "--database", "other", "--providers", "3"))
    assert output.startswith("Seeded 'other': 12 license types, 3 provider credentials, ")
    with session_for("other") as session:
        assert sorted(session.scalars(select(ProviderCred.provider_cred_key))) == [
            1001,
            1002,
            1003,
        ]
    with session_for("main") as session:
        assert count(session, ProviderCred) == 0


def test_seed_data_of_a_provider_does_not_depend_on_how_many_are_seeded(
    runner: Any, session_for: Callable[..., Any]
) -> None:
    """Growing the data set adds the new providers and nothing to the existing ones."""
    ok(invoke(runner, "seed", "--database", "main", "--providers", "3"))
    with session_for("main") as session:
        three = snapshot(session)
    output = ok(invoke(runner, "seed", "--database", "main", "--providers", "5"))
    assert output.startswith("Seeded 'main': 0 license types, 2 provider credentials, ")
    ok(invoke(runner, "seed", "--database", "other", "--providers", "5"))
    with session_for("main") as session:
        five = snapshot(session)
    with session_for("other") as session:
        five_at_once = snapshot(session)

    def of_first_three(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        return [r for r in rows if r[1] in (1001, 1002, 1003)]

    # licenses: column 1 is providerCred_Key
    assert of_first_three(five["licenses"]) == three["licenses"]
    assert [r[:2] for r in five["licenses"]] == [r[:2] for r in five_at_once["licenses"]]
    assert five["creds"][:3] == three["creds"]


@pytest.mark.parametrize("value", ["0", "-1", "many"])
def test_seed_rejects_a_bad_provider_count(runner: Any, value: str) -> None:
    result = invoke(runner, "seed", "--providers", value)
    assert result.exit_code == 2
    assert "Invalid value for '--providers'" in result.output


# ---------------------------------------------------------------------------------------------
# create-user


def test_create_user_defaults_to_editor_and_hashes_the_password(
    runner: Any, session_for: Callable[..., Any]
) -> None:
    output = ok(
        invoke(runner, "create-user", "alice", "--password", "s3cret-pass", "--database", "other")
    )
    assert output == "Created editor 'alice' in database 'other'.\n"
    with session_for("other") as session:
        user = session.scalars(select(StaffUser)).one()
    assert (user.username, user.role) == ("alice", "editor")
    assert user.password_hash.startswith("$argon2id$")
    assert "s3cret-pass" not in user.password_hash
    with session_for("main") as session:
        assert count(session, StaffUser) == 0


def test_create_user_viewer_role(runner: Any, session_for: Callable[..., Any]) -> None:
    output = ok(
        invoke(
            runner,
            "create-user",
            "vic",
            "--password",
            "long enough",
            "--role",
            "viewer",
            "--database",
            "main",
        )
    )
    assert output == "Created viewer 'vic' in database 'main'.\n"
    with session_for("main") as session:
        assert session.scalar(select(StaffUser.role).where(StaffUser.username == "vic")) == (
            "viewer"
        )


def test_create_user_prompts_for_the_password(
    runner: Any, client: Any, make_api_key: Callable[..., str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli, "stdin_is_terminal", lambda: True)
    result = invoke(
        runner,
        "create-user",
        "pat",
        "--database",
        "main",
        input="prompted pass\nprompted pass\n",
    )
    output = ok(result)
    assert "Password: " in output
    assert "Repeat for confirmation: " in output
    assert "prompted pass" not in output  # hidden input is not echoed
    assert login(client, "main", make_api_key("main"), "pat", "prompted pass").status_code == 200


def test_create_user_duplicate_is_an_error(runner: Any, session_for: Callable[..., Any]) -> None:
    ok(invoke(runner, "create-user", "alice", "--password", "first pass"))
    result = invoke(runner, "create-user", "alice", "--password", "second pass")
    assert result.exit_code == 1
    assert result.output == "Error: User 'alice' already exists.\n"
    with session_for("main") as session:
        assert count(session, StaffUser) == 1
    ok(invoke(runner, "create-user", "alice", "--password", "other pass", "--database", "other"))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["x" * 21, "--password", "long enough"], "Error: Username must be 1 to 20 characters.\n"),
        (["  ", "--password", "long enough"], "Error: Username must be 1 to 20 characters.\n"),
        (
            ["a:b", "--password", "long enough"],
            "Error: Username may not contain ':' (it separates Basic credentials).\n",
        ),
        (["shorty", "--password", "1234567"], "Error: Password must be at least 8 characters.\n"),
    ],
)
def test_create_user_refuses_bad_input(
    runner: Any, session_for: Callable[..., Any], args: list[str], message: str
) -> None:
    result = invoke(runner, "create-user", *args)
    assert result.exit_code == 1
    assert result.output == message
    with session_for("main") as session:
        assert count(session, StaffUser) == 0


def test_create_user_refuses_an_unknown_role(runner: Any) -> None:
    result = invoke(runner, "create-user", "bob", "--password", "long enough", "--role", "admin")
    assert result.exit_code == 2
    assert "'admin' is not one of 'editor', 'viewer'." in result.output


# ---------------------------------------------------------------------------------------------
# create-api-key / revoke-api-key


def create_key(runner: Any, label: str, database: str = "main") -> str:
    output = ok(invoke(runner, "create-api-key", label, "--database", database))
    lines = output.splitlines()
    assert lines[0] == f"API key {label!r} for database {database!r} (shown once, store it now):"
    key = lines[-1]
    assert re.fullmatch(r"cg_[A-Za-z0-9_-]{43}", key)
    return key


def test_create_api_key_prints_the_key_alone_on_the_last_line_and_stores_only_its_hash(
    runner: Any, session_for: Callable[..., Any]
) -> None:
    key = create_key(runner, "integration")
    with session_for("main") as session:
        row = session.scalars(select(ApiKey)).one()
        values = [str(getattr(row, c.key)) for c in ApiKey.__table__.columns]
    assert row.label == "integration"
    assert row.key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert row.revoked_at is None
    assert not any(key in value or key[3:] in value for value in values)
    with session_for("other") as session:
        assert count(session, ApiKey) == 0


def test_create_api_key_twice_gives_different_keys(runner: Any) -> None:
    assert create_key(runner, "one") != create_key(runner, "two")


def test_create_api_key_takes_a_label_of_the_longest_length(runner: Any) -> None:
    create_key(runner, "x" * 100)


def test_create_api_key_shows_no_key_whose_row_could_not_be_written(
    runner: Any, session_for: Callable[..., Any], monkeypatch: Any
) -> None:
    """The key was shown before its row was written: an insert that failed (here the label
    taken between its check and the write, as by a concurrent create-api-key) printed a key
    that was never stored, then the error."""
    import app.cli as cli
    from app.auth.keys import issue_api_key

    def label_taken_meanwhile(session: Any, label: str) -> str:
        key = issue_api_key(session, label)
        session.add(ApiKey(label=label, key_hash="0" * 64))  # the other command's row
        return key

    monkeypatch.setattr(cli, "issue_api_key", label_taken_meanwhile)
    result = invoke(runner, "create-api-key", "raced")
    assert result.exit_code != 0
    assert "shown once" not in result.output and "cg_" not in result.output, result.output
    with session_for("main") as session:
        assert session.scalars(select(ApiKey)).all() == []


def test_create_api_key_says_a_shown_key_whose_commit_failed_does_not_work(
    runner: Any, session_for: Callable[..., Any]
) -> None:
    """The key is shown before its commit: a commit that failed after it (a full disk on
    SQLite's commit) ended in a traceback under a key that looked issued."""
    from sqlalchemy import event
    from sqlalchemy.exc import OperationalError
    from sqlalchemy.orm import Session

    def disk_full(_session: Any) -> None:
        raise OperationalError("COMMIT", {}, Exception("database or disk is full"))

    event.listen(Session, "before_commit", disk_full)
    try:
        result = invoke(runner, "create-api-key", "unstored")
    finally:
        event.remove(Session, "before_commit", disk_full)
    assert result.exit_code == 1, result.output
    assert result.output.splitlines()[-1] == (
        "Error: The key above was not stored (OperationalError): it does not work. "
        "Discard it and run create-api-key again."
    )
    with session_for("main") as session:
        assert session.scalars(select(ApiKey)).all() == []


def test_create_api_key_duplicate_label_is_an_error(runner: Any) -> None:
    create_key(runner, "integration")
    result = invoke(runner, "create-api-key", "integration")
    assert result.exit_code == 1
    assert result.output == "Error: An API key labelled 'integration' already exists.\n"
    create_key(runner, "integration", "other")  # labels are per database


@pytest.mark.parametrize(
    ("label", "message"),
    [
        ("x" * 101, "Error: The label must be 1 to 100 characters, not all blank.\n"),
        ("", "Error: The label must be 1 to 100 characters, not all blank.\n"),
        ("   ", "Error: The label must be 1 to 100 characters, not all blank.\n"),
    ],
)
def test_create_api_key_refuses_a_bad_label(
    runner: Any, session_for: Callable[..., Any], label: str, message: str
) -> None:
    result = invoke(runner, "create-api-key", label)
    assert result.exit_code == 1
    assert result.output == message
    with session_for("main") as session:
        assert count(session, ApiKey) == 0


#: An argument that is not UTF-8 (a Latin-1 terminal's "é" is byte 0xe9): Python keeps the
#: byte as a lone surrogate, which could be neither hashed nor stored (a traceback).
NOT_UTF8 = "caf\udce9"


@pytest.mark.parametrize(
    ("args", "parameter"),
    [
        (["create-user", NOT_UTF8, "--password", "long enough"], "'USERNAME'"),
        (["create-user", "carol", "--password", NOT_UTF8 + "-long-enough"], "'--password'"),
        (["create-api-key", NOT_UTF8], "'LABEL'"),
        (["revoke-api-key", NOT_UTF8], "'LABEL'"),
        (["users", "set-role", NOT_UTF8, "viewer"], "'USERNAME'"),
        (["users", "delete", NOT_UTF8, "--yes"], "'USERNAME'"),
        (["monitor-expirables", "--by", NOT_UTF8], "'--by'"),
    ],
    ids=[
        "create-user name",
        "create-user password",
        "create-api-key",
        "revoke-api-key",
        "users set-role",
        "users delete",
        "monitor-expirables",
    ],
)
def test_an_argument_that_is_not_utf8_is_one_line_naming_it(
    runner: Any, session_for: Callable[..., Any], args: list[str], parameter: str
) -> None:
    result = invoke(runner, *args)
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert (
        f"Error: Invalid value for {parameter}: not UTF-8 text (byte 0xe9); give it in UTF-8."
        in result.output
    )
    assert "long-enough" not in result.output  # a password is not repeated
    with session_for("main") as session:
        assert count(session, StaffUser) == count(session, ApiKey) == 0


def test_a_password_on_standard_input_that_is_not_utf8_is_refused(
    runner: Any, session_for: Callable[..., Any]
) -> None:
    result = runner.invoke(args=["create-user", "carol"], input=b"caf\xe9 au lait\n")
    assert result.exit_code == 1
    assert result.output == "Error: The password on standard input is not UTF-8 text.\n"
    with session_for("main") as session:
        assert count(session, StaffUser) == 0


def test_api_key_from_the_cli_works_for_login_and_the_api(
    runner: Any, client: Any, make_cred: Callable[..., int]
) -> None:
    ok(invoke(runner, "create-user", "alice", "--password", "s3cret-pass"))
    key = create_key(runner, "integration")
    make_cred(1, "main")
    response = login(client, "main", key, "alice", "s3cret-pass")
    assert response.status_code == 200
    result = response.get_json()["data"]["authenticationResult"]
    assert result["tokenType"] == "Bearer"
    assert result["expiresIn"] == 86400
    headers = api_headers(client, "main", key, "alice", "s3cret-pass")
    batch = client.put(BATCH.format(1), json=[bare_license_item(11, state="CA")], headers=headers)
    assert batch.status_code == 207
    assert batch.get_json()["data"][0]["status"] == 201
    # a key of main is no key for other
    ok(invoke(runner, "create-user", "alice", "--password", "s3cret-pass", "--database", "other"))
    assert login(client, "other", key, "alice", "s3cret-pass").status_code == 401


def test_revoke_api_key_stops_it_at_once(
    runner: Any, client: Any, make_cred: Callable[..., int], session_for: Callable[..., Any]
) -> None:
    ok(invoke(runner, "create-user", "alice", "--password", "s3cret-pass"))
    key = create_key(runner, "integration")
    kept = create_key(runner, "kept")
    make_cred(1, "main")
    headers = api_headers(client, "main", key, "alice", "s3cret-pass")
    assert client.put(BATCH.format(1), json=[], headers=headers).status_code == 207

    output = ok(invoke(runner, "revoke-api-key", "integration", "--database", "main"))
    assert output == "Revoked API key 'integration' in database 'main'.\n"

    refused = client.put(BATCH.format(1), json=[bare_license_item(12, state="CA")], headers=headers)
    assert refused.status_code == 401
    assert refused.get_json()["error"]["detail"] == "The API key is not valid for this database."
    assert login(client, "main", key, "alice", "s3cret-pass").status_code == 401
    with session_for("main") as session:
        assert count(session, ProviderCredLicense) == 0
        assert session.scalar(select(ApiKey.revoked_at).where(ApiKey.label == "integration"))
    # other keys keep working
    assert login(client, "main", kept, "alice", "s3cret-pass").status_code == 200


@pytest.mark.parametrize("database", ["main", "other"])
def test_revoke_unknown_or_revoked_key_is_an_error(runner: Any, database: str) -> None:
    create_key(runner, "integration", "main")
    if database == "main":
        ok(invoke(runner, "revoke-api-key", "integration"))
    result = invoke(runner, "revoke-api-key", "integration", "--database", database)
    assert result.exit_code == 1
    assert result.output == f"Error: No active API key labelled 'integration' in {database!r}.\n"


# ---------------------------------------------------------------------------------------------
# demo


def parse_demo(output: str) -> dict[str, Any]:
    login_line = re.search(r"Log in:\s+user '(\w+)', password '([^']+)', database '(\w+)'", output)
    assert login_line, output
    curl = output[output.index("curl ") :].replace("\\\n", " ")
    words = shlex.split(curl)
    assert words[:4] == ["curl", "-s", "-X", "PUT"]
    url = words[4]
    headers: dict[str, str] = {}
    body = None
    for flag, value in zip(words[5::2], words[6::2], strict=True):
        if flag == "-H":
            name, _, header = value.partition(": ")
            headers[name] = header
        elif flag == "-d":
            body = value
    return {
        "username": login_line[1],
        "password": login_line[2],
        "database": login_line[3],
        "url": url,
        "headers": headers,
        "body": body,
    }


def test_demo_prints_working_instructions(runner: Any, client: Any, app: Any) -> None:
    output = ok(invoke(runner, "demo", "--database", "fresh"))
    assert "credgrid is ready (database 'fresh')." in output
    assert "Browse:   http://127.0.0.1:5000/ui/" in output
    assert table_names(app, "fresh") == set(db.metadata.tables) | {"alembic_version"}
    demo = parse_demo(output)
    assert demo["database"] == "fresh"
    assert demo["url"].startswith("http://127.0.0.1:5000/provider-credentialing/")
    assert set(demo["headers"]) == {
        "vbasoftware-database",
        "x-api-key",
        "Authorization",
        "Content-Type",
    }

    # the printed curl works as printed
    path = demo["url"].removeprefix("http://127.0.0.1:5000")
    response = client.put(path, data=demo["body"], headers=demo["headers"])
    assert response.status_code == 207, response.get_json()
    assert [item["status"] for item in response.get_json()["data"]] == [201]
    again = client.put(path, data=demo["body"], headers=demo["headers"])
    assert [item["status"] for item in again.get_json()["data"]] == [200]

    # and so does the printed login
    api_key = demo["headers"]["x-api-key"]
    assert login(client, "fresh", api_key, demo["username"], demo["password"]).status_code == 200


def test_demo_twice_resets_the_password_and_keeps_the_data(
    runner: Any, client: Any, session_for: Callable[..., Any]
) -> None:
    first = parse_demo(ok(invoke(runner, "demo", "--database", "fresh")))
    with session_for("fresh") as session:
        seeded = snapshot(session)
    second = parse_demo(ok(invoke(runner, "demo", "--database", "fresh")))
    with session_for("fresh") as session:
        assert snapshot(session) == seeded
        assert count(session, StaffUser) == 1
    assert first["password"] != second["password"]
    key = second["headers"]["x-api-key"]
    assert login(client, "fresh", key, "demo", first["password"]).status_code == 401
    assert login(client, "fresh", key, "demo", second["password"]).status_code == 200


def test_demo_base_url_option(runner: Any) -> None:
    output = ok(invoke(runner, "demo", "--database", "fresh", "--base-url", "https://cg.example/"))
    assert "Browse:   https://cg.example/ui/" in output
    assert "curl -s -X PUT https://cg.example/provider-credentialing/" in output


@pytest.mark.parametrize(
    "base_url",
    [
        "127.0.0.1:5001",  # no scheme: the printed curl and link named no server
        "ftp://cg.example",
        "http://cg example",  # a space: the printed curl was two words
        "http://127.0.0.1:5001/'; touch pwned; '",  # quotes and commands, pasted as printed
        "http://cg.example/?q=1",
        "http://user:pw@cg.example",
        "http://",
    ],
)
def test_demo_refuses_a_base_url_its_commands_could_not_use(
    runner: Any, session_for: Callable[..., Any], base_url: str
) -> None:
    """``--base-url`` was printed as given, into the link and into a curl command meant to be
    pasted into a shell: a value that is not an http(s) URL of a server printed commands that
    fail (or run something else); it is refused before anything is changed."""
    result = invoke(runner, "demo", "--database", "main", "--base-url", base_url)
    assert result.exit_code == 2, result.output
    assert "Invalid value for '--base-url'" in result.output
    assert "credgrid is ready" not in result.output
    with session_for("main") as session:
        assert count(session, StaffUser) == 0  # no demo user made, no password reset


@pytest.mark.parametrize(
    "base_url", ["http://[::1]:5001", "https://cg.example/credgrid", "HTTP://CG.example:8443/"]
)
def test_demo_takes_a_base_url_of_a_server(runner: Any, base_url: str) -> None:
    output = ok(invoke(runner, "demo", "--database", "fresh", "--base-url", base_url))
    assert f"Browse:   {base_url.rstrip('/')}/ui/" in output


@pytest.mark.parametrize(("ttl", "said"), [(86400, "24 h"), (5400, "90 min"), (45, "45 s")])
def test_demo_says_how_long_its_token_lives(runner: Any, app: Any, ttl: int, said: str) -> None:
    """It said "24 h" whatever FLASK_TOKEN_TTL_SECONDS was."""
    app.config["TOKEN_TTL_SECONDS"] = ttl
    output = ok(invoke(runner, "demo", "--database", "fresh"))
    assert f"Try the batch API (token valid {said}):" in output
    token = parse_demo(output)["headers"]["Authorization"].removeprefix("Bearer ")
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == ttl


def test_demo_body_is_valid_json(runner: Any) -> None:
    demo = parse_demo(ok(invoke(runner, "demo", "--database", "fresh")))
    items = json.loads(demo["body"])
    assert isinstance(items, list) and len(items) == 1
