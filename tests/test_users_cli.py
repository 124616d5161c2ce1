"""``flask --app app users …``: administer users without SQL; each change ends what it should."""

from __future__ import annotations

import io
import sys
from collections.abc import Callable
from typing import Any

import click
import pytest
from sqlalchemy import select

from app import cli
from app.auth.models import StaffUser
from tests.helpers import BATCH_URL, FLASK, REPOSITORY, flask_environment
from tests.login_support import PASSWORD, api_login


@pytest.fixture
def alice(make_user: Callable[..., str], make_cred: Any) -> str:
    make_cred(1)
    make_cred(1, database="other")
    make_user("bob", PASSWORD, role="viewer")
    return make_user("alice", PASSWORD)


def invoke(runner: Any, *args: str, input: str | None = None) -> Any:
    return runner.invoke(args=list(args), input=input)


def ok(result: Any) -> str:
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture
def signed_in(alice: str, app: Any, client: Any, make_api_key: Any) -> Any:
    """alice with a UI session and an API token: ``signed_in.ui()`` / ``signed_in.api()``."""
    key = make_api_key()
    token = api_login(client, key, PASSWORD).get_json()["data"]["authenticationResult"]["idToken"]
    browser = app.test_client()
    browser.post("/ui/login", data={"username": "alice", "password": PASSWORD, "database": "main"})

    class SignedIn:
        def ui(self) -> int:
            return browser.get("/ui/credentials").status_code

        def api(self) -> int:
            headers = {
                "vbasoftware-database": "main",
                "x-api-key": key,
                "Authorization": f"Bearer {token}",
            }
            return client.put(BATCH_URL.format(cred=1), json=[], headers=headers).status_code

        def login(self, password: str = PASSWORD) -> int:
            return api_login(client, key, password).status_code

    assert SignedIn().ui() == 200 and SignedIn().api() == 207
    return SignedIn()


def role_of(session_for: Any, name: str) -> tuple[str, bool]:
    with session_for() as session:
        user = session.scalars(select(StaffUser).where(StaffUser.username == name)).one()
        return user.role, user.disabled


def test_list_shows_every_user_with_role_and_state(runner: Any, alice: str) -> None:
    output = ok(invoke(runner, "users", "list", "--database", "main"))
    lines = [line.split("\t")[:3] for line in output.splitlines() if "\t" in line]
    assert lines == [["alice", "editor", "enabled"], ["bob", "viewer", "enabled"]]
    assert "2 users in database 'main'." in output
    assert "0 users in database 'other'." in ok(
        invoke(runner, "users", "list", "--database", "other")
    )
    ok(invoke(runner, "users", "delete", "bob", "--yes"))
    assert "1 user in database 'main'." in ok(invoke(runner, "users", "list"))


def test_set_role_ends_sessions_and_tokens(runner: Any, signed_in: Any, session_for: Any) -> None:
    ok(invoke(runner, "users", "set-role", "alice", "viewer"))
    assert role_of(session_for, "alice") == ("viewer", False)
    assert signed_in.ui() == 302 and signed_in.api() == 401


def test_set_role_refuses_an_unknown_role_or_user(runner: Any, alice: str) -> None:
    assert invoke(runner, "users", "set-role", "alice", "admin").exit_code == 2
    result = invoke(runner, "users", "set-role", "carol", "viewer")
    assert result.exit_code == 1 and "No user 'carol' in this database." in result.output


def test_set_password_from_standard_input(runner: Any, signed_in: Any) -> None:
    output = ok(invoke(runner, "users", "set-password", "alice", input="a new password\n"))
    assert "a new password" not in output
    assert signed_in.ui() == 302 and signed_in.api() == 401
    assert signed_in.login() == 401
    assert signed_in.login("a new password") == 200


def test_set_password_asks_twice_at_a_terminal(
    runner: Any, signed_in: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli, "stdin_is_terminal", lambda: True)
    result = invoke(
        runner,
        "users",
        "set-password",
        "alice",
        input="first try xx\nsecond try\nok pass 1\nok pass 1\n",
    )
    output = ok(result)
    assert "Repeat for confirmation: " in output and "ok pass 1" not in output
    assert signed_in.login("ok pass 1") == 200


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["users", "set-password", "nobody"], "Error: No user 'nobody' in this database."),
        (["create-user", "alice"], "Error: User 'alice' already exists."),
        (["create-user", "x" * 21], "Error: Username must be 1 to 20 characters."),
    ],
    ids=["no such user", "an existing user", "a name too long"],
)
def test_a_name_that_cannot_be_used_is_refused_before_the_password_is_asked(
    runner: Any, alice: str, monkeypatch: pytest.MonkeyPatch, args: list[str], message: str
) -> None:
    """The password was asked twice, then refused for the name."""
    monkeypatch.setattr(cli, "stdin_is_terminal", lambda: True)
    result = invoke(runner, *args, input="ok pass 1\nok pass 1\n")
    assert (result.exit_code, result.output) == (1, message + "\n")


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("", "No password on standard input."),
        ("one password\nanother one\n", "The two passwords on standard input differ."),
        ("short\n", "Password must be at least 8 characters."),
        ("          \n", "The password must not be only spaces."),
    ],
)
def test_set_password_refuses_bad_input(
    runner: Any, signed_in: Any, given: str, message: str
) -> None:
    result = invoke(runner, "users", "set-password", "alice", input=given)
    assert result.exit_code == 1 and message in result.output
    assert signed_in.ui() == 200  # nothing changed


