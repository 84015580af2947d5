"""A TCP server on a loopback address that answers with hand-written bytes, for what
pytest-httpserver cannot do (a body streamed without end, a proxy that records what reaches it).

Each connection is served on its own thread by ``handle(server, conn, number)``; the handler
reads request heads with ``server.read_head`` (which records them) and writes what it likes.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable


class RawServer:
    """``with RawServer(handle) as server:`` serves on ``server.host:server.port`` until exit."""

    def __init__(
        self, handle: Callable[[RawServer, socket.socket, int], None], host: str = "127.0.0.1"
    ) -> None:
        self.handle = handle
        self.host = host
        # (connection number, request line, raw head) of every request head read.
        self.requests: list[tuple[int, str, str]] = []
        self.stopping = threading.Event()
        self._listener = socket.create_server((host, 0))
        self.port = self._listener.getsockname()[1]
        self._conns: list[socket.socket] = []
        self._threads: list[threading.Thread] = []

    def url(self, path: str = "/") -> str:
        """``http://host:port`` + ``path``."""
        return f"http://{self.host}:{self.port}{path}"

    def read_head(self, conn: socket.socket, number: int) -> str | None:
        """The next request head on ``conn`` (recorded), or None once the client is gone."""
        data = b""
        while b"\r\n\r\n" not in data:
            try:
                piece = conn.recv(65536)
            except OSError:
                return None
            if not piece:
                return None
            data += piece
        head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1")
        self.requests.append((number, head.split("\r\n", 1)[0], head))
        return head

    def __enter__(self) -> RawServer:
        thread = threading.Thread(target=self._accept, daemon=True)
        thread.start()
        self._threads.append(thread)
        return self

    def _accept(self) -> None:
        number = 0
        while not self.stopping.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            number += 1
            self._conns.append(conn)
            thread = threading.Thread(target=self._serve, args=(conn, number), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _serve(self, conn: socket.socket, number: int) -> None:
        with contextlib.suppress(OSError), conn:
            self.handle(self, conn, number)

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        for conn in self._conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        for thread in self._threads:
            thread.join(timeout=5)
