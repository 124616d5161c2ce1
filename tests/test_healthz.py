"""``GET /healthz``: no auth, every configured database checked, 200/503 with the envelope."""

from __future__ import annotations

import re
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import TimeoutError as PoolTimeout

import app.health
from app import create_app
from app.auth.tokens import mint_token
from app.tenancy import engine_for
from tests.api_support import seed_editor_and_cred
from tests.foundation_support import database_at_revision
from tests.helpers import dispose_engines

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


def closed_port() -> int:
    """A local TCP port nobody listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def build(app_config: dict[str, Any], extra: dict[str, str]) -> Any:
    return create_app(app_config | {"DATABASES": app_config["DATABASES"] | extra})


def check_envelope(response: Any) -> dict[str, Any]:
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"data", "error", "debug"}
    assert body["debug"] == {"activityID": response.headers["X-Activity-ID"]}
    assert UUID.fullmatch(body["debug"]["activityID"])
    return body


def test_healthz_all_ok(client: Any) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert "Retry-After" not in response.headers
    body = check_envelope(response)
    assert body["data"] == {"databases": {"main": "ok", "other": "ok"}, "rateLimitStorage": "ok"}
    assert body["error"] is None


def test_healthz_needs_no_auth_and_ignores_the_database_header(client: Any) -> None:
    response = client.get(
        "/healthz", headers={"vbasoftware-database": "nope", "x-api-key": "wrong"}
    )
    assert response.status_code == 200
    assert response.get_json()["data"]["databases"] == {"main": "ok", "other": "ok"}


def test_healthz_activity_id_is_new_per_request(client: Any) -> None:
    ids = {client.get("/healthz").get_json()["debug"]["activityID"] for _ in range(3)}
    assert len(ids) == 3


def test_healthz_503_when_a_sqlite_database_is_unreachable(
    app_config: dict[str, Any], tmp_path: Path
) -> None:
    missing = tmp_path / "no-such-directory" / "broken.db"
    application = build(app_config, {"broken": f"sqlite:///{missing}"})
    try:
        response = application.test_client().get("/healthz")
    finally:
        dispose_engines(application)
    assert response.status_code == 503
    # As every other 503 of the service says when to try again (it had no Retry-After).
    retry_after = application.config["DATABASE_RETRY_AFTER_SECONDS"]
    assert response.headers["Retry-After"] == str(retry_after)
    body = check_envelope(response)
    assert body["data"]["databases"] == {
        "main": "ok",
        "other": "ok",
        "broken": "OperationalError: unavailable",
    }
    text = response.get_data(as_text=True)
    assert "no-such-directory" not in text
    assert str(tmp_path) not in text
    assert not missing.parent.exists()  # the check does not create directories


def test_healthz_503_when_a_postgresql_database_is_unreachable_and_hides_the_url(
    app_config: dict[str, Any],
) -> None:
    password = f"pw-{uuid.uuid4().hex}"
    port = closed_port()
    url = f"postgresql://credgrid_user:{password}@127.0.0.1:{port}/credgrid_secret_db"
    application = build(app_config, {"reports": url})
    try:
        response = application.test_client().get("/healthz")
    finally:
        dispose_engines(application)
    assert response.status_code == 503
    body = check_envelope(response)
    assert body["data"]["databases"] == {
        "main": "ok",
        "other": "ok",
        "reports": "OperationalError: unavailable",
    }
    text = response.get_data(as_text=True)
    for secret in (password, str(port), "credgrid_user", "credgrid_secret_db", "127.0.0.1"):
        assert secret not in text


def test_healthz_503_when_a_pool_is_exhausted(client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A failure that is not a DBAPI error (no ``orig``) is reported, not turned into a 500."""
    real_engine_for = app.health.engine_for

    class ExhaustedPool:
        def connect(self) -> Any:
            raise PoolTimeout("QueuePool limit of size 5 overflow 5 reached")

    def engine_for(name: str) -> Any:
        return ExhaustedPool() if name == "other" else real_engine_for(name)

    monkeypatch.setattr(app.health, "engine_for", engine_for)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert check_envelope(response)["data"]["databases"] == {
        "main": "ok",
        "other": "TimeoutError: unavailable",
    }


@pytest.mark.parametrize("method", ["post", "put", "delete"])
def test_healthz_other_methods_are_405_in_the_envelope(client: Any, method: str) -> None:
    response = getattr(client, method)("/healthz")
    assert response.status_code == 405
    body = check_envelope(response)
    assert body["data"] is None
    assert body["error"]["status"] == 405
    assert sorted(response.headers["Allow"].split(", ")) == ["GET", "HEAD", "OPTIONS"]


