"""The fault suite: gunicorn (2 sync workers) on loopback, faults injected from outside.

Each test asserts the answer during the fault (status, envelope, ``Retry-After``), that nothing
was half-written, and that after the fault every worker answers again without a restart.
Marked ``faults`` (``pytest -m faults`` runs only these; ``-m "not faults"`` skips them).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from app import ROOT, create_app
from app.api.idempotency import BUSY_RETRY_AFTER_SECONDS
from app.history.models import LicenseChange
from app.licenses.models import ProviderCredLicense
from app.schema import current_revision, head_revision
from tests.api_support import seed_editor_and_cred
from tests.conftest import TEST_SECRET
from tests.factories import license_item
from tests.fault_support import (
    hanging_history_writes,
    held_write_lock,
    immutable_file,
    sqlite_file,
)
from tests.foundation_support import empty_database
from tests.helpers import BATCH_URL, dispose_engines

pytestmark = pytest.mark.faults

APPLICATION_NAME = "credgrid-faults"
LEASE_SECONDS = 10
RETRY_AFTER_SECONDS = 3
SERVER_SETTINGS = {
    "FLASK_SECRET_KEY": TEST_SECRET,
    "FLASK_RATE_LIMIT": "100000 per second",
    "FLASK_SQLITE_CHECKPOINT_INTERVAL": "0",
    "FLASK_DATABASE_STATEMENT_TIMEOUT_SECONDS": "2",
    "FLASK_DATABASE_LOCK_TIMEOUT_SECONDS": "2",
    "FLASK_SQLITE_BUSY_TIMEOUT_SECONDS": "2",
    "FLASK_DATABASE_RETRY_AFTER_SECONDS": str(RETRY_AFTER_SECONDS),
    "FLASK_IDEMPOTENCY_LEASE_SECONDS": str(LEASE_SECONDS),
}
LICENSES = "/provider-credentialing/1/licenses"
ITEMS = [license_item(1), license_item(2), license_item(3)]
PID = re.compile(r"^<?(\d+)>? (\d{3}) ")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    """A gunicorn server of the app; ``headers`` authenticate an editor."""

    process: subprocess.Popen[bytes]
    base: str
    access_log: Path
    error_log: Path
    app_log: Path
    headers: dict[str, str]
    log_mark: int = field(default=0)

    def workers(self) -> list[int]:
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in children.read_text().split()]

    def kill_workers(self) -> None:
        for pid in self.workers():
            os.kill(pid, signal.SIGKILL)

    def put_batch(self, items: list[Any], key: str | None = None, timeout: float = 30) -> Any:
        headers = dict(self.headers)
        if key is not None:
            headers["Idempotency-Key"] = key
        return requests.put(
            self.base + BATCH_URL.format(cred=1), json=items, headers=headers, timeout=timeout
        )

    def get(self, path: str, timeout: float = 30) -> Any:
        return requests.get(self.base + path, headers=self.headers, timeout=timeout)

    def wait_until_ready(self, deadline: float = 30) -> None:
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            assert self.process.poll() is None, self.error_log.read_text()
            try:
                answered = requests.get(self.base + "/healthz", timeout=5).status_code
            except requests.RequestException:  # refused, or no worker has booted yet
                answered = 0
            if answered in (200, 503) and len(self.workers()) == 2:
                return
            time.sleep(0.1)
        raise AssertionError("gunicorn did not start: " + self.error_log.read_text())

    def mark_logs(self) -> None:
        time.sleep(0.2)  # gunicorn logs a request after answering it
        self.log_mark = len(self.access_log.read_text().splitlines())

    def served_since_mark(self) -> list[tuple[int, int]]:
        lines = self.access_log.read_text().splitlines()[self.log_mark :]
        found = [PID.match(line) for line in lines]
        return [(int(m.group(1)), int(m.group(2))) for m in found if m]


def start_gunicorn(
    port: int, access_log: Path, error_log: Path, env: dict[str, str], output: Any
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--workers=2",
            f"--bind=127.0.0.1:{port}",
            "--timeout=30",
            f"--access-logfile={access_log}",
            "--access-logformat=%(p)s %(s)s %(m)s %(U)s",
            f"--error-logfile={error_log}",
            "app:create_app()",
        ],
        cwd=ROOT,
        env=env,
        stdout=output,
        stderr=subprocess.STDOUT,
    )


@pytest.fixture
def start_server(
    backend: str, database_urls: dict[str, str], tmp_path: Path
) -> Iterator[Callable[..., Server]]:
    """``start_server(url=None)``: the app on the test's ``main`` database (or ``url``),
    with an editor, an API key and ProviderCred 1 made beforehand."""
    started: list[Server] = []
    main = database_urls["main"]
    setup = create_app({"TESTING": True, "SECRET_KEY": TEST_SECRET, "DATABASES": {"main": main}})
    try:
        headers = seed_editor_and_cred(setup, "main", "editor")
    finally:
        dispose_engines(setup)

    def _start(url: str | None = None, wait: bool = True) -> Server:
        url = url or main
        if make_url(url).get_backend_name() == "postgresql":
            url = (
                make_url(url)
                .update_query_dict({"application_name": APPLICATION_NAME})
                .render_as_string(hide_password=False)
            )
        port = free_port()
        access_log = tmp_path / f"access-{port}.log"
        error_log = tmp_path / f"error-{port}.log"
        app_log = tmp_path / f"app-{port}.log"  # the workers' own logging (stderr)
        env = {
            **os.environ,
            **SERVER_SETTINGS,
            "FLASK_DATABASES": json.dumps({"main": url}),
            "CREDGRID_INSTANCE_PATH": str(tmp_path / "instance"),
        }
        with app_log.open("wb") as output:  # the child keeps its own descriptor
            process = start_gunicorn(port, access_log, error_log, env, output)
        server = Server(
            process,
            f"http://127.0.0.1:{port}",
            access_log,
            error_log,
            app_log,
            dict(headers),
        )
        started.append(server)
        if wait:
            server.wait_until_ready()
        return server

    yield _start
    for server in started:
        server.process.terminate()
        try:
            server.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()


def counts(url: str) -> tuple[int, int]:
    """(licenses, history rows) in the database, read from outside the server."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return (
                connection.scalar(select(func.count()).select_from(ProviderCredLicense.__table__)),
                connection.scalar(select(func.count()).select_from(LicenseChange.__table__)),
            )
    finally:
        engine.dispose()