#: How a locale decodes standard input: strict UTF-8 (most), UTF-8 keeping bad bytes as lone
#: surrogates (C, C.UTF-8), Latin-1 (en_US.ISO-8859-1: every byte is a character).
LOCALE_STDIN = {
    "strict": ("utf-8", "strict"),
    "surrogateescape": ("utf-8", "surrogateescape"),
    "latin-1": ("latin-1", "strict"),
}


@pytest.mark.parametrize("locale", LOCALE_STDIN)
@pytest.mark.parametrize(
    "given",
    [b"caf\xe9 au lait\n", b"a new password\na new passw\xf6rd\n", b"a new password\n\n\xff\n"],
    ids=["first line", "second line", "a later line"],
)
def test_a_password_on_standard_input_not_utf8_anywhere_is_refused_in_every_locale(
    monkeypatch: pytest.MonkeyPatch, locale: str, given: bytes
) -> None:
    """Standard input is strict UTF-8 in most locales (the read fails) and keeps bad bytes as
    lone surrogates in others (C, C.UTF-8); only the first line was checked there, so a bad
    byte further on was "differ" or was let through, while a strict locale refused it. A
    Latin-1 locale read every byte as a character: no byte was bad there."""
    encoding, errors = LOCALE_STDIN[locale]
    stdin = io.TextIOWrapper(io.BytesIO(given), encoding=encoding, errors=errors)
    monkeypatch.setattr(sys, "stdin", stdin)
    monkeypatch.setattr(cli, "stdin_is_terminal", lambda: False)
    with pytest.raises(click.ClickException) as raised:
        cli.read_new_password()
    assert raised.value.message == "The password on standard input is not UTF-8 text."


@pytest.mark.parametrize("locale", LOCALE_STDIN)
def test_a_utf8_password_on_standard_input_reads_alike_in_every_locale(
    monkeypatch: pytest.MonkeyPatch, locale: str
) -> None:
    """A Latin-1 locale read the UTF-8 "café" as "cafÃ©", the password set, which then
    matched neither what was typed at a UTF-8 login form nor what was meant."""
    encoding, errors = LOCALE_STDIN[locale]
    given = "café au lait\ncafé au lait\n".encode()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(given), encoding, errors))
    monkeypatch.setattr(cli, "stdin_is_terminal", lambda: False)
    assert cli.read_new_password() == "café au lait"


def test_disable_and_enable(runner: Any, signed_in: Any, session_for: Any) -> None:
    ok(invoke(runner, "users", "disable", "alice"))
    assert role_of(session_for, "alice") == ("editor", True)
    assert signed_in.ui() == 302 and signed_in.api() == 401 and signed_in.login() == 401
    assert "disabled" in ok(invoke(runner, "users", "list"))
    ok(invoke(runner, "users", "enable", "alice"))
    assert signed_in.api() == 401  # enabling revives no old token
    assert signed_in.login() == 200


def test_delete_asks_first(runner: Any, signed_in: Any, session_for: Any) -> None:
    refused = invoke(runner, "users", "delete", "alice", input="n\n")
    assert refused.exit_code == 1 and "Delete user 'alice'" in refused.output
    assert signed_in.ui() == 200
    ok(invoke(runner, "users", "delete", "alice", input="y\n"))
    assert signed_in.ui() == 302 and signed_in.api() == 401


def test_delete_of_an_unknown_user_says_so_without_asking(runner: Any, alice: str) -> None:
    """It asked "Delete user 'nobody'?" first, then said there was no such user."""
    result = invoke(runner, "users", "delete", "nobody", input="y\n")
    assert result.exit_code == 1
    assert "Delete user" not in result.output and "nobody" in result.output


def test_delete_with_yes_in_another_database_only(
    runner: Any, make_user: Any, session_for: Any, alice: str
) -> None:
    make_user("alice", PASSWORD, database="other")
    ok(invoke(runner, "users", "delete", "alice", "--yes", "--database", "other"))
    assert role_of(session_for, "alice") == ("editor", False)
    with session_for("other") as session:
        assert session.scalars(select(StaffUser)).all() == []


