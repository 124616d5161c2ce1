"""Counting network round trips between the application and PostgreSQL.

A loopback TCP proxy in front of the server: a round trip is the client speaking after the
server has answered what it was waiting for, that is, after the client waited: everything up to
a Sync (the server's last bytes were a ReadyForQuery message), or, when the client asked for the
results so far with a Flush (as psycopg's pipeline does to fetch before a Sync), any answer.
Statements sent together (a pipeline, an executemany, one statement with CTEs) are one round
trip, however the bytes are cut; a statement and its BEGIN sent separately are two. It counts
what travels, so it cannot be fooled by how the code issues its statements.
"""

from __future__ import annotations

import selectors
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress

#: A ReadyForQuery message without its status byte: the server is done and waits.
READY_FOR_QUERY = b"Z\x00\x00\x00\x05"
#: A Flush message: the client asks for the results so far, and waits for them.
FLUSH = b"H\x00\x00\x00\x04"


class RoundTripProxy:
    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.round_trips = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._sockets: set[socket.socket] = set()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def reset(self) -> None:
        with self._lock:
            self.round_trips = 0

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        for open_socket in self._sockets:
            open_socket.close()
        self.listener.close()

    def _serve(self) -> None:
        selector = selectors.DefaultSelector()
        self.listener.setblocking(False)
        selector.register(self.listener, selectors.EVENT_READ, None)
        while not self._stop.is_set():
            for key, _ in selector.select(timeout=0.1):
                if key.data is None:
                    client, _ = self.listener.accept()
                    server = socket.create_connection(self.upstream)
                    self._sockets |= {client, server}
                    state = {"answered": True, "flushed": False}
                    selector.register(client, selectors.EVENT_READ, (server, True, state))
                    selector.register(server, selectors.EVENT_READ, (client, False, state))
                    continue
                sock: socket.socket = key.fileobj  # type: ignore[assignment]
                peer, from_client, state = key.data
                try:
                    chunk = sock.recv(65536)
                except OSError:
                    chunk = b""
                if not chunk:
                    for s in (sock, peer):
                        with suppress(KeyError, ValueError):
                            selector.unregister(s)
                        s.close()
                        self._sockets.discard(s)
                    continue
                with self._lock:
                    if from_client:
                        if state["answered"]:
                            self.round_trips += 1
                            state["answered"] = False
                        state["flushed"] = chunk.endswith(FLUSH)
                    else:
                        state["answered"] = state["flushed"] or chunk[-6:-1] == READY_FOR_QUERY
                peer.sendall(chunk)
        selector.close()


@contextmanager
def round_trip_proxy(host: str, port: int) -> Iterator[RoundTripProxy]:
    proxy = RoundTripProxy((host, port))
    try:
        yield proxy
    finally:
        proxy.close()
