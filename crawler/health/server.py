"""The bundled TCP health service: an event-driven echo server that also answers ``STATS``.

Anything that can open a socket (a supervisor, a load balancer, ``nc``) can check a crawl
is alive. One ``selectors`` loop serves every client: non-blocking sockets, a callback per
ready socket, a small buffer per connection; no thread per client. Under gevent's monkey
patching ``selectors`` and ``socket`` are gevent's, so the same loop runs cooperatively.

Protocol, per connection:

* Every byte a client sends comes back to it, in order, byte for byte.
* The STATS rule: at a *line start* (the connection's first byte, or the byte after a
  ``\\n``), the exact bytes ``STATS\\n`` or ``STATS\\r\\n`` are answered with one JSON line
  (see ``HealthServer``) instead of being echoed. While the bytes received since a line
  start are still a prefix of one of those two commands, they are held back, however they
  were split into packets; as soon as they cannot become a command they are echoed. Held
  bytes are echoed if the client half-closes (``STATS`` with no newline is plain data).
* Half-close: when the client shuts down writing, the server sends what is left, then closes.

Here: the listening socket and its accepts, the loop, its thread, ``stop()`` and the fork hook.
At ``max_connections`` a new client gets ``BUSY\\n`` and is closed; so does one whose address
already holds ``max_per_address`` connections, so that one host cannot take every slot. The
open connections and their other limits (``max_buffer``, ``idle_timeout``, ``max_lifetime``,
``max_commands``) are in ``clients.py``; the ``STATS`` reply (figures computed at most once
per ``stats_ttl``) in ``stats.py``.

Forked children (the process pool of ``--mode processes``, a multiprocessing manager) must not
keep the service's sockets: a child holding the listening socket keeps the port bound after the
parent exits. Close-on-exec does not apply to ``fork``, so the server closes its descriptors in
every child at fork time (``crawler/health/forksafe.py``).
"""

from __future__ import annotations

import contextlib
import logging
import selectors
import signal
import socket
import sys
import threading
import time
from typing import Any, Self

from crawler.health.clients import Clients
from crawler.health.forksafe import close_in_children
from crawler.health.probe import HealthCheckError, parse_hostport, probe
from crawler.health.stats import StatsLine, StatsProvider

__all__ = [
    "HealthCheckError",
    "HealthServer",
    "parse_hostport",
    "probe",
    "run_standalone",
]

log = logging.getLogger(__name__)

_ACCEPT_BATCH = 64  # accepts per loop turn, so a connect storm cannot starve clients
_ACCEPT_PAUSE_S = 0.5  # out of file descriptors: retry accepting after this long
_BUSY = b"BUSY\n"


