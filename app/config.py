"""Configuration: defaults, layering (SPEC section 7) and start-up validation."""

from __future__ import annotations

import json
import os
import re
import secrets
import sqlite3
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click
import limits.storage
from flask import Flask
from flask.cli import FlaskGroup
from limits import parse_many
from limits.strategies import STRATEGIES as RATE_LIMIT_STRATEGIES
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

DATABASE_NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}")
SUPPORTED_BACKENDS = {"sqlite", "postgresql"}
# Settings that are strings whatever they look like: ``from_prefixed_env`` parses values as
# JSON, which would turn a secret (or a key prefix) of digits into an int and ``null`` into
# None (no prefix at all: deployments meant to be apart would share their counters).
VERBATIM_ENV_SETTINGS = ("SECRET_KEY", "RATELIMIT_KEY_PREFIX", "PUBLIC_URL")


MAX_CHECKPOINT_INTERVAL = 3600
#: The rate limiter's storages (``limits``), the asynchronous ones left out.
SYNC_STORAGE_SCHEMES = frozenset(s for s in limits.storage.SCHEMES if not s.startswith("async+"))
#: Storage schemes of the form ``scheme://[user:password@]host:port/database``.
REDIS_HOST_SCHEMES = frozenset({"redis", "rediss", "valkey", "valkeys"})
REDIS_DATABASE_PATTERN = re.compile(r"[0-9]*")
#: The longest a token may live: ten years (beyond a few thousand years its expiry overflows).
MAX_TTL = 10 * 366 * 86400
#: The longest PSV window: ten years. Today minus a window of millions of days is before the
#: year 1, which every expiry count computes: each expirables request was a 500 and
#: ``monitor-expirables`` a traceback.
MAX_PSV_WINDOW_DAYS = 10 * 366


class ConfigError(click.ClickException, RuntimeError):
    """A configuration value is unusable; the message says which and why.

    A ``ClickException`` because the app factory raises it while ``flask`` loads the app for a
    command: click then prints the message alone and exits 1, instead of a traceback. Under
    ``flask`` the factory reports it itself (``exit_under_flask_cli``), for ``flask --help``.
    """


def exit_under_flask_cli(error: ConfigError) -> None:
    """Under the ``flask`` command, print ``error`` as click does (one line) and exit 1.

    ``flask --help`` loads the app to list its commands and prints a traceback for any error
    there but Flask's own ``NoAppException``, then exits 0; ``SystemExit`` is the one thing
    that goes through. Called from anywhere else (the app built in code, under a WSGI server,
    in tests) this returns and the caller raises ``error``.
    """
    ctx = click.get_current_context(silent=True)
    if ctx is not None and isinstance(ctx.find_root().command, FlaskGroup):
        error.show()
        sys.exit(error.exit_code)