def test_database_without_schema_is_503_not_initialised(app_config: dict, tmp_path: Path) -> None:
    from app import create_app

    empty = tmp_path / "empty.db"
    config = {**app_config, "DATABASES": {**app_config["DATABASES"], "fresh": f"sqlite:///{empty}"}}
    fresh_app = create_app(config)
    response = fresh_app.test_client().get("/healthz")
    dispose_engines(fresh_app)
    assert response.status_code == 503
    assert response.get_json()["data"]["databases"]["fresh"] == "not initialised: run init-db"
    assert response.get_json()["data"]["databases"]["main"] == "ok"
    assert not empty.exists()


def test_requests_never_create_a_sqlite_file_that_does_not_exist(
    app_config: dict, tmp_path: Path
) -> None:
    """A request on a configured SQLite database whose file does not exist (a path mistyped,
    init-db not run yet) created an empty file, with its -wal and -shm, before answering 503
    "not initialised". It answers the same and creates nothing; init-db creates it."""
    directory = tmp_path / "data"
    directory.mkdir()
    path = directory / "fresh.db"
    application = build(app_config, {"fresh": f"sqlite:///{path}"})
    user = SimpleNamespace(id=1, username="alice", token_stamp="stamp")
    token = mint_token(app_config["SECRET_KEY"], user, "fresh", 3600, "id")  # type: ignore[arg-type]
    headers = {
        "vbasoftware-database": "fresh",
        "x-api-key": "any",
        "Authorization": f"Bearer {token}",
    }
    detail = (
        "This version of credgrid cannot use the database's schema (database 'fresh': "
        "not initialised: run init-db); nothing was changed by this request."
    )
    try:
        client = application.test_client()
        health = client.get("/healthz")
        assert health.status_code == 503
        assert health.get_json()["data"]["databases"]["fresh"] == "not initialised: run init-db"
        answers = {
            "list": client.get("/licenses/monitoring-runs", headers=headers),
            "batch": client.put(
                "/provider-credentialing/1/licenses-batch",
                json=[{"providerCredLicense_Key": 5, "providerCred_Key": 1}],
                headers=headers,
            ),
            "login": client.post(
                "/user-authentication",
                headers={"vbasoftware-database": "fresh", "x-api-key": "any"},
                auth=("alice", "correct horse"),
            ),
        }
        for name, response in answers.items():
            assert response.status_code == 503, (name, response.get_json())
            assert response.get_json()["error"]["detail"] == detail, name
        login = client.post(
            "/ui/login",
            data={"username": "alice", "password": "correct horse", "database": "fresh"},
        )
        assert login.status_code == 503
        assert list(directory.iterdir()) == []
        created = application.test_cli_runner().invoke(args=["init-db", "--database", "fresh"])
        assert created.exit_code == 0, created.output
        assert client.get("/healthz").status_code == 200
    finally:
        dispose_engines(application)


def test_database_behind_the_code_is_503_naming_both_revisions(
    app_config: dict, backend: str, tmp_path: Path
) -> None:
    """New code started before ``init-db`` ran on one database: its requests fail (a 503
    naming both revisions), so /healthz must take the node out and say why."""
    from alembic.script import ScriptDirectory
    from sqlalchemy import create_engine

    from app.schema import alembic_config, head_revision, upgrade_database

    head = head_revision()
    previous = ScriptDirectory.from_config(alembic_config()).get_revision(head).down_revision
    with database_at_revision(backend, tmp_path, previous) as url:
        engine = create_engine(url)
        try:
            stale_app = build(app_config, {"stale": url})
            try:
                response = stale_app.test_client().get("/healthz")
                assert response.status_code == 503
                assert response.get_json()["data"]["databases"] == {
                    "main": "ok",
                    "other": "ok",
                    "stale": f"schema at revision {previous}, this version needs {head}: "
                    "run init-db",
                }
                upgrade_database(engine)
                response = stale_app.test_client().get("/healthz")
                assert response.status_code == 200
                assert response.get_json()["data"]["databases"]["stale"] == "ok"
                # Newer than the code (the next release's init-db ran before this release's
                # workers stopped, as a rolling upgrade does): still serving.
                with engine.begin() as connection:
                    connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))
                response = stale_app.test_client().get("/healthz")
                assert response.status_code == 200, response.get_json()
            finally:
                dispose_engines(stale_app)
        finally:
            engine.dispose()


