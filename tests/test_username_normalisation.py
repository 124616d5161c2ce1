"""User names are one name whatever Unicode form they are typed in (NFKC): the ligature ``ﬀoo``
is ``ffoo``, a decomposed ``é`` is the composed one, at every way in: the CLI's user commands,
the UI's login form and the API's login. Stored names in another form are rewritten by
migration 0012, which refuses (changing nothing) when two users would become one."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from foundation_support import empty_database, migrate_to
from sqlalchemy import Engine, create_engine, select, text

from app.auth.models import StaffUser
from app.auth.throttle import Attempt
from app.auth.tokens import mint_token, verify_token
from app.schema import MigrationError, current_revision, upgrade_database

PASSWORD = "correct horse"
SECRET = "s" * 40
COMPOSED = "jos\u00e9"  # josé, one code point for é
DECOMPOSED = "jose\u0301"  # josé, e and a combining acute accent
LIGATURE = "\ufb00oo"  # ﬀoo
PLAIN = "ffoo"
#: (what is stored, another form of the same name a person may type)
SAME_NAMES = [(COMPOSED, DECOMPOSED), (PLAIN, LIGATURE), ("alice", "\uff41lice")]  # ａlice


def invoke(runner: Any, *args: str) -> Any:
    return runner.invoke(args=list(args))


def stored_names(session_for: Callable[..., Any]) -> list[str]:
    with session_for() as session:
        return list(session.scalars(select(StaffUser.username).order_by(StaffUser.id)))


# --- CLI ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("stored", "typed"), [(COMPOSED, DECOMPOSED), (PLAIN, LIGATURE)])
def test_create_user_stores_the_nfkc_form(
    runner: Any, session_for: Callable[..., Any], stored: str, typed: str
) -> None:
    result = invoke(runner, "create-user", typed, "--password", PASSWORD)
    assert result.exit_code == 0, result.output
    assert result.output == f"Created editor {stored!r} in database 'main'.\n"
    assert stored_names(session_for) == [stored]


@pytest.mark.parametrize(("first", "second"), [*SAME_NAMES, (LIGATURE, PLAIN)])
def test_create_user_refuses_a_name_that_looks_the_same(
    runner: Any, session_for: Callable[..., Any], first: str, second: str
) -> None:
    assert invoke(runner, "create-user", first, "--password", PASSWORD).exit_code == 0
    result = invoke(runner, "create-user", second, "--password", PASSWORD)
    assert result.exit_code == 1
    assert "already exists" in result.output
    assert len(stored_names(session_for)) == 1


def test_create_user_counts_the_length_of_the_nfkc_form(runner: Any) -> None:
    """U+FDFA is one character typed and eighteen stored."""
    result = invoke(runner, "create-user", "abc\ufdfa", "--password", PASSWORD)
    assert result.exit_code == 1
    assert result.output == "Error: Username must be 1 to 20 characters.\n"


def test_create_user_refuses_a_colon_that_nfkc_makes(runner: Any) -> None:
    result = invoke(runner, "create-user", "a\uff1ab", "--password", PASSWORD)  # a：b
    assert result.exit_code == 1
    assert "may not contain ':'" in result.output


@pytest.mark.parametrize(("stored", "typed"), SAME_NAMES)
def test_the_users_commands_find_the_user_in_any_form(
    runner: Any,
    make_user: Callable[..., str],
    session_for: Callable[..., Any],
    stored: str,
    typed: str,
) -> None:
    make_user(stored, PASSWORD)
    assert invoke(runner, "users", "set-role", typed, "viewer").exit_code == 0
    assert invoke(runner, "users", "disable", typed).exit_code == 0
    with session_for() as session:
        user = session.scalars(select(StaffUser)).one()
        assert (user.role, user.disabled) == ("viewer", True)
    assert invoke(runner, "users", "enable", typed).exit_code == 0
    result = invoke(runner, "users", "delete", typed, "--yes")
    assert result.exit_code == 0, result.output
    assert stored_names(session_for) == []


# --- Logins ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("stored", "typed"), SAME_NAMES)
def test_the_api_login_finds_the_user_in_any_form(
    client: Any,
    make_user: Callable[..., str],
    make_api_key: Callable[..., str],
    stored: str,
    typed: str,
) -> None:
    make_user(stored, PASSWORD)
    credentials = base64.b64encode(f"{typed}:{PASSWORD}".encode()).decode()
    headers = {
        "vbasoftware-database": "main",
        "x-api-key": make_api_key(),
        "Authorization": f"Basic {credentials}",
    }
    response = client.post("/user-authentication", headers=headers)
    assert response.status_code == 200, response.get_json()


@pytest.mark.parametrize(("stored", "typed"), SAME_NAMES)
def test_the_ui_login_finds_the_user_in_any_form(
    client: Any, make_user: Callable[..., str], stored: str, typed: str
) -> None:
    make_user(stored, PASSWORD)
    data = {"username": typed, "password": PASSWORD, "database": "main"}
    response = client.post("/ui/login", data=data)
    assert response.status_code == 302
    assert client.get("/ui/credentials").status_code == 200


@pytest.mark.parametrize(("stored", "typed"), SAME_NAMES)
def test_the_throttle_counts_every_form_as_one_account(stored: str, typed: str) -> None:
    one, other = Attempt("main", stored, "192.0.2.1"), Attempt("main", typed, "192.0.2.1")
    assert one.account_key() == other.account_key()


# --- Migration 0012 ----------------------------------------------------------------------------


@pytest.fixture
def at_0011(backend: str, tmp_path: Path) -> Iterator[Engine]:
    with empty_database(backend, tmp_path) as url:
        engine = create_engine(url)
        try:
            migrate_to(engine, "0011")
            yield engine
        finally:
            engine.dispose()


def add_users(engine: Engine, *names: str) -> None:
    with engine.begin() as connection:
        for user_id, name in enumerate(names, start=1):
            connection.execute(
                text(
                    "INSERT INTO staff_user (id, username, password_hash, role, created_at, "
                    "session_stamp, token_stamp, disabled) "
                    "VALUES (:id, :name, 'hash', 'editor', :at, 's', 't', false)"
                ),
                {"id": user_id, "name": name, "at": datetime(2024, 1, 1)},
            )
            connection.execute(
                text(
                    "INSERT INTO refresh_token (token_hash, username, user_id, expires_at, "
                    "created_at) VALUES (:hash, :name, :id, :at, :at)"
                ),
                {"id": user_id, "hash": f"h{user_id}", "name": name, "at": datetime(2030, 1, 1)},
            )


def names_in(engine: Engine, table: str) -> list[str]:
    order = "user_id" if table == "refresh_token" else "id"
    with engine.connect() as connection:
        return list(connection.scalars(text(f"SELECT username FROM {table} ORDER BY {order}")))


def test_0012_rewrites_stored_names_in_nfkc(at_0011: Engine) -> None:
    add_users(at_0011, DECOMPOSED, LIGATURE, "alice")
    upgrade_database(at_0011)
    assert names_in(at_0011, "staff_user") == [COMPOSED, PLAIN, "alice"]
    assert names_in(at_0011, "refresh_token") == [COMPOSED, PLAIN, "alice"]


def test_0012_refuses_two_users_that_would_become_one(at_0011: Engine) -> None:
    add_users(at_0011, LIGATURE, "bob", PLAIN)
    with pytest.raises(MigrationError) as refused:
        upgrade_database(at_0011)
    message = str(refused.value)
    assert f"2 users (id 1 {LIGATURE!r}, id 3 {PLAIN!r}) would all be {PLAIN!r}" in message
    assert "Nothing was changed" in message
    assert current_revision(at_0011) == "0011"
    assert names_in(at_0011, "staff_user") == [LIGATURE, "bob", PLAIN]


def test_0012_refuses_a_name_that_would_not_fit(at_0011: Engine) -> None:
    add_users(at_0011, "abc\ufdfa")
    with pytest.raises(MigrationError, match="longer than 20 characters"):
        upgrade_database(at_0011)
    assert current_revision(at_0011) == "0011"


def test_init_db_says_why_it_refused_in_one_line(
    at_0011: Engine, fresh_app: Callable[..., Any]
) -> None:
    add_users(at_0011, LIGATURE, PLAIN)
    url = at_0011.url.render_as_string(hide_password=False)
    result = fresh_app(DATABASES={"main": url}).test_cli_runner().invoke(args=["init-db"])
    assert result.exit_code == 1
    assert result.output.startswith("Error: Database 'main' was not migrated: User names are")
    assert "Traceback" not in result.output


def test_0012_rewrites_the_names_on_idempotency_records(at_0011: Engine) -> None:
    """A stored answer is replayed to the user the token names, in NFKC since 0012: a record
    kept under the old form would be missed and the retried batch applied a second time."""
    add_users(at_0011, DECOMPOSED, "alice")
    with at_0011.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO api_key (id, label, key_hash, created_at) "
                "VALUES (1, 'client', 'h', :at)"
            ),
            {"at": datetime(2024, 1, 1)},
        )
        # The 4th: a deleted user's record under the composed name and the same key (kept
        # until purged): the decomposed one's cannot join it under the unique key.
        for number, name in enumerate((DECOMPOSED, "alice", "", DECOMPOSED), start=1):
            connection.execute(
                text(
                    "INSERT INTO idempotency_record (id, api_key_id, username, idempotency_key, "
                    "request_hash, status, response_body, created_at) "
                    "VALUES (:id, 1, :name, :key, 'r', 207, '[]', :at)"
                ),
                {"id": number, "name": name, "key": f"k{number % 4}", "at": datetime(2024, 1, 1)},
            )
        connection.execute(
            text(
                "INSERT INTO idempotency_record (id, api_key_id, username, idempotency_key, "
                "request_hash, status, response_body, created_at) "
                "VALUES (5, 1, :name, 'k0', 'r', 207, '[]', :at)"
            ),
            {"name": COMPOSED, "at": datetime(2024, 1, 1)},
        )
    upgrade_database(at_0011)
    assert names_in(at_0011, "idempotency_record") == [
        COMPOSED,
        "alice",
        "",
        DECOMPOSED,
        COMPOSED,
    ]


def test_a_token_minted_before_0012_names_its_user_in_nfkc() -> None:
    """Its subject is the name as stored then (decomposed); read now, it is the NFKC form, the
    one the stored name, the idempotency records and new history rows have."""
    user = StaffUser(id=1, username=DECOMPOSED, token_stamp="t")
    token = mint_token(SECRET, user, "main", 60, "id")
    assert verify_token(SECRET, token, "main").username == COMPOSED