def default_settings(instance_path: str) -> dict[str, Any]:
    return {
        "DATABASES": {"demo": f"sqlite:///{Path(instance_path) / 'demo.db'}"},
        "BATCH_MAX_ITEMS": 5000,
        "MAX_CONTENT_LENGTH": 16 * 1024 * 1024,
        "TOKEN_TTL_SECONDS": 86400,
        "REFRESH_TOKEN_TTL_SECONDS": 30 * 86400,
        "RATE_LIMIT": "25 per second",
        "PSV_WINDOW_DAYS": 120,
        # SQLite: opt-in background WAL checkpoints every N seconds (app/sqlite_checkpoints.py);
        # 0, the default, leaves checkpoints to SQLite itself and starts no thread.
        "SQLITE_CHECKPOINT_INTERVAL": 0,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        # Login routes (UI and API): attempts per client address, before any password hashing.
        "LOGIN_RATE_LIMIT": "30 per minute",
        # API requests answered 401, per client address; beyond it the address gets 429.
        "AUTH_FAILURE_RATE_LIMIT": "60 per minute",
        # Rate limits and login throttles: memory:// per process; redis://host:port shared.
        "RATELIMIT_STORAGE_URI": "memory://",
        # Reverse proxies in front of the app whose X-Forwarded-* headers are trusted (ProxyFix).
        "TRUSTED_PROXIES": 0,
        # Where people reach the app (``https://credgrid.example.org``): links written into
        # files (the integrity review's CSV) start with it. Empty: they are paths. Never taken
        # from a request's Host, which the client writes (app.public_url).
        "PUBLIC_URL": "",
        "LOGIN_FAILURE_DELAY_SECONDS": 0.5,
        "GRID_BLANK_ROWS": 5,
        # Licenses a page of the grid (its blank rows come on top): a row of editable cells is
        # several kilobytes of HTML with a rendering cost of its own (docs/performance.md).
        "GRID_PAGE_SIZE": 50,
        # The largest text field of a multipart form (the UI's CSV upload form): Werkzeug
        # applies it to multipart forms only. The grid Save is urlencoded; UI_MAX_CONTENT_LENGTH
        # bounds it.
        "MAX_FORM_MEMORY_SIZE": 8 * 1024 * 1024,
        # Failed logins (UI and API) back off from LOGIN_FAILURE_DELAY_SECONDS, doubling per
        # failure up to the maximum; failures older than the window are forgotten.
        "LOGIN_FAILURE_MAX_DELAY_SECONDS": 30,
        "LOGIN_FAILURE_WINDOW_SECONDS": 900,
        # Failures one client address may make before its own back-off starts.
        "LOGIN_ADDRESS_FREE_FAILURES": 5,
        # /ui form bodies (half the API's MAX_CONTENT_LENGTH): a full grid Save of
        # BATCH_MAX_ITEMS rows (~800 bytes each) fits; anything bigger is 413. An import's
        # Apply carries a file this large back: app/ui/form_limits.py gives it its own bound.
        "UI_MAX_CONTENT_LENGTH": 8 * 1024 * 1024,
        "UI_PAGE_SIZE": 25,
        # A UI session lasts 12 h from login, however active (app/ui/login.py checks the
        # login time; the cookie is not re-sent on every request); its CSRF token as long as
        # the session (Flask-WTF's default of 1 h would make a Save after a long edit fail).
        "PERMANENT_SESSION_LIFETIME": 12 * 3600,
        "SESSION_REFRESH_EACH_REQUEST": False,
        "WTF_CSRF_TIME_LIMIT": None,
        # Faults (docs/operations.md): every wait on the database ends well before gunicorn's
        # 30 s worker timeout, and the answer is then a 503 with this Retry-After.
        "DATABASE_STATEMENT_TIMEOUT_SECONDS": 10,
        "DATABASE_LOCK_TIMEOUT_SECONDS": 10,
        "DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_SECONDS": 10,
        "SQLITE_BUSY_TIMEOUT_SECONDS": 10,
        "DATABASE_RETRY_AFTER_SECONDS": 5,
        # An Idempotency-Key's claim: a retry may take it over once the claimant has been
        # silent this long (longer than gunicorn's 30 s timeout, after which it is dead).
        "IDEMPOTENCY_LEASE_SECONDS": 45,
        # create_app ends with gc.freeze(): full collections skip what start-up built.
        "GC_FREEZE_AT_START": True,
        # Debugging only: SQLAlchemy's log lines and error messages show bound parameters
        # (license numbers, hashes of keys and passwords); hidden otherwise (app.tenancy).
        "DATABASE_SHOW_PARAMETERS": False,
    }


def load_config(app: Flask, test_config: dict[str, Any] | None) -> None:
    """Layer defaults, ``instance/config.py``, ``FLASK_*`` variables and test overrides."""
    try:
        _load_config(app, test_config)
    except ConfigError as error:
        exit_under_flask_cli(error)
        raise


