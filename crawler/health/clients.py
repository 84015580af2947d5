"""The health service's open client connections: each one's echo, its limits, and its end.

``Clients`` serves the sockets ``HealthServer`` accepted, on the server's selector: one
``recv`` and one ``send`` per ready socket and loop turn, so no client can starve the others.
What a client sends goes through its ``Connection`` (``protocol.py``: the STATS rule), and what
comes back waits in that connection's buffer until the kernel takes it.

Limits (memory per connection is bounded by ``max_buffer``):

* ``full(address)``: at ``max_connections``, or with ``max_per_address`` connections from that
  address, the server refuses the next client, so that one host cannot take every slot.
* A connection is closed ``max_lifetime`` seconds after it opened, however active: a client
  that trickles a byte now and then cannot hold its slot for ever.
* One read may carry at most ``max_commands`` ``STATS`` commands; a read with more is a flood
  and its client is dropped unanswered.
* A client that sends without reading is dropped as soon as its pending echo would exceed
  ``max_buffer``. We drop rather than apply back-pressure: the kernel buffers (megabytes on
  loopback) have filled before ours grows at all, and a health probe never sends that much.
* No byte moved either way for ``idle_timeout`` seconds: closed.
"""

from __future__ import annotations

import contextlib
import logging
import selectors
import socket
import time
from collections.abc import Callable
from functools import partial

from crawler.health.protocol import CommandFlood, Connection

log = logging.getLogger(__name__)

_RECV_CHUNK = 64 * 1024


class Clients:
    """The client connections of one service, served on its selector (module docstring).

    Used from the server's loop only (one thread or greenlet), so it takes no lock.
    """

    def __init__(
        self,
        selector: selectors.BaseSelector,
        stats_line: Callable[[], bytes],
        *,
        max_connections: int,
        max_buffer: int,
        idle_timeout: float,
        max_per_address: int,
        max_lifetime: float,
        max_commands: int,
    ) -> None:
        self._selector = selector
        self._stats_line = stats_line
        self._max_connections = max_connections
        self._max_buffer = max_buffer
        self._idle_timeout = idle_timeout
        self._max_per_address = max_per_address
        self._max_lifetime = max_lifetime
        self._max_commands = max_commands
        self.conns: set[Connection] = set()
        self._per_address: dict[str, int] = {}
        self.peak_buffered = 0  # largest pending echo any connection has held
        self.next_deadline = float("inf")  # earliest deadline of any connection

    def full(self, address: str) -> bool:
        """Whether a new client from ``address`` must be refused (it would pass a cap)."""
        return (
            len(self.conns) >= self._max_connections
            or self._per_address.get(address, 0) >= self._max_per_address
        )

    def add(self, sock: socket.socket, address: str = "") -> None:
        """Serve ``sock``, a client just accepted from ``address``."""
        sock.setblocking(False)
        # Echo replies are tiny writes; Nagle + delayed ACK would add ~40 ms to a probe.
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        now = time.monotonic()
        conn = Connection(sock, now, address)
        conn.callback = partial(self._on_ready, conn)
        self._selector.register(sock, selectors.EVENT_READ, conn.callback)
        self.conns.add(conn)
        self._per_address[address] = self._per_address.get(address, 0) + 1
        self.next_deadline = min(self.next_deadline, self._deadline(conn))

    def sweep(self, now: float) -> None:
        """Close the connections whose deadline has come."""
        if now < self.next_deadline:
            return  # activity only pushes deadlines later, so none is due yet
        next_deadline = float("inf")
        for conn in list(self.conns):
            deadline = self._deadline(conn)
            if now >= deadline:
                self.close(conn)
            else:
                next_deadline = min(next_deadline, deadline)
        self.next_deadline = next_deadline

    def close_all(self) -> None:
        """Close every connection (the selector and the listener are the server's)."""
        for conn in list(self.conns):
            self.close(conn)

    def close(self, conn: Connection) -> None:
        """Stop serving ``conn`` and close its socket."""
        if conn in self.conns:
            self.conns.discard(conn)
            left = self._per_address.get(conn.address, 1) - 1
            if left > 0:
                self._per_address[conn.address] = left
            else:
                self._per_address.pop(conn.address, None)
        with contextlib.suppress(KeyError, ValueError):
            self._selector.unregister(conn.sock)
        conn.sock.close()

    def _deadline(self, conn: Connection) -> float:
        """When ``conn`` is closed: idle too long, or open too long."""
        return min(conn.last_active + self._idle_timeout, conn.opened + self._max_lifetime)

    def _on_ready(self, conn: Connection, mask: int) -> None:
        try:
            if mask & selectors.EVENT_READ:
                self._receive(conn)
            if conn in self.conns:
                self._send(conn)
        except OSError:
            self.close(conn)  # reset, broken pipe: the peer is gone
        except Exception:
            log.exception("health service: unexpected error; dropping that connection")
            self.close(conn)

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
                self.close(conn)
                return
        else:
            conn.reading = False
            reply = conn.end_of_input()
        if len(conn.out) + len(reply) > self._max_buffer:
            # Sending without reading: drop it rather than let its buffer grow.
            log.info("health service: dropping a client that does not read its echo")
            self.close(conn)
            return
        conn.out += reply
        self.peak_buffered = max(self.peak_buffered, len(conn.out))

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
            self.close(conn)  # half-close done: everything echoed, now finish
            return
        events = (selectors.EVENT_READ if conn.reading else 0) | (
            selectors.EVENT_WRITE if conn.out else 0
        )
        if self._selector.get_key(conn.sock).events != events:
            self._selector.modify(conn.sock, events, conn.callback)