def check_unavailable(response: Any) -> None:
    """A whole-request 503 in the envelope with Retry-After, never HTML."""
    assert response.status_code == 503, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    assert 1 <= int(response.headers["Retry-After"]) <= RETRY_AFTER_SECONDS
    body = response.json()
    assert body["data"] is None
    assert body["error"]["status"] == 503
    assert body["debug"]["activityID"] == response.headers["X-Activity-ID"]


def assert_every_worker_recovers(server: Server, request: Callable[[], Any], ok: int) -> None:
    """Pairs of concurrent requests until both workers answered; every answer is ``ok``."""
    server.mark_logs()
    workers = set(server.workers())
    with ThreadPoolExecutor(2) as pool:
        for _ in range(40):
            answers = list(pool.map(lambda _: request(), range(2)))
            assert [a.status_code for a in answers] == [ok, ok], [a.text for a in answers]
            time.sleep(0.05)  # the access log is written after the answer
            if {pid for pid, _ in server.served_since_mark()} >= workers:
                break
        else:
            raise AssertionError(f"not every worker answered: {server.served_since_mark()}")
    assert all(status == ok for _, status in server.served_since_mark())


def assert_quiet_logs(server: Server, failed_requests: int) -> None:
    """No traceback anywhere; one line (with its activity id) per request that failed."""
    log = server.error_log.read_text() + server.app_log.read_text()
    assert "Traceback" not in log, log
    lines = [line for line in log.splitlines() if "database unavailable on" in line]
    assert len(lines) == failed_requests, log
    assert all(re.search(r"activity=[0-9a-f-]{36} ", line) for line in lines)


