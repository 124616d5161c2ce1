"""Opt-in (``SQLITE_CHECKPOINT_INTERVAL`` > 0): WAL checkpoints of the SQLite databases in a
background thread, not inside requests. Off by default; then SQLite checkpoints by itself.

In WAL mode a commit appends its pages to the ``-wal`` file, and SQLite's automatic checkpoint
copies them back into the database file, and syncs it, inside whichever commit takes the WAL
past 1,000 pages: that commit pays for every writer's pages. Here one daemon thread per
process runs ``PRAGMA wal_checkpoint(PASSIVE)`` on each watched file every
``SQLITE_CHECKPOINT_INTERVAL`` seconds, on a connection of its own:

- PASSIVE never waits for readers or writers and never blocks them (no busy handler), and the
  ``sqlite3`` module releases the GIL while SQLite copies and syncs, so requests go on;
- the automatic checkpoint stays on as a safety net, at ``SAFETY_NET_PAGES`` (if the thread
  ever falls behind, commits checkpoint as before, just less often);
- the thread opens the file read-write only (``mode=rw``): it never creates a database, and a
  file that is gone is simply dropped;
- a file is watched while its engine lives (a weak reference), and the thread is restarted in
  a forked child (gunicorn ``--preload``), since threads do not survive ``fork``.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
import weakref
from pathlib import Path

from sqlalchemy import Engine, event

log = logging.getLogger("credgrid.sqlite")

#: The automatic checkpoint's threshold (pages) on connections that have the thread.
SAFETY_NET_PAGES = 10_000


class _Checkpointer:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._files: dict[str, tuple[weakref.ref[Engine], float]] = {}
        self._thread: threading.Thread | None = None
        self._pid = 0

    def watch(self, engine: Engine, path: str, interval: float) -> None:
        with self._lock:
            self._files[path] = (weakref.ref(engine), interval)
        self.ensure_running()

    def ensure_running(self) -> None:
        """Start the thread in this process if it is not running here (also after a fork)."""
        if self._pid == os.getpid() and self._thread is not None and self._thread.is_alive():
            return
        with self._lock:
            if self._pid == os.getpid() and self._thread is not None and self._thread.is_alive():
                return
            self._pid = os.getpid()
            self._thread = threading.Thread(
                target=self._run, name="credgrid-sqlite-checkpoints", daemon=True
            )
            self._thread.start()

    def watched(self) -> list[str]:
        with self._lock:
            return [path for path, (engine, _) in self._files.items() if engine() is not None]

    def _run(self) -> None:
        due: dict[str, float] = {}
        clock = 0.0
        while self._thread is threading.current_thread():  # replaced after a fork: stop
            with self._lock:
                files = {p: i for p, (e, i) in self._files.items() if e() is not None}
                for gone in set(self._files) - set(files):
                    del self._files[gone]
            if not files:
                time.sleep(1.0)
                continue
            step = min(files.values())
            time.sleep(step)
            clock += step
            for path, interval in files.items():
                if due.get(path, 0.0) <= clock:
                    due[path] = clock + interval
                    if not checkpoint(path):
                        with self._lock:
                            self._files.pop(path, None)


def checkpoint(path: str) -> bool:
    """One PASSIVE checkpoint of ``path``; False when the file is gone or not a database."""
    if not Path(path).exists():
        return False
    try:
        connection = sqlite3.connect(f"{Path(path).as_uri()}?mode=rw", uri=True, timeout=0)
    except sqlite3.Error as exc:
        # Commits still checkpoint (at SAFETY_NET_PAGES) for a file no longer watched here.
        log.warning("no more background checkpoints of %s: %s", path, exc)
        return False
    try:
        connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    except sqlite3.Error as exc:  # e.g. SQLITE_BUSY while another process checkpoints
        log.debug("checkpoint of %s skipped: %s", path, exc)
    finally:
        connection.close()
    return True


CHECKPOINTER = _Checkpointer()


def watch_engine(engine: Engine, interval: float) -> None:
    """Checkpoint ``engine``'s SQLite file in the background (no-op for other databases)."""
    path = engine.url.database
    if engine.dialect.name != "sqlite" or not path or path == ":memory:" or interval <= 0:
        return
    path = str(Path(path).resolve())

    @event.listens_for(engine, "connect")
    def _raise_automatic_threshold(dbapi_connection: sqlite3.Connection, _record: object) -> None:
        dbapi_connection.execute(f"PRAGMA wal_autocheckpoint = {SAFETY_NET_PAGES}")
        CHECKPOINTER.ensure_running()

    CHECKPOINTER.watch(engine, path, interval)