def _load_config(app: Flask, test_config: dict[str, Any] | None) -> None:
    app.config.from_mapping(default_settings(app.instance_path))
    load_instance_config(app)
    app.config.from_prefixed_env()
    for name in VERBATIM_ENV_SETTINGS:
        if f"FLASK_{name}" in os.environ:
            app.config[name] = os.environ[f"FLASK_{name}"]
    if test_config:
        app.config.from_mapping(test_config)
    if not app.config.get("SECRET_KEY"):
        try:
            app.config["SECRET_KEY"] = _local_secret_key(Path(app.instance_path))
        except OSError as exc:
            raise ConfigError(
                f"The instance folder {app.instance_path} (CREDGRID_INSTANCE_PATH) cannot hold "
                f"the local secret key: {exc.strerror or exc}. Point it at a writable folder, "
                "or set FLASK_SECRET_KEY."
            ) from None
    validate_config(app.config)


def load_instance_config(app: Flask) -> None:
    """``instance/config.py``, if there is one. It is Python: an error in it (a syntax error,
    a failed import) was a traceback from every command; it is one line naming the file."""
    try:
        app.config.from_pyfile("config.py", silent=True)
    except Exception as exc:
        path = Path(app.instance_path) / "config.py"
        raise ConfigError(
            f"The instance configuration {path} cannot be loaded: {python_error(exc)}."
        ) from None


def python_error(exc: Exception) -> str:
    """``SyntaxError at line 3: invalid syntax``, ``NameError: name 'x' is not defined``."""
    if isinstance(exc, SyntaxError):
        return f"SyntaxError at line {exc.lineno}: {exc.msg}"
    return f"{type(exc).__name__}: {exc}"


def instance_folder(default: Path) -> str:
    """``CREDGRID_INSTANCE_PATH`` or ``default``. Flask refuses a relative path with a
    ``ValueError`` (a traceback under ``flask``); read from the working directory, each
    worker started from elsewhere would have had a folder, key and SQLite files of its own."""
    value = os.environ.get("CREDGRID_INSTANCE_PATH", str(default))
    if not os.path.isabs(value):
        error = ConfigError(f"CREDGRID_INSTANCE_PATH must be an absolute path, got {value!r}.")
        exit_under_flask_cli(error)
        raise error
    return value


def _local_secret_key(instance_path: Path) -> str:
    """A random key created once in ``instance/`` so local sessions survive restarts.

    Workers starting together must end up with the same key, and the key must never be
    readable by others: it is written to a private temporary file and published with an
    atomic ``link``, which fails for all but the first worker; the others read the winner's.
    """
    key_file = instance_path / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    instance_path.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    draft = instance_path / f".secret_key.{os.getpid()}.{secrets.token_hex(8)}"
    try:  # a failed write (a full disk) must not leave the draft behind, one per start
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as stream:
            stream.write(key)
        os.link(draft, key_file)
    except FileExistsError:
        key = key_file.read_text().strip()
    finally:
        draft.unlink(missing_ok=True)
    return key