def wait_for_the_write_to_hang(url: str) -> None:
    """Until the batch is inside its transaction, stuck in the history insert."""
    if sqlite_file(url) is not None:
        time.sleep(1.5)  # the SQLite trigger burns CPU for many seconds
        return
    engine = create_engine(url)
    try:
        for _ in range(100):
            with engine.connect() as connection:
                hanging = connection.scalar(
                    text(
                        "SELECT count(*) FROM pg_stat_activity "
                        "WHERE application_name = :name AND wait_event = 'PgSleep'"
                    ),
                    {"name": APPLICATION_NAME},
                )
            if hanging:
                return
            time.sleep(0.1)
    finally:
        engine.dispose()
    raise AssertionError("the batch never reached the history insert")


def send_in_background(call: Callable[[], Any]) -> tuple[threading.Thread, list[Any]]:
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append(call())
        except requests.RequestException as error:
            outcome.append(error)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", [None, "killed-1"])
def test_sigkill_mid_batch(
    start_server: Callable[..., Server], database_urls: dict[str, str], key: str | None
) -> None:
    url = database_urls["main"]
    server = start_server()
    with hanging_history_writes(url):
        sent = time.monotonic()
        thread, outcome = send_in_background(lambda: server.put_batch(ITEMS, key=key))
        wait_for_the_write_to_hang(url)
        server.kill_workers()
        thread.join(timeout=30)
    assert isinstance(outcome[0], requests.RequestException)  # the connection just closed
    assert counts(url) == (0, 0)  # nothing half-written
    server.wait_until_ready()
    if key is not None and time.monotonic() - sent < LEASE_SECONDS - 1:
        busy = server.put_batch(ITEMS, key=key)
        assert busy.status_code == 409  # the dead worker's lease has not ended yet
        assert 1 <= int(busy.headers["Retry-After"]) <= BUSY_RETRY_AFTER_SECONDS  # a moment
    # A client retries as Retry-After says until the dead worker's lease ends (it began when
    # the server took the request, after ``sent``), then its retry runs the batch.
    deadline = sent + LEASE_SECONDS + 5
    retry = server.put_batch(ITEMS, key=key)
    while key is not None and retry.status_code == 409 and time.monotonic() < deadline:
        time.sleep(int(retry.headers["Retry-After"]) + 0.2)
        retry = server.put_batch(ITEMS, key=key)
    assert retry.status_code == 207
    assert [item["status"] for item in retry.json()["data"]] == [201, 201, 201]
    assert counts(url) == (3, 3)  # the batch ran once
    if key is not None:
        replay = server.put_batch(ITEMS, key=key)
        assert replay.headers["Idempotent-Replayed"] == "true"
        assert replay.json() == retry.json()
    assert_every_worker_recovers(server, lambda: server.get("/healthz"), 200)


def test_held_lock_is_503_within_the_timeout(
    start_server: Callable[..., Server], database_urls: dict[str, str]
) -> None:
    url = database_urls["main"]
    server = start_server()
    with held_write_lock(url):
        thread, outcome = send_in_background(lambda: server.put_batch(ITEMS, key="locked"))
        time.sleep(0.3)
        started = time.monotonic()
        health = requests.get(server.base + "/healthz", timeout=5)  # the other worker
        assert time.monotonic() - started < 1
        assert health.status_code == 503
        thread.join(timeout=30)
    check_unavailable(outcome[0])
    assert outcome[0].elapsed.total_seconds() < 5
    assert counts(url) == (0, 0)
    assert server.put_batch(ITEMS, key="locked").status_code == 207
    assert_every_worker_recovers(server, lambda: server.get("/healthz"), 200)
    assert_quiet_logs(server, 1)


