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

Limits (memory per connection is bounded by ``max_buffer``):

* At ``max_connections`` a new client gets ``BUSY\\n`` and is closed; so does one whose address
  already holds ``max_per_address`` connections, so that one host cannot take every slot.
* A connection is closed ``max_lifetime`` seconds after it opened, however active: a client
  that trickles a byte now and then cannot hold its slot for ever.
* One read may carry at most ``max_commands`` ``STATS`` commands; a read with more is a flood
  and its client is dropped unanswered. ``STATS`` figures are computed at most once per
  ``stats_ttl`` seconds (the provider may cost a database query), whoever asks.
* A client that sends without reading is dropped as soon as its pending echo would exceed
  ``max_buffer``. We drop rather than apply back-pressure: the kernel buffers (megabytes on
  loopback) have filled before ours grows at all, and a health probe never sends that much.
* No byte moved either way for ``idle_timeout`` seconds: closed.
* Each ready socket gets one ``recv`` and one ``send`` per loop turn, so no client can
  starve the others.

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
from functools import partial
from typing import Any, Self

from crawler.health.forksafe import close_in_children
from crawler.health.probe import HealthCheckError, parse_hostport, probe
from crawler.health.protocol import CommandFlood, Connection
from crawler.health.stats import StatsLine, StatsProvider

__all__ = [
    "HealthCheckError",
    "HealthServer",
    "parse_hostport",
    "probe",
    "run_standalone",
]

log = logging.getLogger(__name__)

_RECV_CHUNK = 64 * 1024
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
        self._max_per_address = max_per_address
        self._max_lifetime = max_lifetime
        self._max_commands = max_commands
        self._per_address: dict[str, int] = {}
        self._max_connections = max_connections
        self._max_buffer = max_buffer
        self._idle_timeout = idle_timeout
        self._conns: set[Connection] = set()
        self._peak_buffered = 0
        self._next_sweep = float("inf")  # earliest idle deadline of any connection
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
        self._stats_line = StatsLine(stats, stats_ttl)  # uptime counts from here, once bound
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
        return len(self._conns)

    @property
    def peak_buffered_bytes(self) -> int:
        """Largest pending echo any connection has held; never above ``max_buffer``."""
        return self._peak_buffered

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
        deadline = self._next_sweep
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
        if now < self._next_sweep:
            return  # activity only pushes deadlines later, so none is due yet
        next_sweep = float("inf")
        for conn in list(self._conns):
            deadline = self._deadline(conn)
            if now >= deadline:
                self._close(conn)
            else:
                next_sweep = min(next_sweep, deadline)
        self._next_sweep = next_sweep

    def _deadline(self, conn: Connection) -> float:
        """When ``conn`` is closed: idle too long, or open too long."""
        return min(conn.last_active + self._idle_timeout, conn.opened + self._max_lifetime)

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
            if (
                len(self._conns) >= self._max_connections
                or self._per_address.get(address, 0) >= self._max_per_address
            ):
                self._refuse(sock)
            else:
                self._add(sock, address)

    @staticmethod
    def _refuse(sock: socket.socket) -> None:
        try:
            sock.setblocking(False)
            sock.send(_BUSY)
        except OSError:
            pass  # best effort: the close says enough
        sock.close()

    def _add(self, sock: socket.socket, address: str = "") -> None:
        sock.setblocking(False)
        # Echo replies are tiny writes; Nagle + delayed ACK would add ~40 ms to a probe.
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        now = time.monotonic()
        conn = Connection(sock, now, address)
        conn.callback = partial(self._on_client, conn)
        self._selector.register(sock, selectors.EVENT_READ, conn.callback)
        self._conns.add(conn)
        self._per_address[address] = self._per_address.get(address, 0) + 1
        self._next_sweep = min(self._next_sweep, self._deadline(conn))

    def _on_client(self, conn: Connection, mask: int) -> None:
        try:
            if mask & selectors.EVENT_READ:
                self._receive(conn)
            if conn in self._conns:
                self._send(conn)
        except OSError:
            self._close(conn)  # reset, broken pipe: the peer is gone
        except Exception:
            log.exception("health service: unexpected error; dropping that connection")
            self._close(conn)

    def _receive(self, conn: Connection) -> None:
        try:
            data = conn.sock.recv(_RECV_CHUNK)
        except BlockingIOError:
            return  # spurious readiness
        if data:
            conn.last_active = time.monotonic()
            try:
                reply = conn.feed(data, self._stats_line, self._max_commands)
            except CommandFlood:
                log.info("health service: dropping a client that floods STATS commands")
                self._close(conn)
                return
        else:
            conn.reading = False
            reply = conn.end_of_input()
        if len(conn.out) + len(reply) > self._max_buffer:
            # Sending without reading: drop it rather than let its buffer grow.
            log.info("health service: dropping a client that does not read its echo")
            self._close(conn)
            return
        conn.out += reply
        self._peak_buffered = max(self._peak_buffered, len(conn.out))

    def _send(self, conn: Connection) -> None:
        if conn.out:
            try:
                sent = conn.sock.send(conn.out)
            except BlockingIOError:
                sent = 0
            if sent:
                del conn.out[:sent]
                conn.last_active = time.monotonic()
        if not conn.reading and not conn.out:
            self._close(conn)  # half-close done: everything echoed, now finish
            return
        events = (selectors.EVENT_READ if conn.reading else 0) | (
            selectors.EVENT_WRITE if conn.out else 0
        )
        if self._selector.get_key(conn.sock).events != events:
            self._selector.modify(conn.sock, events, conn.callback)

    def _close(self, conn: Connection) -> None:
        if conn in self._conns:
            self._conns.discard(conn)
            left = self._per_address.get(conn.address, 1) - 1
            if left > 0:
                self._per_address[conn.address] = left
            else:
                self._per_address.pop(conn.address, None)
        with contextlib.suppress(KeyError, ValueError):
            self._selector.unregister(conn.sock)
        conn.sock.close()

    def _close_all(self) -> None:
        if self._state == "closed":
            return
        self._state = "closed"
        for conn in list(self._conns):
            self._close(conn)
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
    socks += [conn.sock for conn in server._conns]
    server._conns = set()
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
