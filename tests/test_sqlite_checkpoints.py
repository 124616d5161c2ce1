"""Opt-in background WAL checkpoints (app/sqlite_checkpoints.py, ``SQLITE_CHECKPOINT_INTERVAL``
> 0): requests' commits no longer copy the WAL back into the database; a thread does, without
ever creating or blocking a database. Off by default: then nothing is started."""

from __future__ import annotations

import os
import shutil
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from app import create_app
from app.credentials.models import ProviderCred
from app.licenses.service import upsert_licenses
from app.sqlite_checkpoints import CHECKPOINTER, SAFETY_NET_PAGES, checkpoint
from app.tenancy import engine_for, session_scope
from tests.factories import license_item, provider_cred_row
from tests.helpers import dispose_engines


@pytest.fixture
def sqlite_app(
    backend: str, migrated_template: dict[str, str], tmp_path: Path
) -> Iterator[Callable[[float], Any]]:
    """``sqlite_app(interval)`` → an app on a fresh copy of the migrated SQLite database."""
    if backend != "sqlite":
        pytest.skip("WAL checkpoints are SQLite's")
    apps: list[Any] = []

    def build(interval: float) -> Any:
        target = tmp_path / f"db-{len(apps)}.db"
        shutil.copy(migrated_template["main"], target)
        app = create_app(
            {
                "TESTING": True,
                "SECRET_KEY": "test-secret-key-not-for-production",
                "DATABASES": {"main": f"sqlite:///{target}"},
                "SQLITE_CHECKPOINT_INTERVAL": interval,
            }
        )
        app.config["DB_PATH"] = target
        apps.append(app)
        return app

    yield build
    for app in apps:
        dispose_engines(app)


def write_licenses(app: Any, keys: range) -> None:
    with app.app_context(), session_scope("main") as session:
        if session.get(ProviderCred, 1) is None:
            session.add(provider_cred_row(1))
        session.commit()
        outcomes = upsert_licenses(
            session, 1, [license_item(k) for k in keys], actor="t", activity_id="a"
        )
        assert {o.status for o in outcomes} == {201}


def main_file_size(app: Any) -> int:
    return os.path.getsize(app.config["DB_PATH"])


def wait_for(condition: Callable[[], bool], seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def autocheckpoint(app: Any) -> int:
    with app.app_context(), engine_for("main").connect() as connection:
        return connection.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar()


def test_the_thread_copies_the_wal_back_without_any_commit_doing_it(sqlite_app: Any) -> None:
    app = sqlite_app(0.05)
    write_licenses(app, range(1, 2))  # the first write settles the file
    assert wait_for(lambda: checkpointed_everything(app))
    before = main_file_size(app)
    write_licenses(app, range(2, 2002))  # a few hundred pages: under both automatic thresholds
    assert wait_for(lambda: main_file_size(app) > before)
    assert app.config["DB_PATH"].resolve().as_posix() in CHECKPOINTER.watched()


def test_without_the_thread_a_small_commit_leaves_the_wal_alone(sqlite_app: Any) -> None:
    """The control for the test above: nothing else copies these pages back."""
    app = sqlite_app(0)
    write_licenses(app, range(1, 2))
    time.sleep(0.3)
    before = main_file_size(app)
    write_licenses(app, range(2, 2002))
    time.sleep(0.5)
    assert main_file_size(app) == before
    assert autocheckpoint(app) == 1000  # SQLite's own default, untouched


def checkpointed_everything(app: Any) -> bool:
    with sqlite3.connect(app.config["DB_PATH"]) as connection:
        _busy, log, done = connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    connection.close()
    return log == done


def test_commits_keep_an_automatic_checkpoint_as_a_safety_net(sqlite_app: Any) -> None:
    assert autocheckpoint(sqlite_app(0.5)) == SAFETY_NET_PAGES


def test_a_missing_file_is_never_created(tmp_path: Path) -> None:
    missing = tmp_path / "gone.db"
    assert checkpoint(str(missing)) is False
    assert not missing.exists()


def test_a_file_that_is_not_a_database_is_dropped_not_damaged(tmp_path: Path) -> None:
    text = tmp_path / "notes.db"
    text.write_text("not a database")
    assert checkpoint(str(text)) is True  # opened, the checkpoint failed and was logged
    assert text.read_text() == "not a database"


def test_the_thread_is_started_again_in_a_forked_child(
    sqlite_app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    sqlite_app(0.5)
    first = CHECKPOINTER._thread
    assert first is not None and first.is_alive()
    monkeypatch.setattr(os, "getpid", lambda: -42)  # what a child of fork() sees: a new pid
    CHECKPOINTER.ensure_running()
    assert CHECKPOINTER._thread is not first and CHECKPOINTER._thread.is_alive()
    monkeypatch.undo()
    CHECKPOINTER.ensure_running()


def test_by_default_nothing_is_started_and_no_file_is_made_beside_the_database(
    backend: str, migrated_template: dict[str, str], tmp_path: Path
) -> None:
    """Checkpoints are SQLite's own unless the setting opts in: ``create_app`` starts no
    thread, and a write leaves only SQLite's own files (the database, its WAL and index)."""
    if backend != "sqlite":
        pytest.skip("WAL checkpoints are SQLite's")
    target = tmp_path / "plain.db"
    shutil.copy(migrated_template["main"], target)
    threads_before = {t.ident for t in threading.enumerate()}
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test-secret-key-not-for-production",
            "DATABASES": {"main": f"sqlite:///{target}"},
        }
    )
    try:
        assert app.config["SQLITE_CHECKPOINT_INTERVAL"] == 0
        write_licenses(app, range(1, 4))
        assert {t.ident for t in threading.enumerate()} <= threads_before
        assert str(target.resolve()) not in CHECKPOINTER.watched()
        assert {p.name for p in tmp_path.iterdir()} <= {"plain.db", "plain.db-wal", "plain.db-shm"}
    finally:
        dispose_engines(app)