def test_read_only_sqlite_file(
    start_server: Callable[..., Server], database_urls: dict[str, str], backend: str
) -> None:
    if backend != "sqlite":
        pytest.skip("SQLite file fault")
    url = database_urls["main"]
    path = sqlite_file(url)
    assert path is not None
    with immutable_file(path):
        server = start_server(wait=False)
        server.wait_until_ready()
        with ThreadPoolExecutor(2) as pool:  # both workers meet the read-only file
            answers = list(pool.map(lambda i: server.put_batch([license_item(i)]), range(4)))
        for answer in answers:
            check_unavailable(answer)
        assert requests.get(server.base + "/healthz", timeout=5).status_code == 503
    assert counts(url) == (0, 0)
    keys = iter(range(10, 1000))
    assert_every_worker_recovers(server, lambda: server.put_batch([license_item(next(keys))]), 207)
    assert_quiet_logs(server, 4)


def test_terminated_connections(
    start_server: Callable[..., Server], database_urls: dict[str, str], backend: str
) -> None:
    if backend != "postgresql":
        pytest.skip("PostgreSQL connections")
    url = database_urls["main"]
    server = start_server()
    assert_every_worker_recovers(
        server, lambda: server.get("/provider-credentialing/1/licenses"), 200
    )
    admin = create_engine(url)
    try:
        with hanging_history_writes(url):
            thread, outcome = send_in_background(lambda: server.put_batch(ITEMS))
            wait_for_the_write_to_hang(url)
            with admin.connect() as connection:
                terminated = connection.scalar(
                    text(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                        "WHERE application_name = :name"
                    ),
                    {"name": APPLICATION_NAME},
                )
            thread.join(timeout=30)
    finally:
        admin.dispose()
    assert terminated >= 2  # the hanging batch's and the other worker's idle connection
    check_unavailable(outcome[0])
    assert counts(url) == (0, 0)
    assert_every_worker_recovers(
        server, lambda: server.get("/provider-credentialing/1/licenses"), 200
    )
    assert server.put_batch(ITEMS).status_code == 207
    assert_quiet_logs(server, 1)


class Forwarder:
    """A TCP port that refuses connections until ``open()``, then forwards to PostgreSQL."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self.listener: socket.socket | None = None
        self.sockets: list[socket.socket] = []

    def open(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", self.port))
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        if self.listener is not None:
            self.listener.close()
        for end in self.sockets:
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)
            end.close()

    def _accept(self) -> None:
        assert self.listener is not None
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            self.sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)


def test_refused_connections(
    start_server: Callable[..., Server], database_urls: dict[str, str], backend: str
) -> None:
    if backend != "postgresql":
        pytest.skip("needs PostgreSQL behind the port")
    real = make_url(database_urls["main"])
    forwarder = Forwarder((real.host or "127.0.0.1", real.port or 5432))
    url = real.set(host="127.0.0.1", port=forwarder.port).render_as_string(hide_password=False)
    server = start_server(url)
    try:
        for _ in range(3):
            check_unavailable(server.put_batch(ITEMS))
        check_unavailable(server.get("/provider-credentialing/1/licenses"))
        started = time.monotonic()
        assert requests.get(server.base + "/healthz", timeout=5).status_code == 503
        assert time.monotonic() - started < 1
        forwarder.open()
        assert_every_worker_recovers(
            server, lambda: server.get("/provider-credentialing/1/licenses"), 200
        )
        assert server.put_batch(ITEMS).status_code == 207
    finally:
        forwarder.close()
    assert counts(database_urls["main"]) == (3, 3)
    assert_quiet_logs(server, 4)


def test_init_db_from_several_nodes_at_once(backend: str, tmp_path: Path) -> None:
    with empty_database(backend, tmp_path) as url:
        env = {
            **os.environ,
            "FLASK_SECRET_KEY": TEST_SECRET,
            "FLASK_DATABASES": json.dumps({"main": url}),
            "FLASK_SQLITE_CHECKPOINT_INTERVAL": "0",
            "CREDGRID_INSTANCE_PATH": str(tmp_path / "instance"),
        }
        nodes = [
            subprocess.Popen(
                [sys.executable, "-m", "flask", "--app", "app", "init-db"],
                cwd=ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            for _ in range(4)
        ]
        outputs = [node.communicate(timeout=120) for node in nodes]
        assert [node.returncode for node in nodes] == [0] * 4, outputs
        engine = create_engine(url)
        assert current_revision(engine) == head_revision()
        engine.dispose()
