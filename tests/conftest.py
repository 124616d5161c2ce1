"""Fixtures: every test runs on SQLite, and again on PostgreSQL when TEST_DATABASE_URL is set.

Each test gets two empty, migrated databases named ``main`` and ``other``. On SQLite they are
copies of files migrated once per session; on PostgreSQL they are two schemas of the database
in TEST_DATABASE_URL (migrated once, truncated before each test).
"""

from __future__ import annotations

import gc
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import make_url

from app import create_app, pg_pipeline
from app.activity import configure_logs
from app.auth.keys import issue_api_key
from app.auth.tokens import mint_token_for
from app.auth.users import create_user
from app.errors import tracebacks
from app.license_types.models import CredLicenseType
from app.schema import upgrade_database
from app.tenancy import engine_for, session_scope
from tests.factories import provider_cred_row
from tests.helpers import dispose_engines
from tests.run_report import CHROMIUM, coverage_lines

# The app's loggers do not propagate; pytest's log capture attaches to such loggers only when
# they already are when a test starts, so they are set up before any test (as the first app
# of the session would, in whichever test happened to create it).
configure_logs()

DATABASE_NAMES = ("main", "other")
TEST_SECRET = "test-secret-key-not-for-production"
BACKENDS = ["sqlite"] + (["postgresql"] if os.environ.get("TEST_DATABASE_URL") else [])
TABLES = (
    "monitoring_run_license",
    "monitoring_run",
    "license_history_head",
    "license_change",
    "provider_cred_license",
    "provider_cred",
    "cred_license_type",
    "refresh_token",
    "api_key",
    "staff_user",
    "idempotency_record",
)


def postgres_url(schema: str) -> str:
    url = make_url(os.environ["TEST_DATABASE_URL"]).set(drivername="postgresql+psycopg")
    url = url.update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False)


@pytest.fixture(autouse=True)
def fresh_traceback_budget() -> None:
    """Each test may expect its first traceback to be logged (app.errors.tracebacks)."""
    tracebacks.reset()