def validate_config(config: dict[str, Any]) -> None:
    """Fail at start-up with a message naming the bad setting, never later on a request."""
    config["DATABASES"], config["PSV_WINDOW_DAYS_BY_DATABASE"] = normalise_databases(
        config.get("DATABASES")
    )
    check_sqlite_version(config["DATABASES"])
    for name in (
        "BATCH_MAX_ITEMS",
        "MAX_CONTENT_LENGTH",
        "DATABASE_RETRY_AFTER_SECONDS",
        "UI_MAX_CONTENT_LENGTH",
        "MAX_FORM_MEMORY_SIZE",
    ):
        value = config.get(name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"FLASK_{name} must be a positive integer, got {value!r}.")
    for name in WAIT_SETTINGS:
        value = config.get(name)
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_WAIT:
            raise ConfigError(
                f"FLASK_{name} must be a number of seconds from 1 to {MAX_WAIT} (24 days), "
                f"got {value!r}."
            )
    window = config.get("PSV_WINDOW_DAYS")
    if not is_psv_window(window):
        raise ConfigError(f"FLASK_PSV_WINDOW_DAYS must be {PSV_WINDOW_RULE}, got {window!r}.")
    for name in ("TOKEN_TTL_SECONDS", "REFRESH_TOKEN_TTL_SECONDS"):
        value = config.get(name)
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_TTL:
            raise ConfigError(
                f"FLASK_{name} must be a number of seconds from 1 to {MAX_TTL} (ten years), "
                f"got {value!r}."
            )
    storage = str(config.get("RATELIMIT_STORAGE_URI", "memory://"))
    if storage.partition("://")[0] not in SYNC_STORAGE_SCHEMES or "://" not in storage:
        raise ConfigError(
            "FLASK_RATELIMIT_STORAGE_URI must be a storage URI of the limits library such as "
            f"memory:// or redis://host:6379, got {shown_uri(storage)!r}."
        )
    _check_redis_database(storage)
    prefix = config.get("RATELIMIT_KEY_PREFIX", "")
    if not isinstance(prefix, str):
        raise ConfigError(f"FLASK_RATELIMIT_KEY_PREFIX must be text, got {prefix!r}.")
    options = config.get("RATELIMIT_STORAGE_OPTIONS", {})
    if not isinstance(options, dict):
        raise ConfigError(
            "FLASK_RATELIMIT_STORAGE_OPTIONS must be a JSON object of the storage's options, "
            f"got {options!r}."
        )
    strategy = config.get("RATELIMIT_STRATEGY", "fixed-window")
    if strategy not in RATE_LIMIT_STRATEGIES:
        raise ConfigError(
            f"FLASK_RATELIMIT_STRATEGY must be one of {', '.join(sorted(RATE_LIMIT_STRATEGIES))}, "
            f"got {strategy!r}."
        )
    for name in BOOLEAN_SETTINGS:
        if not isinstance(config.get(name, False), bool):
            raise ConfigError(f"FLASK_{name} must be true or false, got {config.get(name)!r}.")
    interval = config.get("SQLITE_CHECKPOINT_INTERVAL")
    if (
        isinstance(interval, bool)
        or not isinstance(interval, int | float)
        or not 0 <= interval <= MAX_CHECKPOINT_INTERVAL
    ):
        raise ConfigError(
            "FLASK_SQLITE_CHECKPOINT_INTERVAL must be a number of seconds from 0 to "
            f"{MAX_CHECKPOINT_INTERVAL}, got "
            f"{interval!r}."
        )
    _check_rate(config, "RATE_LIMIT", "25 per second")
    proxies = config.get("TRUSTED_PROXIES")
    if isinstance(proxies, bool) or not isinstance(proxies, int) or not 0 <= proxies <= 10:
        raise ConfigError(
            f"FLASK_TRUSTED_PROXIES must be the number of reverse proxies in front of the app "
            f"(0 to 10), got {proxies!r}."
        )
    config["PUBLIC_URL"] = checked_public_url(config.get("PUBLIC_URL"))
    _check_rate(config, "LOGIN_RATE_LIMIT", "30 per minute")
    _check_rate(config, "AUTH_FAILURE_RATE_LIMIT", "60 per minute")
    for name, low, high, whole in UI_RANGES + LOGIN_THROTTLE_RANGES:
        value = config.get(name)
        if isinstance(value, timedelta):  # Flask takes a session's life as one too
            value = int(value.total_seconds())
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if not number or not low <= value <= high or (whole and not isinstance(value, int)):
            kind = "a whole number" if whole else "a number of seconds"
            raise ConfigError(f"FLASK_{name} must be {kind} from {low} to {high}, got {value!r}.")
    if len(str(config["SECRET_KEY"])) < 32:
        # It is also the HS256 key of the API tokens: RFC 7518 wants at least 256 bits.
        raise ConfigError("FLASK_SECRET_KEY must be at least 32 characters long.")


