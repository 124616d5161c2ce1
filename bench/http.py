"""Over HTTP: gunicorn (2 sync workers) on loopback, started and stopped by the benchmark.

Every load is bounded in request count and in time, and only ever targets 127.0.0.1.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.server import BARE_PATH
from bench.workload import CRED_KEY, KeyAllocator, batch

HOST = "127.0.0.1"
WORKERS = 2
CLIENTS = 8
BATCH_PATH = f"/provider-credentialing/{CRED_KEY}/licenses-batch"
ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def build_request(method: str, path: str, headers: dict[str, str], body: bytes = b"") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {HOST}", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    if body:
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def send(port: int, raw: bytes, timeout: float = 60.0) -> tuple[int, bytes]:
    """One request on a fresh connection (sync workers close it); returns status and body."""
    with socket.create_connection((HOST, port), timeout=timeout) as s:
        s.sendall(raw)
        chunks = []
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    response = b"".join(chunks)
    head, _, body = response.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    def worker_pids(self) -> list[int]:
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(p) for p in children.read_text().split()]

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_server(
    databases: dict[str, str], secret: str, results_dir: Path, workers: int = WORKERS
) -> Server:
    port = free_port()
    log_path = results_dir / "gunicorn.log"
    env = dict(os.environ)
    env.update(
        FLASK_DATABASES=json.dumps(databases),
        FLASK_SECRET_KEY=secret,
        FLASK_BENCH_ENDPOINTS="true",
        # Throughput is the point here, not the per-key rate limit (SPEC section 7).
        FLASK_RATE_LIMIT="1000000 per second",
        PYTHONPATH=os.pathsep.join(p for p in (os.environ.get("PYTHONPATH"), str(ROOT)) if p),
    )
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "--workers",
        str(workers),
        "--worker-class",
        "sync",
        "--bind",
        f"{HOST}:{port}",
        "bench.server:create_app()",
    ]
    with log_path.open("wb") as log:  # this run's log only
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log)
    server = Server(process, port, log_path)
    deadline = time.monotonic() + 30
    probe = build_request("GET", BARE_PATH, {})
    while time.monotonic() < deadline:
        try:
            if send(port, probe, timeout=2)[0] == 200 and len(server.worker_pids()) == workers:
                for _ in range(20):  # touch both workers once
                    send(port, probe)
                return server
        except OSError:
            pass
        if process.poll() is not None:
            break
        time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"gunicorn did not start; see {log_path}")


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of ``pids`` so far (from /proc/<pid>/stat)."""
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return total / os.sysconf("SC_CLK_TCK")


def _client(
    port: int, requests: list[bytes], expected_status: int, deadline: float, results: Any
) -> None:
    """One client process: its share of the requests, one at a time, until the deadline."""
    latencies, failures = [], []
    for raw in requests:
        if time.monotonic() >= deadline:
            break
        started = time.perf_counter()
        status, body = send(port, raw)
        latencies.append(time.perf_counter() - started)
        if status != expected_status:
            failures.append(f"{status} {body[:200]!r}")
    results.put((latencies, failures))


def load(
    port: int,
    requests: list[bytes],
    expected_status: int,
    *,
    clients: int = CLIENTS,
    max_seconds: float,
    workers: list[int] | None = None,
) -> dict[str, Any]:
    """Send ``requests`` from ``clients`` processes, stopping early after ``max_seconds``.

    Clients are processes, not threads: a sync worker lingers on each connection until its
    client has read the response and closed, so clients queued behind one GIL would throttle
    the server they measure. With ``workers``, also reports the workers' CPU time per request.
    """
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    deadline = time.monotonic() + max_seconds
    processes = [
        context.Process(
            target=_client, args=(port, requests[i::clients], expected_status, deadline, results)
        )
        for i in range(clients)
    ]
    cpu_before = cpu_seconds(workers) if workers else 0.0
    started = time.perf_counter()
    for process in processes:
        process.start()
    latencies: list[float] = []
    failures: list[str] = []
    for _ in processes:
        done, failed = results.get(timeout=max_seconds + 120)
        latencies += done
        failures += failed
    wall = time.perf_counter() - started
    cpu = cpu_seconds(workers) - cpu_before if workers else None
    for process in processes:
        process.join()
    if failures:
        raise RuntimeError(f"{len(failures)} requests failed, e.g. {failures[0]}")
    ordered = sorted(latencies)
    return {
        "requests": len(latencies),
        "clients": clients,
        "seconds": wall,
        "requests_per_second": len(latencies) / wall,
        "p50_ms": statistics.median(ordered) * 1000,
        "p99_ms": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000,
        "worker_cpu_ms_per_request": None if cpu is None else cpu * 1000 / len(latencies),
    }


def rss_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def reset_peak_rss(pid: int) -> bool:
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        return True
    except OSError:
        return False