class HealthServer:
    """Echo + STATS service on one ``selectors`` loop (see the module docstring).

    Binds in ``__init__`` (so ``port=0`` works and ``address`` is known before serving);
    raises ``OSError`` if it cannot. ``STATS`` answers one JSON line: the dict returned by
    ``stats`` plus ``pid`` and ``uptime_s`` (server uptime; the server's values win). With
    no ``stats``: ``{"pid", "uptime_s", "crawl": null}``. If ``stats`` raises or returns
    something JSON cannot encode (an object, NaN): ``{"error": "stats unavailable", "pid",
    "uptime_s"}``; nothing is turned into a string to make it fit. ``stats`` is called on the
    server's thread/greenlet, at most once per ``stats_ttl`` seconds: it must be quick and
    thread-safe (reading a few counters is).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        stats: StatsProvider | None = None,
        max_connections: int = 256,
        max_buffer: int = 64 * 1024,
        idle_timeout: float = 30.0,
        max_per_address: int = 32,
        max_lifetime: float = 120.0,
        max_commands: int = 16,
        stats_ttl: float = 1.0,
    ) -> None:
        if max_connections < 0 or max_buffer < 1 or idle_timeout <= 0:
            raise ValueError("need max_connections >= 0, max_buffer >= 1, idle_timeout > 0")
        if max_per_address < 1 or max_lifetime <= 0 or max_commands < 1 or stats_ttl < 0:
            raise ValueError(
                "need max_per_address >= 1, max_lifetime > 0, max_commands >= 1, stats_ttl >= 0"
            )
        self._accept_paused_until: float | None = None
        self._lock = threading.RLock()
        self._state = "new"  # -> "running" -> "closed"; resources close exactly once
        self._stop_requested = False
        self._thread: threading.Thread | None = None

        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._listener = socket.create_server(
            (host, port), family=family, backlog=max(128, max_connections)
        )
        try:
            self._listener.setblocking(False)
            # Self-pipe: stop() from any thread (or a signal handler) wakes the loop.
            self._wake_r, self._wake_w = socket.socketpair()
            self._wake_r.setblocking(False)
            self._wake_w.setblocking(False)
            self._selector = selectors.DefaultSelector()
            self._selector.register(self._listener, selectors.EVENT_READ, self._accept)
            self._selector.register(self._wake_r, selectors.EVENT_READ, self._drain_wake)
        except BaseException:
            self._listener.close()
            raise
        self._clients = Clients(
            self._selector,
            StatsLine(stats, stats_ttl),  # uptime counts from here, once bound
            max_connections=max_connections,
            max_buffer=max_buffer,
            idle_timeout=idle_timeout,
            max_per_address=max_per_address,
            max_lifetime=max_lifetime,
            max_commands=max_commands,
        )
        close_in_children(self, _sockets_in_child)

    # -- public surface -------------------------------------------------------------

    @property
    def address(self) -> tuple[str, int]:
        """The bound ``(host, port)``; the real port even when asked for port 0."""
        host, port = self._listener.getsockname()[:2]
        return host, port

    @property
    def connection_count(self) -> int:
        """Client connections currently open."""
        return len(self._clients.conns)

    @property
    def peak_buffered_bytes(self) -> int:
        """Largest pending echo any connection has held; never above ``max_buffer``."""
        return self._clients.peak_buffered

    def serve_forever(self) -> None:
        """Run the loop in this thread until ``stop()``; then close every socket."""
        with self._lock:
            if self._state == "closed" and self._stop_requested:
                return  # stopped before the thread got here
            if self._state != "new":
                raise RuntimeError("a HealthServer serves only once")
            self._state = "running"
        try:
            while not self._stop_requested:
                for key, mask in self._selector.select(self._select_timeout()):
                    key.data(mask)
                self._sweep()
        finally:
            with self._lock:
                self._close_all()

    def start_in_thread(self) -> Self:
        """Serve on a daemon thread named ``crawler-health`` (a greenlet under gevent)."""
        with self._lock:
            if self._thread is not None or self._state != "new":
                raise RuntimeError("this HealthServer was already started or stopped")
            self._thread = threading.Thread(
                target=self.serve_forever, name="crawler-health", daemon=True
            )
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop serving and close every socket. Thread-safe and idempotent.

        Joins the ``start_in_thread`` thread (up to ``timeout`` seconds) unless called
        from that thread; a loop run by ``serve_forever`` elsewhere closes as it exits.
        """
        with self._lock:
            self._stop_requested = True
            if self._state == "new":
                self._close_all()
            else:
                self._wake()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def __enter__(self) -> Self:
        return self.start_in_thread()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- loop internals -------------------------------------------------------------

    def _wake(self) -> None:
        """Make the loop's select return. Takes no lock: safe in a signal handler."""
        self._stop_requested = True
        # OSError: buffer full (already awake) or closed (already stopped).
        with contextlib.suppress(OSError):
            self._wake_w.send(b"\0")

    def _drain_wake(self, mask: int) -> None:
        try:
            while self._wake_r.recv(4096):
                pass
        except BlockingIOError:
            pass

    def _select_timeout(self) -> float | None:
        # No periodic tick: sleep until the next idle deadline, so an idle service
        # costs the crawl nothing; stop() wakes us through the self-pipe.
        deadline = self._clients.next_deadline
        if self._accept_paused_until is not None:
            deadline = min(deadline, self._accept_paused_until)
        if deadline == float("inf"):
            return None
        return max(0.0, deadline - time.monotonic())

    def _sweep(self) -> None:
        """Close idle connections and resume accepting, when their time has come."""
        now = time.monotonic()
        if self._accept_paused_until is not None and now >= self._accept_paused_until:
            self._accept_paused_until = None
            self._selector.register(self._listener, selectors.EVENT_READ, self._accept)
        self._clients.sweep(now)

    def _accept(self, mask: int) -> None:
        for _ in range(_ACCEPT_BATCH):
            try:
                sock, peer = self._listener.accept()
            except BlockingIOError:
                return
            except ConnectionAbortedError:
                continue
            except OSError as exc:
                # Typically out of descriptors (EMFILE): the listener would stay
                # readable and spin the loop, and raising would end the service, so
                # stop accepting for a moment instead.
                log.warning("health service cannot accept (%s); pausing", exc)
                self._selector.unregister(self._listener)
                self._accept_paused_until = time.monotonic() + _ACCEPT_PAUSE_S
                return
            address = str(peer[0]) if isinstance(peer, tuple) else str(peer)
            if self._clients.full(address):
                self._refuse(sock)
            else:
                self._clients.add(sock, address)

    @staticmethod
    def _refuse(sock: socket.socket) -> None:
        try:
            sock.setblocking(False)
            sock.send(_BUSY)
        except OSError:
            pass  # best effort: the close says enough
        sock.close()

    def _close_all(self) -> None:
        if self._state == "closed":
            return
        self._state = "closed"
        self._clients.close_all()
        self._selector.close()
        for sock in (self._listener, self._wake_r, self._wake_w):
            sock.close()


def _sockets_in_child(server: HealthServer) -> list[socket.socket]:
    """In a forked child: mark the server closed there (no lock: the thread that held it does
    not exist in the child) and name its sockets, which ``close_in_children`` closes."""
    if server._state == "closed":
        return []
    server._state, server._stop_requested = "closed", True
    socks = [server._listener, server._wake_r, server._wake_w]
    socks += [conn.sock for conn in server._clients.conns]
    server._clients.conns = set()
    with contextlib.suppress(OSError, ValueError):
        server._selector.close()
    return socks


def run_standalone(
    host: str = "127.0.0.1",
    port: int = 9501,
    *,
    max_connections: int = 256,
    max_buffer: int = 64 * 1024,
    idle_timeout: float = 30.0,
) -> None:
    """Serve in the foreground until SIGINT or SIGTERM, then return normally.

    Prints ``echo service listening on HOST:PORT`` to stderr once bound (signal
    handlers are installed first, so a signal right after that line is handled).
    Raises ``OSError`` if it cannot bind.
    """
    server = HealthServer(
        host,
        port,
        max_connections=max_connections,
        max_buffer=max_buffer,
        idle_timeout=idle_timeout,
    )
    previous: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.signal(signum, lambda *_: server._wake())
    try:
        bound_host, bound_port = server.address
        shown = f"[{bound_host}]" if ":" in bound_host else bound_host
        print(
            f"echo service listening on {shown}:{bound_port}",
            file=sys.stderr,
            flush=True,
        )
        server.serve_forever()
    except KeyboardInterrupt:
        pass  # Ctrl-C before our handler was installed: still a clean exit
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        server.stop()
