"""Prove that nothing leaves the machine: record every outgoing socket connection.

Tests wrap Graph calls in `LoopbackGuard()`; a connection to anything but a loopback
address is refused (and recorded), so a test can assert that every request went to the
sandbox and none to graph.facebook.com.
"""

from __future__ import annotations

import ipaddress
import socket
import threading


class LoopbackGuard:
    def __init__(self) -> None:
        self.connections: list[tuple[str, int]] = []
        self.refused: list[tuple] = []
        self._original = None
        self._lock = threading.Lock()

    def _is_loopback(self, address) -> bool:
        if isinstance(address, (str, bytes)):  # unix socket path (e.g. PostgreSQL)
            return True
        host = str(address[0])
        if host == "localhost":
            return True
        try:
            return ipaddress.ip_address(host).is_loopback
        except ValueError:
            return False

    def __enter__(self) -> LoopbackGuard:
        original = socket.socket.connect
        guard = self

        def connect(sock, address):
            if not guard._is_loopback(address):
                with guard._lock:
                    guard.refused.append(address)
                raise ConnectionRefusedError(f"LoopbackGuard: refused connection to {address[0]}")
            if isinstance(address, tuple):
                with guard._lock:
                    guard.connections.append((str(address[0]), int(address[1])))
            return original(sock, address)

        self._original = original
        socket.socket.connect = connect
        return self

    def __exit__(self, *exc) -> None:
        if self._original is not None:
            socket.socket.connect = self._original
            self._original = None

    def ports(self) -> set[int]:
        return {port for _, port in self.connections}