@contextmanager
def stale_app(app_config: dict, backend: str, tmp_path: Path, revision: str) -> Iterator[Any]:
    """An app whose extra database ``stale`` is migrated to ``revision`` only (new code
    started before ``init-db``), with an editor (API key, token) and ProviderCred 1 there."""
    with database_at_revision(backend, tmp_path, revision) as url:
        application = build(app_config, {"stale": url})
        try:
            application.config["stale_headers"] = seed_editor_and_cred(
                application, "stale", "alice"
            )
            yield application
        finally:
            dispose_engines(application)


def test_requests_to_a_database_behind_the_code_are_503_on_both_engines(
    app_config: dict, backend: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A request that meets a table or column the schema does not have yet (init-db not run
    after an upgrade) was a 503 "unavailable" on SQLite but a 500 with a traceback on
    PostgreSQL; now both are the same 503 naming the revisions, as /healthz does."""
    from app.schema import head_revision

    with stale_app(app_config, backend, tmp_path, "0006") as application:
        client = application.test_client()
        headers = application.config["stale_headers"]
        detail = (
            "This version of credgrid cannot use the database's schema (database 'stale': "
            f"schema at revision 0006, this version needs {head_revision()}: run init-db); "
            "nothing was changed by this request."
        )
        answers = {
            "runs": client.get("/licenses/monitoring-runs", headers=headers),
            "batch": client.put(
                "/provider-credentialing/1/licenses-batch",
                json=[{"providerCredLicense_Key": 5, "providerCred_Key": 1}],
                headers=headers,
            ),
        }
        for name, response in answers.items():
            assert response.status_code == 503, (name, response.get_json())
            error = response.get_json()["error"]
            assert (error["status"], error["detail"]) == (503, detail), name
            assert response.headers["Retry-After"] == "5"
        # A missing table fails every item alike: no replay item by item (which would answer
        # a 207 of per-item 500s when the write, not the read, meets it).
        assert "item by item" not in caplog.text
        ui = application.test_client()
        ui.post(
            "/ui/login",
            data={"username": "alice", "password": "correct horse", "database": "stale"},
        )
        page = ui.get("/ui/monitoring")
        assert page.status_code == 503
        assert "run init-db" in page.get_data(as_text=True)


def test_a_newer_schema_lacking_what_the_code_uses_is_the_same_503(
    app_config: dict, backend: str, tmp_path: Path
) -> None:
    """A worker of the previous release on a schema the next release's init-db changed
    (migrations normally keep the previous release working): should the newer schema lack a
    table the old code writes, the batch meeting it is a 503 that says to upgrade credgrid,
    with nothing written (PostgreSQL answered 500)."""
    from app.schema import head_revision

    with stale_app(app_config, backend, tmp_path, "head") as application:
        with application.app_context(), engine_for("stale").begin() as connection:
            connection.execute(text("ALTER TABLE license_history_head RENAME TO heads_v2"))
            connection.execute(text("UPDATE alembic_version SET version_num = '9999_next'"))
        client = application.test_client()
        response = client.put(
            "/provider-credentialing/1/licenses-batch",
            json=[{"providerCredLicense_Key": 5, "providerCred_Key": 1}],
            headers=application.config["stale_headers"],
        )
        assert response.status_code == 503, response.get_json()
        assert response.get_json()["error"]["detail"] == (
            "This version of credgrid cannot use the database's schema (database 'stale': "
            f"schema at revision 9999_next, newer than this version's {head_revision()}: "
            "upgrade credgrid); nothing was changed by this request."
        )
        with application.app_context(), engine_for("stale").connect() as connection:
            count = connection.execute(text("SELECT count(*) FROM provider_cred_license"))
            assert count.scalar() == 0


def test_the_migrations_are_read_once_per_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """The schema check needs the code's head and every revision it knows; each came from a
    cache of its own, so the migrations folder was read twice, once for each."""
    import app.schema

    reads: list[None] = []
    real_config = app.schema.alembic_config

    def counted_config() -> Any:
        reads.append(None)
        return real_config()

    caches = [app.health.code_revisions]
    monkeypatch.setattr(app.schema, "alembic_config", counted_config)
    for cache in caches:
        cache.cache_clear()
    try:
        for _ in range(3):
            app.health.check_revision("9999")  # newer than the code: no failure
        with pytest.raises(app.health.ProbeFailed, match="run init-db"):
            app.health.check_revision(None)
    finally:
        for cache in caches:
            cache.cache_clear()
    assert len(reads) == 1