#: Waits in seconds that the databases take in milliseconds, as a 32-bit integer: PostgreSQL
#: refused a longer timeout at every connection ("unavailable"), SQLite's busy timeout is the
#: same integer. An idempotency lease is bounded alike (10^12 seconds overflowed its end).
WAIT_SETTINGS = (
    "DATABASE_STATEMENT_TIMEOUT_SECONDS",
    "DATABASE_LOCK_TIMEOUT_SECONDS",
    "DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_SECONDS",
    "SQLITE_BUSY_TIMEOUT_SECONDS",
    "IDEMPOTENCY_LEASE_SECONDS",
)
MAX_WAIT = (2**31 - 1) // 1000

#: Settings that are true or false. ``FLASK_SESSION_COOKIE_SECURE=false`` is JSON, read as
#: ``False``; ``False``, ``off`` or ``no`` were read as text, which is true: the cookie became
#: ``Secure`` over plain HTTP, where a browser does not send it back, and nothing said why.
BOOLEAN_SETTINGS = ("GC_FREEZE_AT_START", "SESSION_COOKIE_SECURE", "DATABASE_SHOW_PARAMETERS")

#: The UI's sizes and its session's life in seconds, and their ranges: unchecked, a word or a
#: huge number passed start-up and then failed every page (or made one page of it all).
#: Each ``(name, low, high, whole)``: ``whole``, an integer; otherwise a number of seconds.
UI_RANGES = (
    ("UI_PAGE_SIZE", 1, 1000, True),
    ("GRID_PAGE_SIZE", 1, 500, True),
    ("GRID_BLANK_ROWS", 0, 100, True),
    ("PERMANENT_SESSION_LIFETIME", 1, MAX_TTL, True),
)

#: The login throttle's settings (``app.auth.throttle``) and their ranges. They were not
#: checked: a word stopped every command with a traceback, ``1e400`` (infinity) too, and a
#: negative number silently turned the throttle off or shortened its window to a second.
LOGIN_THROTTLE_RANGES = (
    ("LOGIN_FAILURE_DELAY_SECONDS", 0, 86400, False),
    ("LOGIN_FAILURE_MAX_DELAY_SECONDS", 0, 86400, False),
    ("LOGIN_FAILURE_WINDOW_SECONDS", 1, 30 * 86400, False),
    ("LOGIN_ADDRESS_FREE_FAILURES", 0, 1_000_000, True),
)


def _check_redis_database(storage: str) -> None:
    """A Redis URI's database part, if any, is a number. redis-py drops one it cannot read
    as a number (``/xyz``: database 0) and reads ``/1/2`` as 12, so the counters would go,
    without a word, to a database the URI does not name. The message names the database
    part only: the URI may hold a password."""
    scheme, _, rest = storage.partition("://")
    database = re.split(r"[?#]", _address(rest).partition("/")[2], maxsplit=1)[0]
    if scheme in REDIS_HOST_SCHEMES and not REDIS_DATABASE_PATTERN.fullmatch(database):
        raise ConfigError(
            "FLASK_RATELIMIT_STORAGE_URI must name the Redis database by its number "
            f"(redis://host:6379/0) or not at all, got the database {database!r}."
        )


def _address(rest: str) -> str:
    """What follows a URI's ``scheme://`` without its ``user:password@``: everything after the
    last ``@``, so a password holding ``/``, ``?`` or ``#`` is never read as a path."""
    return rest.rpartition("@")[2]


def shown_uri(uri: str) -> str:
    """``uri`` as a message or a log line may show it: ``user:password@`` replaced by ``…@``,
    and without its query, where redis-py reads a password too (``?password=…``). When an
    ``@`` follows a ``?`` or ``#``, either may belong to a password: only the scheme is shown."""
    scheme, separator, rest = uri.partition("://")
    if not separator:
        return uri
    userinfo, at, address = rest.rpartition("@")
    if re.search(r"[?#]", userinfo):
        return f"{scheme}://…"
    return f"{scheme}://{'…@' if at else ''}{re.split(r'[?#]', address, maxsplit=1)[0]}"


