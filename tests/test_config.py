"""The factory and the configuration layers (SPEC section 7) and start-up validation."""

from __future__ import annotations

import gc
import json
import os
import stat
import threading
import weakref
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import click
import pytest
from flask import Flask

from app import create_app
from app.config import ConfigError, normalise_databases
from app.extensions import db
from tests.helpers import dispose_engines, flask_environment, run_flask

SECRET = "a-test-secret-of-sufficient-length"


@pytest.fixture
def instance(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty instance folder of our own, and no FLASK_* variables from the caller's shell."""
    for name in list(os.environ):
        if name.startswith("FLASK_"):
            monkeypatch.delenv(name)
    folder = tmp_path / "instance"
    monkeypatch.setenv("CREDGRID_INSTANCE_PATH", str(folder))
    return folder


@pytest.fixture
def build(instance: Path) -> Iterator[Callable[..., Flask]]:
    """``build(test_config)`` → an app; its engines are disposed after the test."""
    apps: list[Flask] = []

    def _build(test_config: dict[str, Any] | None = None) -> Flask:
        application = create_app(test_config)
        apps.append(application)
        return application

    yield _build
    for application in apps:
        dispose_engines(application)


def write_instance_config(instance: Path, text: str) -> None:
    instance.mkdir(parents=True, exist_ok=True)
    (instance / "config.py").write_text(text)


# ---------------------------------------------------------------------------------------------
# Layers


def test_defaults(build: Callable[..., Flask], instance: Path) -> None:
    app = build()
    assert app.instance_path == str(instance)
    assert app.config["DATABASES"] == {"demo": f"sqlite:///{instance / 'demo.db'}"}
    assert app.config["BATCH_MAX_ITEMS"] == 5000
    assert app.config["MAX_CONTENT_LENGTH"] == 16 * 1024 * 1024
    assert app.config["TOKEN_TTL_SECONDS"] == 86400
    assert app.config["RATE_LIMIT"] == "25 per second"
    assert app.config["PSV_WINDOW_DAYS"] == 120
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert app.config["TESTING"] is False
    assert app.config["GC_FREEZE_AT_START"] is True


class Cycle:
    """An object only a reference cycle keeps alive: garbage for the cyclic collector."""

    def __init__(self) -> None:
        self.me = self


def test_start_up_freezes_what_it_built_after_collecting_its_garbage(
    build: Callable[..., Flask],
) -> None:
    gc.unfreeze()
    garbage = Cycle()
    collected = weakref.ref(garbage)
    del garbage
    gc.disable()  # only start-up's own collection may find it
    try:
        app = build()
    finally:
        gc.enable()
    assert collected() is None, "start-up garbage is collected, not frozen"
    assert gc.get_freeze_count() > 0
    assert not any(o is app for o in gc.get_objects()), "the app itself is frozen"


def test_start_up_freezes_nothing_when_told_not_to(build: Callable[..., Flask]) -> None:
    gc.unfreeze()
    app = build({"GC_FREEZE_AT_START": False})
    assert gc.get_freeze_count() == 0
    assert any(o is app for o in gc.get_objects())


def test_default_database_is_a_file_in_the_instance_folder_created_on_first_use(
    build: Callable[..., Flask], instance: Path
) -> None:
    app = build()
    assert not (instance / "demo.db").exists()  # building the app does no database work
    runner = app.test_cli_runner()
    result = runner.invoke(args=["init-db"])
    assert result.exit_code == 0, result.output
    assert "Database 'demo' created at schema revision" in result.output
    assert (instance / "demo.db").is_file()


def test_instance_config_overrides_defaults(build: Callable[..., Flask], instance: Path) -> None:
    write_instance_config(
        instance,
        f"BATCH_MAX_ITEMS = 10\nPSV_WINDOW_DAYS = 30\n"
        f"DATABASES = {{'alpha': 'sqlite:///{instance}/alpha.db'}}\n",
    )
    app = build()
    assert app.config["BATCH_MAX_ITEMS"] == 10
    assert app.config["PSV_WINDOW_DAYS"] == 30
    assert app.config["DATABASES"] == {"alpha": f"sqlite:///{instance}/alpha.db"}
    assert app.config["TOKEN_TTL_SECONDS"] == 86400  # untouched defaults stay


def test_environment_overrides_instance_config(
    build: Callable[..., Flask], instance: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_instance_config(
        instance,
        f"BATCH_MAX_ITEMS = 10\nPSV_WINDOW_DAYS = 30\n"
        f"DATABASES = {{'alpha': 'sqlite:///{instance}/alpha.db'}}\n",
    )
    databases = {"beta": f"sqlite:///{instance}/beta.db", "gamma": "postgresql://u@db/gamma"}
    monkeypatch.setenv("FLASK_BATCH_MAX_ITEMS", "20")
    monkeypatch.setenv("FLASK_DATABASES", json.dumps(databases))
    app = build()
    assert app.config["BATCH_MAX_ITEMS"] == 20
    assert app.config["PSV_WINDOW_DAYS"] == 30  # not in the environment: instance config stays
    assert app.config["DATABASES"] == {
        "beta": f"sqlite:///{instance}/beta.db",
        "gamma": "postgresql+psycopg://u@db/gamma",
    }
    assert list(app.config["DATABASES"]) == ["beta", "gamma"]  # order kept: first = default


def test_test_config_overrides_environment(
    build: Callable[..., Flask], instance: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLASK_BATCH_MAX_ITEMS", "20")
    monkeypatch.setenv("FLASK_DATABASES", "this is not JSON, but test_config replaces it")
    app = build({"BATCH_MAX_ITEMS": 30, "DATABASES": {"delta": f"sqlite:///{instance}/delta.db"}})
    assert app.config["BATCH_MAX_ITEMS"] == 30
    assert app.config["DATABASES"] == {"delta": f"sqlite:///{instance}/delta.db"}


def test_secret_key_from_the_environment_is_taken_verbatim(
    build: Callable[..., Flask], instance: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # from_prefixed_env parses values as JSON: a key of digits would otherwise become an int
    # (unusable for signing) and "null" would silently fall back to the local key.
    for secret in (
        "12345678901234567890123456789012345",
        "1e999999999999999999999999999999",
        '"quoted-secret-value-of-32-or-more"',
    ):
        monkeypatch.setenv("FLASK_SECRET_KEY", secret)
        app = build()
        assert app.config["SECRET_KEY"] == secret
    assert not (instance / "secret_key").exists()


def test_local_secret_key_is_created_once_and_reused(
    build: Callable[..., Flask], instance: Path
) -> None:
    first = build()
    key_file = instance / "secret_key"
    assert key_file.is_file()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    secret = first.config["SECRET_KEY"]
    assert secret == key_file.read_text()
    assert len(secret) >= 32
    second = build()
    assert second.config["SECRET_KEY"] == secret
    assert key_file.read_text() == secret


def test_local_secret_key_differs_per_instance_folder(
    build: Callable[..., Flask], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = build()
    monkeypatch.setenv("CREDGRID_INSTANCE_PATH", str(tmp_path / "elsewhere"))
    second = build()
    assert first.config["SECRET_KEY"] != second.config["SECRET_KEY"]


def test_a_configured_secret_key_creates_no_key_file(
    build: Callable[..., Flask], instance: Path
) -> None:
    app = build({"SECRET_KEY": SECRET})
    assert app.config["SECRET_KEY"] == SECRET
    assert not (instance / "secret_key").exists()


def test_factory_builds_independent_apps(build: Callable[..., Flask], instance: Path) -> None:
    one = build({"BATCH_MAX_ITEMS": 1})
    two = build({"BATCH_MAX_ITEMS": 2})
    assert one is not two
    assert (one.config["BATCH_MAX_ITEMS"], two.config["BATCH_MAX_ITEMS"]) == (1, 2)


# ---------------------------------------------------------------------------------------------
# Bad configuration: each refused at start-up with a message naming the setting

NOT_AN_OBJECT = (
    "FLASK_DATABASES must be a non-empty JSON object mapping database names to SQLAlchemy "
    'URLs, e.g. {"demo": "sqlite:///instance/demo.db"}.'
)


def bad_name(name: str) -> str:
    return (
        f"FLASK_DATABASES: database name {name!r} must be 1-63 letters, digits, '_', '-' or "
        "'.', starting with a letter or digit."
    )


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        (
            "FLASK_DATABASES",
            '{"main": "sqlite:///x.db"',
            "FLASK_DATABASES is not valid JSON: Expecting ',' delimiter: line 1 column 26 "
            "(char 25).",
        ),
        (
            "FLASK_DATABASES",
            "{main: sqlite:///x.db}",
            "FLASK_DATABASES is not valid JSON: Expecting property name enclosed in double "
            "quotes: line 1 column 2 (char 1).",
        ),
        ("FLASK_DATABASES", '["sqlite:///x.db"]', NOT_AN_OBJECT),
        (
            "FLASK_DATABASES",
            "sqlite:///x.db",
            "FLASK_DATABASES is not valid JSON: Expecting value: line 1 column 1 (char 0).",
        ),
        ("FLASK_DATABASES", "42", NOT_AN_OBJECT),
        ("FLASK_DATABASES", "null", NOT_AN_OBJECT),
        ("FLASK_DATABASES", "{}", NOT_AN_OBJECT),
        ("FLASK_DATABASES", '{"../x": "sqlite:///x.db"}', bad_name("../x")),
        ("FLASK_DATABASES", '{"": "sqlite:///x.db"}', bad_name("")),
        ("FLASK_DATABASES", '{"a/b": "sqlite:///x.db"}', bad_name("a/b")),
        ("FLASK_DATABASES", '{".hidden": "sqlite:///x.db"}', bad_name(".hidden")),
        ("FLASK_DATABASES", '{"main\\n": "sqlite:///x.db"}', bad_name("main\n")),
        ("FLASK_DATABASES", '{"x y": "sqlite:///x.db"}', bad_name("x y")),
        ("FLASK_DATABASES", json.dumps({"a" * 64: "sqlite://"}), bad_name("a" * 64)),
        (
            "FLASK_DATABASES",
            '{"main": "mysql://u:p@localhost/credgrid"}',
            "FLASK_DATABASES['main'] uses 'mysql'; only sqlite and postgresql are supported.",
        ),
        (
            "FLASK_DATABASES",
            '{"main": "oracle://u@h/x"}',
            "FLASK_DATABASES['main'] uses 'oracle'; only sqlite and postgresql are supported.",
        ),
        (
            "FLASK_DATABASES",
            '{"main": "just a file name"}',
            "FLASK_DATABASES['main'] is not a SQLAlchemy URL.",
        ),
        (
            "FLASK_DATABASES",
            '{"main": 5}',
            "FLASK_DATABASES['main'] must be a URL string.",
        ),
        # These three were tracebacks: SQLAlchemy's ValueError, the missing driver's
        # ModuleNotFoundError, psycopg's ProgrammingError at the first connection.
        (
            "FLASK_DATABASES",
            '{"main": "postgresql://u:secret@db:54x2/credgrid"}',
            "FLASK_DATABASES['main'] is not a SQLAlchemy URL: its port is not a number.",
        ),
        (
            "FLASK_DATABASES",
            '{"main": "sqlite+pysqlcipher:///x.db"}',
            "FLASK_DATABASES['main'] uses the driver 'pysqlcipher'; a SQLite database is "
            "opened with Python's sqlite3: sqlite:///path/to/file.db.",
        ),
        (
            "FLASK_DATABASES",
            '{"main": "postgresql://u:secret@db/credgrid?sslmod=require"}',
            "FLASK_DATABASES['main']: invalid connection option \"sslmod\".",
        ),
        (
            "FLASK_BATCH_MAX_ITEMS",
            "0",
            "FLASK_BATCH_MAX_ITEMS must be a positive integer, got 0.",
        ),
        (
            "FLASK_BATCH_MAX_ITEMS",
            "-5",
            "FLASK_BATCH_MAX_ITEMS must be a positive integer, got -5.",
        ),
        (
            "FLASK_BATCH_MAX_ITEMS",
            "many",
            "FLASK_BATCH_MAX_ITEMS must be a positive integer, got 'many'.",
        ),
        (
            "FLASK_BATCH_MAX_ITEMS",
            "2.5",
            "FLASK_BATCH_MAX_ITEMS must be a positive integer, got 2.5.",
        ),
        (
            "FLASK_BATCH_MAX_ITEMS",
            "true",
            "FLASK_BATCH_MAX_ITEMS must be a positive integer, got True.",
        ),
        (
            "FLASK_MAX_CONTENT_LENGTH",
            "0",
            "FLASK_MAX_CONTENT_LENGTH must be a positive integer, got 0.",
        ),
        (
            "FLASK_TOKEN_TTL_SECONDS",
            "-1",
            "FLASK_TOKEN_TTL_SECONDS must be a number of seconds from 1 to 316224000 (ten "
            "years), got -1.",
        ),
        # A TTL this long passed, then every login was a 500 (its expiry overflowed).
        (
            "FLASK_TOKEN_TTL_SECONDS",
            "300000000000",
            "FLASK_TOKEN_TTL_SECONDS must be a number of seconds from 1 to 316224000 (ten "
            "years), got 300000000000.",
        ),
        (
            "FLASK_REFRESH_TOKEN_TTL_SECONDS",
            "99999999999999999999",
            "FLASK_REFRESH_TOKEN_TTL_SECONDS must be a number of seconds from 1 to 316224000 "
            "(ten years), got 99999999999999999999.",
        ),
        (
            "FLASK_PSV_WINDOW_DAYS",
            "null",
            "FLASK_PSV_WINDOW_DAYS must be a number of days from 1 to 3660 (ten years), got None.",
        ),
        # A window this long passed, then every expirables request was a 500 (today minus
        # the window is before the year 1) and monitor-expirables a traceback.
        (
            "FLASK_PSV_WINDOW_DAYS",
            "99999999999",
            "FLASK_PSV_WINDOW_DAYS must be a number of days from 1 to 3660 (ten years), got "
            "99999999999.",
        ),
        (
            "FLASK_SECRET_KEY",
            "short",
            "FLASK_SECRET_KEY must be at least 32 characters long.",
        ),
        (
            "FLASK_SECRET_KEY",
            "1234567890123456789012345678901",
            "FLASK_SECRET_KEY must be at least 32 characters long.",
        ),
        (
            "FLASK_DATABASES",
            '{"a": "sqlite://"}',
            "FLASK_DATABASES['a'] is an in-memory SQLite database, which each worker would have "
            "alone and lose on exit; name a file (sqlite:////path/to/file.db).",
        ),
        (
            "FLASK_DATABASES",
            '{"a": "sqlite:///file:x?mode=memory&uri=true"}',
            "FLASK_DATABASES['a'] is an in-memory SQLite database, which each worker would have "
            "alone and lose on exit; name a file (sqlite:////path/to/file.db).",
        ),
        (
            "FLASK_RATELIMIT_STORAGE_URI",
            "bogus://x",
            "FLASK_RATELIMIT_STORAGE_URI must be a storage URI of the limits library such as "
            "memory:// or redis://host:6379, got 'bogus://x'.",
        ),
        # Passed the scheme check, then stopped start-up with a traceback from inside limits.
        (
            "FLASK_RATELIMIT_STORAGE_URI",
            "redis://127.0.0.1:abc",
            "FLASK_RATELIMIT_STORAGE_URI cannot be used: Port could not be cast to integer value "
            "as 'abc'.",
        ),
        # redis-py drops a database part that is no number: the counters went to database 0
        # (database 12 for /1/2), whatever the URI named, and nothing said so.
        (
            "FLASK_RATELIMIT_STORAGE_URI",
            "redis://:secret@127.0.0.1:6379/xyz",
            "FLASK_RATELIMIT_STORAGE_URI must name the Redis database by its number "
            "(redis://host:6379/0) or not at all, got the database 'xyz'.",
        ),
        # A password may hold "/", "?" or "#": none of it is read as the database part, and
        # no message shows it.
        (
            "FLASK_RATELIMIT_STORAGE_URI",
            "redis://:se/cr?e#t@127.0.0.1:6379/xyz",
            "FLASK_RATELIMIT_STORAGE_URI must name the Redis database by its number "
            "(redis://host:6379/0) or not at all, got the database 'xyz'.",
        ),
        (
            "FLASK_RATELIMIT_STORAGE_URI",
            "bogus://user:secret@x",
            "FLASK_RATELIMIT_STORAGE_URI must be a storage URI of the limits library such as "
            "memory:// or redis://host:6379, got 'bogus://…@x'.",
        ),
        # redis-py reads a password from the query too: no message shows that either.
        (
            "FLASK_RATELIMIT_STORAGE_URI",
            "bogus://x/0?password=secret",
            "FLASK_RATELIMIT_STORAGE_URI must be a storage URI of the limits library such as "
            "memory:// or redis://host:6379, got 'bogus://x/0'.",
        ),
        (
            "FLASK_RATELIMIT_STORAGE_URI",
            "rediss://127.0.0.1:6379/1/2",
            "FLASK_RATELIMIT_STORAGE_URI must name the Redis database by its number "
            "(redis://host:6379/0) or not at all, got the database '1/2'.",
        ),
        (
            "FLASK_RATELIMIT_STORAGE_OPTIONS",
            "timeout=1",
            "FLASK_RATELIMIT_STORAGE_OPTIONS must be a JSON object of the storage's options, "
            "got 'timeout=1'.",
        ),
        (  # stopped start-up with a traceback from inside Flask-Limiter
            "FLASK_RATELIMIT_STRATEGY",
            "bogus",
            "FLASK_RATELIMIT_STRATEGY must be one of fixed-window, moving-window, "
            "sliding-window-counter, got 'bogus'.",
        ),
        (
            "FLASK_RATE_LIMIT",
            "fast",
            "FLASK_RATE_LIMIT must be a rate such as '25 per second', got 'fast'.",
        ),
        (  # parsed, then every request was a 429 "Try again in 2 seconds"
            "FLASK_RATE_LIMIT",
            "0 per second",
            "FLASK_RATE_LIMIT must be a rate such as '25 per second', got '0 per second'.",
        ),
        (
            "FLASK_AUTH_FAILURE_RATE_LIMIT",
            "60/minute;0/hour",
            "FLASK_AUTH_FAILURE_RATE_LIMIT must be a rate such as '60 per minute', got "
            "'60/minute;0/hour'.",
        ),
        # The login throttle's settings were not checked: a traceback, or a throttle silently
        # off (a negative delay) or forgetting failures after a second (a negative window).
        (
            "FLASK_LOGIN_FAILURE_DELAY_SECONDS",
            "slow",
            "FLASK_LOGIN_FAILURE_DELAY_SECONDS must be a number of seconds from 0 to 86400, "
            "got 'slow'.",
        ),
        (
            "FLASK_LOGIN_FAILURE_MAX_DELAY_SECONDS",
            "-1",
            "FLASK_LOGIN_FAILURE_MAX_DELAY_SECONDS must be a number of seconds from 0 to "
            "86400, got -1.",
        ),
        (
            "FLASK_LOGIN_FAILURE_WINDOW_SECONDS",
            "1e400",
            "FLASK_LOGIN_FAILURE_WINDOW_SECONDS must be a number of seconds from 1 to 2592000, "
            "got inf.",
        ),
        (
            "FLASK_LOGIN_ADDRESS_FREE_FAILURES",
            "2.5",
            "FLASK_LOGIN_ADDRESS_FREE_FAILURES must be a whole number from 0 to 1000000, got 2.5.",
        ),
        # The UI's sizes and session life: a word or a huge number passed start-up, then
        # failed every page (or made one page of a whole table).
        (
            "FLASK_UI_PAGE_SIZE",
            "100000",
            "FLASK_UI_PAGE_SIZE must be a whole number from 1 to 1000, got 100000.",
        ),
        (
            "FLASK_GRID_PAGE_SIZE",
            "many",
            "FLASK_GRID_PAGE_SIZE must be a whole number from 1 to 500, got 'many'.",
        ),
        (
            "FLASK_GRID_BLANK_ROWS",
            "abc",
            "FLASK_GRID_BLANK_ROWS must be a whole number from 0 to 100, got 'abc'.",
        ),
        (
            "FLASK_PERMANENT_SESSION_LIFETIME",
            "1e300",
            "FLASK_PERMANENT_SESSION_LIFETIME must be a whole number from 1 to 316224000, "
            "got 1e+300.",
        ),
        (
            "FLASK_GC_FREEZE_AT_START",
            "1",
            "FLASK_GC_FREEZE_AT_START must be true or false, got 1.",
        ),
        # Read as text, which is true: a Secure cookie (and HSTS) over plain HTTP.
        (
            "FLASK_SESSION_COOKIE_SECURE",
            "off",
            "FLASK_SESSION_COOKIE_SECURE must be true or false, got 'off'.",
        ),
        (
            "FLASK_SESSION_COOKIE_SECURE",
            "False",
            "FLASK_SESSION_COOKIE_SECURE must be true or false, got 'False'.",
        ),
        (
            "FLASK_DATABASE_SHOW_PARAMETERS",
            "yes",
            "FLASK_DATABASE_SHOW_PARAMETERS must be true or false, got 'yes'.",
        ),
        # Passed start-up, then every CSV upload of the UI was a 500 (a TypeError in Werkzeug).
        (
            "FLASK_MAX_FORM_MEMORY_SIZE",
            "abc",
            "FLASK_MAX_FORM_MEMORY_SIZE must be a positive integer, got 'abc'.",
        ),
        (
            "FLASK_MAX_FORM_MEMORY_SIZE",
            "0",
            "FLASK_MAX_FORM_MEMORY_SIZE must be a positive integer, got 0.",
        ),
        (
            "FLASK_SQLITE_CHECKPOINT_INTERVAL",
            "-1",
            "FLASK_SQLITE_CHECKPOINT_INTERVAL must be a number of seconds from 0 to 3600, got -1.",
        ),
        (
            "FLASK_SQLITE_CHECKPOINT_INTERVAL",
            "Infinity",
            "FLASK_SQLITE_CHECKPOINT_INTERVAL must be a number of seconds from 0 to 3600, got inf.",
        ),
        (
            "FLASK_SQLITE_CHECKPOINT_INTERVAL",
            "true",
            "FLASK_SQLITE_CHECKPOINT_INTERVAL must be a number of seconds from 0 to 3600, got "
            "True.",
        ),
    ],
)
def test_bad_environment_is_refused_with_a_clear_message(
    build: Callable[..., Flask],
    monkeypatch: pytest.MonkeyPatch,
    variable: str,
    value: str,
    message: str,
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as excinfo:
        build()
    assert str(excinfo.value) == message


@pytest.mark.parametrize("value", [5, None, ["a"]])
def test_a_rate_limit_key_prefix_must_be_text(build: Callable[..., Flask], value: Any) -> None:
    """Passed unchecked: ``None`` meant no prefix at all (deployments meant to be apart shared
    their counters in one Redis), others were turned into text wherever a key was built."""
    with pytest.raises(ConfigError) as excinfo:
        build({"RATELIMIT_KEY_PREFIX": value})
    assert str(excinfo.value) == f"FLASK_RATELIMIT_KEY_PREFIX must be text, got {value!r}."


@pytest.mark.parametrize("value", ["123", "null", "plan-a"])
def test_a_rate_limit_key_prefix_is_read_verbatim(
    build: Callable[..., Flask], monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("FLASK_RATELIMIT_KEY_PREFIX", value)
    assert build().config["RATELIMIT_KEY_PREFIX"] == value


def test_the_flask_command_reports_an_unusable_storage_uri_in_one_line(instance: Path) -> None:
    result = run_flask(
        flask_environment(instance, FLASK_RATELIMIT_STORAGE_URI="redis://127.0.0.1:abc"), "routes"
    )
    assert (result.returncode, result.stdout, result.stderr) == (
        1,
        "",
        "Error: FLASK_RATELIMIT_STORAGE_URI cannot be used: Port could not be cast to integer "
        "value as 'abc'.\n",
    )


@pytest.mark.parametrize(("value", "secure"), [("true", True), ("false", False)])
def test_session_cookie_secure_is_read_as_a_json_boolean(
    build: Callable[..., Flask], monkeypatch: pytest.MonkeyPatch, value: str, secure: bool
) -> None:
    monkeypatch.setenv("FLASK_SESSION_COOKIE_SECURE", value)
    assert build().config["SESSION_COOKIE_SECURE"] is secure


def test_a_session_lifetime_may_be_a_timedelta_as_flask_allows(
    build: Callable[..., Flask],
) -> None:
    app = build({"PERMANENT_SESSION_LIFETIME": timedelta(hours=2)})
    assert app.permanent_session_lifetime == timedelta(hours=2)
    with pytest.raises(ConfigError, match="got 0"):
        build({"PERMANENT_SESSION_LIFETIME": timedelta(0)})


def test_bad_instance_config_is_refused(build: Callable[..., Flask], instance: Path) -> None:
    write_instance_config(instance, "DATABASES = {}\n")
    with pytest.raises(ConfigError) as excinfo:
        build()
    assert str(excinfo.value) == NOT_AN_OBJECT


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("BATCH_MAX_ITEMS = (\n", "SyntaxError at line 1: '(' was never closed"),
        ("\n\nimport no_such_module\n", "ModuleNotFoundError: No module named 'no_such_module'"),
        ("PSV_WINDOW_DAYS = 1 / 0\n", "ZeroDivisionError: division by zero"),
    ],
    ids=["syntax error", "import error", "runtime error"],
)
def test_an_instance_config_that_cannot_run_is_a_config_error(
    build: Callable[..., Flask], instance: Path, text: str, reason: str
) -> None:
    write_instance_config(instance, text)
    with pytest.raises(ConfigError) as excinfo:
        build()
    assert str(excinfo.value) == (
        f"The instance configuration {instance / 'config.py'} cannot be loaded: {reason}."
    )


@pytest.mark.parametrize("value", ["", "instance", "./instance"])
def test_an_instance_path_that_is_not_absolute_is_a_config_error(
    build: Callable[..., Flask], monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    """Flask raised ``ValueError`` (a traceback under ``flask``); relative to the working
    directory, each worker started elsewhere would have had a folder, secret key and SQLite
    files of its own."""
    monkeypatch.setenv("CREDGRID_INSTANCE_PATH", value)
    with pytest.raises(ConfigError) as excinfo:
        build()
    assert str(excinfo.value) == (
        f"CREDGRID_INSTANCE_PATH must be an absolute path, got {value!r}."
    )


def test_the_flask_command_reports_a_broken_instance_config_in_one_line(instance: Path) -> None:
    write_instance_config(instance, "BATCH_MAX_ITEMS = (\n")
    result = run_flask(flask_environment(instance), "init-db")
    assert (result.returncode, result.stdout, result.stderr) == (
        1,
        "",
        f"Error: The instance configuration {instance / 'config.py'} cannot be loaded: "
        "SyntaxError at line 1: '(' was never closed.\n",
    )


def test_the_flask_command_reports_a_relative_instance_path_in_one_line(instance: Path) -> None:
    result = run_flask(flask_environment(instance, CREDGRID_INSTANCE_PATH="instance"), "init-db")
    assert (result.returncode, result.stdout, result.stderr) == (
        1,
        "",
        "Error: CREDGRID_INSTANCE_PATH must be an absolute path, got 'instance'.\n",
    )


@pytest.mark.parametrize(
    "name",
    [
        "DATABASE_STATEMENT_TIMEOUT_SECONDS",
        "DATABASE_LOCK_TIMEOUT_SECONDS",
        "DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_SECONDS",
        "SQLITE_BUSY_TIMEOUT_SECONDS",
        "IDEMPOTENCY_LEASE_SECONDS",
    ],
)
def test_a_wait_longer_than_the_database_takes_is_refused(
    build: Callable[..., Flask], monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    """PostgreSQL refused the timeouts (milliseconds, a 32-bit integer) at every connection:
    each command said the database was "unavailable"; SQLite's busy timeout is the same
    integer, and a lease of 10^12 seconds overflowed the date of its end (a 500)."""
    build({"SECRET_KEY": SECRET, name: 2_147_483})
    monkeypatch.setenv(f"FLASK_{name}", "2147484")
    with pytest.raises(ConfigError) as excinfo:
        build({"SECRET_KEY": SECRET})
    assert str(excinfo.value) == (
        f"FLASK_{name} must be a number of seconds from 1 to 2147483 (24 days), got 2147484."
    )


def test_bad_test_config_is_refused(build: Callable[..., Flask]) -> None:
    with pytest.raises(ConfigError) as excinfo:
        build({"BATCH_MAX_ITEMS": "5000"})
    assert str(excinfo.value) == "FLASK_BATCH_MAX_ITEMS must be a positive integer, got '5000'."


def test_a_bad_setting_is_not_rescued_by_a_later_good_layer_of_another_setting(
    build: Callable[..., Flask], instance: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_instance_config(instance, "BATCH_MAX_ITEMS = 0\n")
    monkeypatch.setenv("FLASK_PSV_WINDOW_DAYS", "90")
    with pytest.raises(ConfigError, match=r"^FLASK_BATCH_MAX_ITEMS must be a positive integer"):
        build()


@pytest.mark.parametrize("command", [["--help"], ["routes"], ["create-user", "bob"]])
def test_the_flask_command_reports_a_bad_setting_in_one_line(
    instance: Path, command: list[str]
) -> None:
    """``flask --help`` loads the app too; Flask prints a traceback for its errors and exits 0."""
    result = run_flask(flask_environment(instance, FLASK_UI_PAGE_SIZE="0"), *command)
    assert (result.returncode, result.stdout, result.stderr) == (
        1,
        "",
        "Error: FLASK_UI_PAGE_SIZE must be a whole number from 1 to 1000, got 0.\n",
    )


def test_a_config_error_is_raised_under_a_click_command_other_than_flask(
    build: Callable[..., Flask],
) -> None:
    """Only the ``flask`` command exits; code building the app in its own command gets the error."""
    with click.Context(click.Command("tool")), pytest.raises(ConfigError):
        build({"UI_PAGE_SIZE": 0})


# ---------------------------------------------------------------------------------------------
# URLs


@pytest.mark.parametrize(
    ("url", "normalised"),
    [
        ("postgresql://u@db.example/credgrid", "postgresql+psycopg://u@db.example/credgrid"),
        (
            "postgresql+psycopg2://u:secret@db.example:5433/credgrid",
            "postgresql+psycopg://u:secret@db.example:5433/credgrid",
        ),
        (
            "postgresql+psycopg://u:p%40ss%3Aword@db/credgrid?sslmode=require",
            "postgresql+psycopg://u:p%40ss%3Aword@db/credgrid?sslmode=require",
        ),
        ("sqlite:////var/lib/credgrid/main.db", "sqlite:////var/lib/credgrid/main.db"),
        ("sqlite:////srv/credgrid/main.db", "sqlite:////srv/credgrid/main.db"),
    ],
)
def test_postgresql_urls_are_pinned_to_psycopg_3(url: str, normalised: str) -> None:
    assert normalise_databases({"main": url})[0] == {"main": normalised}


def test_postgresql_engine_uses_psycopg_3(build: Callable[..., Flask]) -> None:
    # Building the app creates the engine but does not connect: the host need not exist.
    app = build({"DATABASES": {"pg": "postgresql://u:pw@db.invalid/credgrid"}})
    with app.app_context():
        engine = db.engines["pg"]
    assert engine.dialect.driver == "psycopg"
    assert engine.url.password == "pw"


def test_local_secret_key_is_shared_by_workers_starting_together(instance: Path) -> None:
    """gunicorn workers build the app at the same moment: they must all get one key."""
    from app.config import _local_secret_key

    workers = 16
    barrier = threading.Barrier(workers)

    def start_worker() -> str:
        barrier.wait()
        return _local_secret_key(instance)

    with ThreadPoolExecutor(workers) as pool:
        keys = list(pool.map(lambda _: start_worker(), range(workers)))
    assert set(keys) == {(instance / "secret_key").read_text()}
    assert len(keys[0]) >= 32
    assert sorted(p.name for p in instance.iterdir()) == ["secret_key"]
    assert stat.S_IMODE((instance / "secret_key").stat().st_mode) == 0o600


def test_environment_settings_reach_the_running_app(
    instance: Path,
    monkeypatch: pytest.MonkeyPatch,
    app_config: dict[str, Any],
    auth_headers: Callable[..., dict[str, str]],
    make_cred: Callable[..., int],
) -> None:
    """FLASK_BATCH_MAX_ITEMS set in the environment is the limit the batch endpoint applies."""
    headers = auth_headers("main")
    make_cred(1, "main")
    monkeypatch.setenv("FLASK_BATCH_MAX_ITEMS", "2")
    config = {k: v for k, v in app_config.items() if k != "BATCH_MAX_ITEMS"}
    app = create_app(config)
    try:
        client = app.test_client()
        items = [{"providerCredLicense_Key": k, "providerCred_Key": 1} for k in (1, 2, 3)]
        response = client.put(
            "/provider-credentialing/1/licenses-batch", json=items, headers=headers
        )
        assert response.status_code == 413
        assert response.get_json()["error"]["detail"] == (
            "The batch has 3 items; at most 2 are allowed."
        )
        response = client.put(
            "/provider-credentialing/1/licenses-batch", json=items[:2], headers=headers
        )
        assert response.status_code == 207
    finally:
        dispose_engines(app)


@pytest.mark.parametrize("where", ["a file", "under /proc"])
def test_an_instance_folder_that_cannot_hold_the_key_is_a_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    from app import create_app

    folder = tmp_path / "file" if where == "a file" else Path("/proc/credgrid-nope")
    if where == "a file":
        folder.write_text("not a folder")
    monkeypatch.setenv("CREDGRID_INSTANCE_PATH", str(folder))
    monkeypatch.delenv("FLASK_SECRET_KEY", raising=False)
    with pytest.raises(ConfigError, match=r"^The instance folder .* cannot hold the local secret"):
        create_app({"DATABASES": {"main": f"sqlite:///{tmp_path / 'main.db'}"}})


def test_a_full_instance_folder_leaves_no_draft_key_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The key is written to a draft file first; when that write fails (the disk is full),
    the start fails with the usual message and the draft is removed, not left behind on
    every restart."""
    import errno

    from app import create_app

    folder = tmp_path / "instance"
    folder.mkdir()
    real_fdopen = os.fdopen

    def full_disk(fd: int, *args: Any, **kwargs: Any) -> Any:
        stream = real_fdopen(fd, *args, **kwargs)

        def write(_text: str) -> int:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        stream.write = write
        return stream

    monkeypatch.setattr("app.config.os.fdopen", full_disk)
    monkeypatch.setenv("CREDGRID_INSTANCE_PATH", str(folder))
    monkeypatch.delenv("FLASK_SECRET_KEY", raising=False)
    with pytest.raises(ConfigError, match=r"cannot hold the local secret key: No space left"):
        create_app({"DATABASES": {"main": f"sqlite:///{tmp_path / 'main.db'}"}})
    assert list(folder.iterdir()) == []


def test_sqlite_databases_need_a_recent_enough_sqlite(
    build: Callable[..., Flask], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Older SQLite libraries lack what the integrity review's read uses (MATERIALIZED)."""
    monkeypatch.setattr("app.config.sqlite3.sqlite_version_info", (3, 31, 1))
    monkeypatch.setattr("app.config.sqlite3.sqlite_version", "3.31.1")
    with pytest.raises(ConfigError) as excinfo:
        build({"DATABASES": {"main": f"sqlite:///{tmp_path / 'main.db'}"}})
    assert str(excinfo.value) == (
        "SQLite databases need SQLite 3.35 or later; this Python's sqlite3 module has 3.31.1: "
        "use a Python built with a newer SQLite, or PostgreSQL."
    )
    monkeypatch.setattr("app.config.sqlite3.sqlite_version_info", (3, 35, 0))
    build({"DATABASES": {"main": f"sqlite:///{tmp_path / 'main.db'}"}})


@pytest.mark.parametrize(
    ("value", "stored"),
    [
        ("https://credgrid.example.org", "https://credgrid.example.org"),
        ("https://credgrid.example.org/", "https://credgrid.example.org"),
        (" http://10.0.0.5:8080 ", "http://10.0.0.5:8080"),
        ("", ""),
    ],
)
def test_the_public_url_is_read_verbatim_without_its_trailing_slash(
    build: Callable[..., Flask], monkeypatch: pytest.MonkeyPatch, value: str, stored: str
) -> None:
    monkeypatch.setenv("FLASK_PUBLIC_URL", value)
    assert build().config["PUBLIC_URL"] == stored


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("credgrid.example.org", "its scheme is not http or https"),
        ("ftp://credgrid.example.org", "its scheme is not http or https"),
        ("https://", "it names no host and port"),
        ("https://a:b@credgrid.example.org", "it holds a user name or password"),
        ("https://credgrid.example.org/ui", "it has a path, query or fragment"),
        ("https://credgrid.example.org?x=1", "it has a path, query or fragment"),
        ("https://credgrid.example.org:http", "Port could not be cast to integer value as 'http'"),
        (5, "it is not text"),
    ],
)
def test_a_bad_public_url_is_refused_naming_the_setting(
    build: Callable[..., Flask], value: Any, problem: str
) -> None:
    with pytest.raises(ConfigError) as excinfo:
        build({"PUBLIC_URL": value})
    assert str(excinfo.value) == (
        "FLASK_PUBLIC_URL must be the address people reach credgrid at, such as "
        f"https://credgrid.example.org, or empty ({problem}): got {value!r}."
    )
