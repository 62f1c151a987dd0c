"""A TCP proxy on 127.0.0.1 in front of a PostgreSQL server, able to break a session on cue.

The fault suite puts it between the Chatwoot source and the sync: sessions go through it
untouched until the client sends the Nth message containing a marker (e.g. the third
`FETCH FORWARD` of a streamed read). Then, as armed, it either forwards only a few bytes of
the server's answer and hangs up both sides (the network dropping mid-stream), or calls a
function first (e.g. `pg_terminate_backend` from another connection) and goes on forwarding
what the server then sends.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class Trigger:
    marker: bytes
    nth: int
    cut_after_bytes: int | None = None  # hang up after forwarding this many bytes of the answer
    action: Callable[[], None] | None = None  # called once the marker has gone to the server
    seen: int = 0
    fired: bool = False


class TcpProxy:
    """Listens on 127.0.0.1:<free port>; each connection is piped to `upstream` (a unix socket
    path, or a (host, port) pair)."""

    def __init__(self, upstream: str | tuple[str, int]):
        self.upstream = upstream
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(16)
        self.port = self._listener.getsockname()[1]
        self._trigger: Trigger | None = None
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._closed = threading.Event()
        self.connections = 0
        self.cut = 0  # sessions this proxy hung up on
        threading.Thread(target=self._accept, name="tcp-proxy", daemon=True).start()

    def arm(
        self,
        marker: bytes,
        nth: int = 1,
        *,
        cut_after_bytes: int | None = None,
        action: Callable[[], None] | None = None,
    ) -> Trigger:
        trigger = Trigger(marker, nth, cut_after_bytes, action)
        with self._lock:
            self._trigger = trigger
        return trigger

    def disarm(self) -> None:
        with self._lock:
            self._trigger = None

    # ---- plumbing -----------------------------------------------------------------------
    def _connect_upstream(self) -> socket.socket:
        if isinstance(self.upstream, str):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        else:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.connect(self.upstream)
        return sock

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                server = self._connect_upstream()
            except OSError:
                client.close()
                continue
            self.connections += 1
            session = _Session(self, client, server)
            with self._lock:
                self._open.update((client, server))
            threading.Thread(target=session.client_to_server, daemon=True, name="tcp-proxy-up").start()
            threading.Thread(target=session.server_to_client, daemon=True, name="tcp-proxy-down").start()

    def _match(self, data: bytes) -> Trigger | None:
        """The trigger, if this client message is the one it waits for (fires once)."""
        with self._lock:
            trigger = self._trigger
            if trigger is None or trigger.fired or trigger.marker not in data:
                return None
            trigger.seen += data.count(trigger.marker)
            if trigger.seen < trigger.nth:
                return None
            trigger.fired = True
            return trigger

    def _forget(self, *socks: socket.socket) -> None:
        with self._lock:
            for sock in socks:
                self._open.discard(sock)

    def close(self) -> None:
        self._closed.set()
        self._listener.close()
        with self._lock:
            socks, self._open = list(self._open), set()
        for sock in socks:
            _hang_up(sock)

    def __enter__(self) -> TcpProxy:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _hang_up(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()


class _Session:
    def __init__(self, proxy: TcpProxy, client: socket.socket, server: socket.socket):
        self.proxy, self.client, self.server = proxy, client, server
        self.budget: int | None = None  # bytes of the answer still to forward before hanging up
        self.lock = threading.Lock()

    def client_to_server(self) -> None:
        try:
            while data := self.client.recv(65536):
                trigger = self.proxy._match(data)
                if trigger is not None and trigger.cut_after_bytes is not None:
                    with self.lock:
                        self.budget = trigger.cut_after_bytes
                self.server.sendall(data)
                if trigger is not None and trigger.action is not None:
                    trigger.action()
        except OSError:
            pass
        self._end()

    def server_to_client(self) -> None:
        try:
            while data := self.server.recv(65536):
                with self.lock:
                    budget = self.budget
                if budget is not None and len(data) >= budget:
                    self.client.sendall(data[:budget])
                    self.proxy.cut += 1
                    break
                if budget is not None:
                    with self.lock:
                        self.budget = budget - len(data)
                self.client.sendall(data)
        except OSError:
            pass
        self._end()

    def _end(self) -> None:
        self.proxy._forget(self.client, self.server)
        _hang_up(self.client)
        _hang_up(self.server)