def checked_public_url(value: Any) -> str:
    """``FLASK_PUBLIC_URL``: empty, or ``http(s)://host[:port]`` without a path, query or
    credentials (a link's path comes from the app's own routes, with the WSGI
    ``SCRIPT_NAME``); returned without a trailing slash."""
    if value is None or value == "":
        return ""
    problem = _public_url_problem(value)
    if problem:
        raise ConfigError(
            "FLASK_PUBLIC_URL must be the address people reach credgrid at, such as "
            f"https://credgrid.example.org, or empty ({problem}): got {value!r}."
        )
    parts = urlsplit(value.strip())
    return f"{parts.scheme}://{parts.netloc}"


def _public_url_problem(value: Any) -> str:
    """Why ``value`` is not a public URL, or ``""``."""
    if not isinstance(value, str):
        return "it is not text"
    try:
        parts = urlsplit(value.strip())
        port = parts.port  # raises on a port that is not a number or out of range
    except ValueError as exc:
        return str(exc)
    if parts.scheme not in ("http", "https"):
        return "its scheme is not http or https"
    if not parts.hostname or port == 0:
        return "it names no host and port"
    if parts.username is not None or parts.password is not None:
        return "it holds a user name or password"
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        return "it has a path, query or fragment"
    return ""


def _check_rate(config: dict[str, Any], name: str, example: str) -> None:
    """A rate ``limits`` reads, each of its limits allowing at least one request (``0 per
    second`` parsed, then refused every request with "Try again in 2 seconds")."""
    try:
        rates = parse_many(str(config.get(name)))
        if not rates or any(rate.amount < 1 for rate in rates):
            raise ValueError
    except ValueError:
        raise ConfigError(
            f"FLASK_{name} must be a rate such as '{example}', got {config.get(name)!r}."
        ) from None


def normalise_databases(raw: Any) -> tuple[dict[str, str], dict[str, int]]:
    """Check ``DATABASES``: name → URL, and each PSV window set per database.

    An entry is a URL, or an object ``{"url": ..., "psv_window_days": 90}`` (a program on
    the CVO track verifies within 90 days, SPEC section 7). The URLs come back as a plain
    name → URL mapping (PostgreSQL pinned to the psycopg 3 driver), which is what every reader
    of ``DATABASES`` expects; the windows come back separately (``app.psv_window``).
    """
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"FLASK_DATABASES is not valid JSON: {exc}.") from None
    if not isinstance(raw, dict) or not raw:
        raise ConfigError(
            "FLASK_DATABASES must be a non-empty JSON object mapping database names "
            'to SQLAlchemy URLs, e.g. {"demo": "sqlite:///instance/demo.db"}.'
        )
    databases: dict[str, str] = {}
    windows: dict[str, int] = {}
    for name, entry in raw.items():
        if not isinstance(name, str) or not DATABASE_NAME_PATTERN.fullmatch(name):
            raise ConfigError(
                f"FLASK_DATABASES: database name {name!r} must be 1-63 letters, digits, "
                "'_', '-' or '.', starting with a letter or digit."
            )
        url = entry
        if isinstance(entry, dict):
            url, window = _database_object(name, entry)
            if window is not None:
                windows[name] = window
        databases[name] = _database_url(name, url)
    return databases, windows


DATABASE_OBJECT_KEYS = ("url", "psv_window_days")


def _database_object(name: str, entry: dict[str, Any]) -> tuple[Any, int | None]:
    unknown = sorted(set(entry) - set(DATABASE_OBJECT_KEYS))
    if unknown:
        raise ConfigError(
            f"FLASK_DATABASES[{name!r}]: unknown member(s) {', '.join(map(repr, unknown))}; "
            f"an entry object has {' and '.join(DATABASE_OBJECT_KEYS)}."
        )
    if "url" not in entry:
        raise ConfigError(f'FLASK_DATABASES[{name!r}] needs a "url".')
    window = entry.get("psv_window_days")
    if window is not None and not is_psv_window(window):
        raise ConfigError(
            f"FLASK_DATABASES[{name!r}].psv_window_days must be {PSV_WINDOW_RULE}, got {window!r}."
        )
    return entry["url"], window