@pytest.fixture(autouse=True)
def unfrozen_garbage_collector() -> Iterator[None]:
    """An app built with the default settings froze the test process's objects (create_app,
    ``GC_FREEZE_AT_START``); thawed after the test, so its garbage can still be collected."""
    yield
    gc.unfreeze()


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="session")
def migrated_template(backend: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Migrate each test database once per session; returns name → template (file or URL)."""
    templates: dict[str, str] = {}
    for name in DATABASE_NAMES:
        if backend == "sqlite":
            path = tmp_path_factory.mktemp("template") / f"{name}.db"
            url = f"sqlite:///{path}"
            templates[name] = str(path)
        else:
            schema = f"credgrid_test_{name}"
            admin = create_engine(postgres_url("public"))
            with admin.begin() as connection:
                connection.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
                connection.execute(text(f"CREATE SCHEMA {schema}"))
            admin.dispose()
            url = postgres_url(schema)
            templates[name] = url
        engine = create_engine(url)
        upgrade_database(engine)
        engine.dispose()
    return templates


@pytest.fixture
def database_urls(
    backend: str, migrated_template: dict[str, str], tmp_path: Path
) -> dict[str, str]:
    urls: dict[str, str] = {}
    for name, template in migrated_template.items():
        if backend == "sqlite":
            target = tmp_path / f"{name}.db"
            shutil.copy(template, target)
            urls[name] = f"sqlite:///{target}"
        else:
            engine = create_engine(template)
            with engine.begin() as connection:
                connection.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
            engine.dispose()
            urls[name] = template
    return urls


@pytest.fixture
def app_config(database_urls: dict[str, str]) -> dict[str, Any]:
    return {
        "TESTING": True,
        "SECRET_KEY": TEST_SECRET,
        "DATABASES": database_urls,
        "WTF_CSRF_ENABLED": False,
        "LOGIN_FAILURE_DELAY_SECONDS": 0,
        # Tests fire requests faster than any real client; tests/test_rate_limit.py sets its own.
        "RATE_LIMIT": "100000 per second",
        "LOGIN_RATE_LIMIT": "100000 per second",
        "AUTH_FAILURE_RATE_LIMIT": "100000 per second",
        # Frozen objects are never collected: a test process builds hundreds of apps.
        "GC_FREEZE_AT_START": False,
    }


@pytest.fixture
def app(app_config: dict[str, Any]) -> Iterator[Any]:
    application = create_app(app_config)
    yield application
    dispose_engines(application)


@pytest.fixture
def fresh_app(app_config: dict[str, Any]) -> Iterator[Callable[..., Any]]:
    """``fresh_app(SETTING=value)``: another app on the test databases, disposed afterwards."""
    made: list[Any] = []

    def _make(**overrides: Any) -> Any:
        made.append(create_app({**app_config, **overrides}))
        return made[-1]

    yield _make
    for application in made:
        dispose_engines(application)


@pytest.fixture
def client(app: Any) -> Any:
    return app.test_client()


@pytest.fixture
def runner(app: Any) -> Any:
    return app.test_cli_runner()


@pytest.fixture
def session_for(app: Any) -> Callable[..., Any]:
    """``with session_for("main") as s:`` — a session on one test database."""

    @contextmanager
    def _session(name: str = "main") -> Iterator[Any]:
        with app.app_context(), session_scope(name) as session:
            yield session

    return _session


@pytest.fixture
def make_cred(session_for: Callable[..., Any]) -> Callable[..., int]:
    def _make(key: int = 1, database: str = "main", provider_id: str | None = None) -> int:
        with session_for(database) as session:
            session.add(provider_cred_row(key, provider_id))
            session.commit()
        return key

    return _make


@pytest.fixture
def make_license_type(session_for: Callable[..., Any]) -> Callable[..., int]:
    def _make(key: int = 1, database: str = "main", display: str = "MD") -> int:
        with session_for(database) as session:
            session.add(CredLicenseType(cred_license_type_key=key, display=display))
            session.commit()
        return key

    return _make


@pytest.fixture
def make_user(session_for: Callable[..., Any]) -> Callable[..., str]:
    def _make(
        username: str = "alice",
        password: str = "correct horse",
        role: str = "editor",
        database: str = "main",
    ) -> str:
        with session_for(database) as session:
            create_user(session, username, password, role)
            session.commit()
        return username

    return _make


@pytest.fixture
def make_api_key(session_for: Callable[..., Any]) -> Callable[..., str]:
    counter = iter(range(1_000_000))

    def _make(database: str = "main", label: str | None = None) -> str:
        with session_for(database) as session:
            key = issue_api_key(session, label or f"key-{next(counter)}")
            session.commit()
        return key

    return _make


@pytest.fixture
def auth_headers(
    app: Any,
    make_user: Callable[..., str],
    make_api_key: Callable[..., str],
    session_for: Callable[..., Any],
) -> Callable[..., dict[str, str]]:
    """Headers of an authenticated API client: database, API key and bearer token."""
    made: dict[tuple[str, str], dict[str, str]] = {}

    def _headers(database: str = "main", role: str = "editor") -> dict[str, str]:
        if (database, role) not in made:
            username = make_user(f"{role[:10]}-{database[:8]}", role=role, database=database)
            with session_for(database) as session:
                token = mint_token_for(session, TEST_SECRET, username, database, 3600, "id")
            made[(database, role)] = {
                "vbasoftware-database": database,
                "x-api-key": make_api_key(database),
                "Authorization": f"Bearer {token}",
            }
        return dict(made[(database, role)])

    return _headers


@pytest.fixture
def count_statements(app: Any) -> Callable[..., Any]:
    """``with count_statements("main") as c:`` … ``c.count`` and ``c.statements``."""

    class Counter:
        def __init__(self) -> None:
            self.statements: list[str] = []

        @property
        def count(self) -> int:
            return len(self.statements)

    @contextmanager
    def _count(name: str = "main") -> Iterator[Counter]:
        counter = Counter()
        with app.app_context():
            engine = engine_for(name)

        def listener(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            counter.statements.append(statement)

        real_run = pg_pipeline.run

        def pipelined(connection: Any, steps: Any, **options: Any) -> Any:
            """Statements that go to PostgreSQL's driver in a pipeline, not through
            SQLAlchemy's execution (``app.pg_pipeline``), count as well."""
            if connection.engine.url != engine.url:
                return real_run(connection, steps, **options)

            def counted() -> Iterator[Any]:
                # Passed on one at a time: a later step may be built only once the earlier
                # ones are sent (``write.write_tables``' ``then``).
                for statement, parameters in steps:
                    counter.statements.append(str(statement))
                    yield statement, parameters

            return real_run(connection, counted(), **options)

        event.listen(engine, "before_cursor_execute", listener)
        pg_pipeline.run = pipelined  # type: ignore[assignment]
        try:
            yield counter
        finally:
            pg_pipeline.run = real_run  # type: ignore[assignment]
            event.remove(engine, "before_cursor_execute", listener)

    return _count


def pytest_report_header(config: pytest.Config) -> list[str]:
    """Say up front which optional halves of the suite this run covers."""
    return coverage_lines(os.environ, CHROMIUM.exists())


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    """Say it again at the end, where the reader of a green run looks."""
    skipped = [report.nodeid for report in terminalreporter.stats.get("skipped", [])]
    terminalreporter.write_sep("-", "what this run covered")
    for line in coverage_lines(os.environ, CHROMIUM.exists(), skipped):
        terminalreporter.write_line(line)