def test_create_user_reads_the_password_from_standard_input(runner: Any, client: Any) -> None:
    output = ok(invoke(runner, "create-user", "carol", input="piped password\n"))
    assert "piped password" not in output
    assert "Created editor 'carol'" in output


def test_create_user_names_the_user_as_stored(runner: Any, session_for: Any) -> None:
    """Spaces around a name are dropped when it is stored; the message said ' carol ', a name
    that ``users disable`` then did not find."""
    output = ok(invoke(runner, "create-user", " carol ", input="piped password\n"))
    assert output == "Created editor 'carol' in database 'main'.\n"
    with session_for() as session:
        assert session.scalars(select(StaffUser.username)).all() == ["carol"]


@pytest.mark.parametrize(
    ("args", "given", "message"),
    [
        (["carol"], "          \n", "Error: The password must not be only spaces.\n"),
        (
            ["carol", "--password", " \t        "],
            None,
            "Error: The password must not be only spaces.\n",
        ),
        (
            ["car\nol"],
            "piped password\n",
            "Error: Username 'car\\nol' contains the control character '\\n'; use letters, "
            "digits and punctuation.\n",
        ),
        (
            ["carol\x1b[2J"],
            "piped password\n",
            "Error: Username 'carol\\x1b[2J' contains the control character '\\x1b'; use "
            "letters, digits and punctuation.\n",
        ),
    ],
    ids=["spaces", "spaces and a tab", "newline", "escape"],
)
def test_create_user_refuses_blank_passwords_and_control_characters(
    runner: Any, session_for: Any, args: list[str], given: str | None, message: str
) -> None:
    result = invoke(runner, "create-user", *args, input=given)
    assert result.exit_code == 1
    assert result.output == message
    with session_for() as session:
        assert session.scalars(select(StaffUser)).all() == []


def test_a_prompt_with_standard_input_closed_is_one_line(tmp_path: Any) -> None:
    """``<&-`` (standard input closed): an AttributeError traceback where the password is
    read, a RuntimeError one ("lost sys.stdin") where a deletion is confirmed."""
    import subprocess

    env = flask_environment(tmp_path / "instance")

    def closed_stdin(*args: str) -> tuple[int, str]:
        result = subprocess.run(
            ["sh", "-c", 'exec <&- && exec "$@"', "sh", *FLASK, *args],
            cwd=REPOSITORY,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        return result.returncode, result.stderr

    subprocess.run([*FLASK, "init-db"], cwd=REPOSITORY, env=env, check=True, capture_output=True)
    subprocess.run(
        [*FLASK, "create-user", "alice", "--password", PASSWORD],
        cwd=REPOSITORY,
        env=env,
        check=True,
        capture_output=True,
    )
    closed = "Error: Standard input is closed: "
    assert closed_stdin("create-user", "bob") == (1, f"{closed}no password to read.\n")
    assert closed_stdin("users", "set-password", "alice") == (
        1,
        f"{closed}no password to read.\n",
    )
    assert closed_stdin("users", "delete", "alice") == (
        1,
        f"{closed}no answer to read; add --yes to delete without one.\n",
    )


def test_create_user_racing_another_for_the_name_is_one_line(
    runner: Any, alice: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two create-user of one name at once: both found the name free, the second insert hit
    the unique index while the first committed: an IntegrityError traceback. Here the name
    check passes as it did for the second of them."""
    from app.auth import users

    monkeypatch.setattr(users, "new_username", lambda _session, name: name.strip())
    result = invoke(runner, "create-user", "alice", "--password", "long enough")
    assert (result.exit_code, result.output) == (1, "Error: User 'alice' already exists.\n")


def test_create_users_at_once_on_sqlite_all_succeed(tmp_path: Any) -> None:
    """Four create-user of four names at once on one SQLite file: each read the name, hashed the
    password, then wrote; a writer that committed in between failed the others at once with
    "database is locked" (a reader cannot become a writer then, whatever the busy timeout)."""
    import subprocess

    env = flask_environment(tmp_path / "instance")
    subprocess.run([*FLASK, "init-db"], cwd=REPOSITORY, env=env, check=True, capture_output=True)
    processes = [
        subprocess.Popen(
            [*FLASK, "create-user", f"user{n}", "--password", PASSWORD],
            cwd=REPOSITORY,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,  # the log's line of each (tests/test_audit_log.py)
            text=True,
        )
        for n in range(4)
    ]
    outputs = [p.communicate(timeout=120) for p in processes]
    results = [(p.returncode, out) for p, (out, _) in zip(processes, outputs, strict=True)]
    expected = [(0, f"Created editor 'user{n}' in database 'demo'.\n") for n in range(4)]
    assert results == expected, [err for _, err in outputs]