PSV_WINDOW_RULE = f"a number of days from 1 to {MAX_PSV_WINDOW_DAYS} (ten years)"


#: The SQLite library credgrid needs: ``MATERIALIZED`` common table expressions (3.35), which
#: keep the integrity review's read on the history's time index.
MIN_SQLITE_VERSION = (3, 35, 0)


def check_sqlite_version(databases: dict[str, str]) -> None:
    """SQLite databases need the SQLite library Python's ``sqlite3`` module was built with to be
    recent enough; an older one failed only when a page needed what it lacks."""
    if not any(url.startswith("sqlite") for url in databases.values()):
        return
    if sqlite3.sqlite_version_info < MIN_SQLITE_VERSION:
        needed = ".".join(map(str, MIN_SQLITE_VERSION[:2]))
        raise ConfigError(
            f"SQLite databases need SQLite {needed} or later; this Python's sqlite3 module has "
            f"{sqlite3.sqlite_version}: use a Python built with a newer SQLite, or PostgreSQL."
        )


def is_psv_window(value: Any) -> bool:
    """A PSV window in days: an integer from 1 to ``MAX_PSV_WINDOW_DAYS``."""
    return (
        not isinstance(value, bool) and isinstance(value, int) and 1 <= value <= MAX_PSV_WINDOW_DAYS
    )


def _database_url(name: str, url: Any) -> str:
    if not isinstance(url, str):
        raise ConfigError(f"FLASK_DATABASES[{name!r}] must be a URL string.")
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError(f"FLASK_DATABASES[{name!r}] is not a SQLAlchemy URL.") from None
    except ValueError:  # SQLAlchemy's int() of the port; the message may not show the URL
        raise ConfigError(
            f"FLASK_DATABASES[{name!r}] is not a SQLAlchemy URL: its port is not a number."
        ) from None
    backend = parsed.get_backend_name()
    if backend not in SUPPORTED_BACKENDS:
        raise ConfigError(
            f"FLASK_DATABASES[{name!r}] uses {backend!r}; only sqlite and postgresql are supported."
        )
    in_memory = parsed.database in (None, "", ":memory:") or (
        parsed.query.get("mode") == "memory" or str(parsed.database).startswith("file::memory:")
    )
    if backend == "sqlite" and in_memory:
        raise ConfigError(
            f"FLASK_DATABASES[{name!r}] is an in-memory SQLite database, which each worker "
            "would have alone and lose on exit; name a file (sqlite:////path/to/file.db)."
        )
    if backend == "sqlite" and parsed.get_driver_name() != "pysqlite":
        raise ConfigError(
            f"FLASK_DATABASES[{name!r}] uses the driver {parsed.get_driver_name()!r}; a SQLite "
            "database is opened with Python's sqlite3: sqlite:///path/to/file.db."
        )
    if backend == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
        _check_connection_options(name, dict(parsed.query))
    return parsed.render_as_string(hide_password=False)


#: ``psycopg.connect``'s own arguments, which a URL's query may set; the others are libpq's.
PSYCOPG_ARGUMENTS = ("autocommit", "prepare_threshold", "context", "row_factory", "cursor_factory")


def _check_connection_options(name: str, query: dict[str, Any]) -> None:
    """A PostgreSQL URL's query is libpq's connection options: one libpq does not know (a typo,
    ``sslmod``) failed at the first connection, a traceback from every command."""
    import psycopg  # here: a deployment of SQLite files only need not load it
    from psycopg.conninfo import make_conninfo

    options = {key: value for key, value in query.items() if key not in PSYCOPG_ARGUMENTS}
    try:
        make_conninfo("", **options)
    except psycopg.ProgrammingError as exc:
        raise ConfigError(f"FLASK_DATABASES[{name!r}]: {str(exc).strip()}.") from None