class BatchRequests:
    """Prepared 5-item (or n-item) batch requests, with their existing rows seeded first.

    ``path``: the real batch endpoint, or the HTTP floor's (``bench.http_floor``).
    """

    def __init__(
        self,
        database: str,
        headers: dict[str, str],
        allocator: KeyAllocator,
        seed: Callable[[list[dict[str, Any]]], None],
        path: str = BATCH_PATH,
    ) -> None:
        self.headers = {"vbasoftware-database": database, **headers}
        self.allocator = allocator
        self.seed = seed
        self.path = path

    def make(self, count: int, size: int) -> list[bytes]:
        requests, existing = [], []
        for _ in range(count):
            prepared = batch(self.allocator.take(size), size)
            existing += prepared.existing
            body = json.dumps(prepared.items).encode()
            requests.append(build_request("PUT", self.path, self.headers, body))
        for start in range(0, len(existing), 5000):
            self.seed(existing[start : start + 5000])
        return requests

    def make_creates(self, count: int, size: int) -> list[bytes]:
        """Batches of new licenses only (nothing seeded): a bulk load through the API."""
        return [
            build_request(
                "PUT",
                self.path,
                self.headers,
                json.dumps(batch(self.allocator.take(size), size).items).encode(),
            )
            for _ in range(count)
        ]


def bulk_load(server: Server, requests: BatchRequests, licenses: int, size: int) -> float:
    """Create ``licenses`` through ``requests``' endpoint in ``size``-item batches, one at a
    time; returns the seconds it took."""
    started = time.perf_counter()
    for raw in requests.make_creates(-(-licenses // size), size):
        status, body = send(server.port, raw)
        if status != 207:
            raise RuntimeError(f"bulk load: {status} {body[:200]!r}")
    return time.perf_counter() - started


def median_of_rounds(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """One load's figures as the median of its rounds (each round's figures kept too)."""
    merged: dict[str, Any] = {
        key: statistics.median(r[key] for r in rounds)
        for key in ("requests_per_second", "p50_ms", "p99_ms", "worker_cpu_ms_per_request")
        if rounds[0].get(key) is not None
    }
    merged["requests"] = sum(r["requests"] for r in rounds)
    merged["clients"] = rounds[0]["clients"]
    merged["rounds"] = rounds
    return merged


def batch5_load(
    server: Server, requests: BatchRequests, *, count: int, max_seconds: float
) -> dict[str, Any]:
    """One round of 5-item batches with auth, after a short warm-up."""
    load(server.port, requests.make(100, 5), 207, max_seconds=max_seconds)
    return load(
        server.port,
        requests.make(count, 5),
        207,
        max_seconds=max_seconds,
        workers=server.worker_pids(),
    )


def measure_backend(
    server: Server,
    requests: BatchRequests,
    *,
    max_seconds: float,
    log: Callable[[str], None],
) -> dict[str, Any]:
    """The rest of one backend's HTTP figures: a 1,000-item batch's latency and memory."""
    port = server.port
    for raw in requests.make(1, 1000):  # warm-up
        send(port, raw)
    latencies = []
    for raw in requests.make(5, 1000):
        started = time.perf_counter()
        status, body = send(port, raw)
        latencies.append(time.perf_counter() - started)
        if status != 207:
            raise RuntimeError(f"1000-item batch: {status} {body[:200]!r}")
    big_ms = statistics.median(latencies) * 1000
    log(f"    one 1000-item batch: {big_ms:.1f} ms (median of {len(latencies)})")

    pids = server.worker_pids()
    load(port, requests.make(200, 5), 207, max_seconds=max_seconds)  # warm-up
    before = {pid: rss_kib(pid, "VmRSS") for pid in pids}
    growth_run = load(port, requests.make(2000, 5), 207, max_seconds=max(max_seconds, 60))
    after = {pid: rss_kib(pid, "VmRSS") for pid in pids}
    growth = {
        "requests": growth_run["requests"],
        "rss_before_mb": {str(p): before[p] * 1024 / 1e6 for p in pids},
        "rss_after_mb": {str(p): after[p] * 1024 / 1e6 for p in pids},
        "growth_mb": max((after[p] - before[p]) * 1024 / 1e6 for p in pids),
    }
    log(f"    RSS growth over {growth_run['requests']} requests: {growth['growth_mb']:.2f} MB")

    peak_reset = all(reset_peak_rss(pid) for pid in pids)
    baseline = {pid: rss_kib(pid, "VmRSS") for pid in pids}
    for raw in requests.make(1, 5000):
        status, body = send(port, raw)
        if status != 207:
            raise RuntimeError(f"5000-item batch: {status} {body[:200]!r}")
    peaks = {pid: rss_kib(pid, "VmHWM") for pid in pids}
    peak = {
        "peak_rss_mb": max(peaks.values()) * 1024 / 1e6,
        "rss_before_mb": max(baseline.values()) * 1024 / 1e6,
        "peak_reset": peak_reset,
    }
    log(f"    peak worker RSS during a 5000-item batch: {peak['peak_rss_mb']:.1f} MB")
    return {
        "batch1000_ms": big_ms,
        "memory_growth": growth,
        "memory_peak_5000": peak,
    }
