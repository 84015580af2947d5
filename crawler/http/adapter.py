"""The connection pools both fetchers use (the requests fetcher mounts them with the adapter
in ``crawler/http/requests_adapter.py``, so that a crawl on the default urllib3 fetcher never
imports requests): connecting
and every read bounded by the page deadline, and with ``--block-private`` connections pinned to
checked addresses (``crawler/http/connect.py``, ``crawler/http/netguard.py``).

Why a deadline needs its own reader: socket timeouts bound each ``recv``, not the exchange, so a
server that sends one byte a second (in the status line, the headers or the body) never trips
them. The fetcher puts the page's deadline in ``PAGE_DEADLINE`` (a context variable: per thread,
per greenlet); the response object of each connection then reads through ``_DeadlineReader``,
which shrinks the socket timeout to what is left of the deadline before every ``recv``, and
refuses to read once it has passed. urllib3 reports that as a read timeout.
"""

from __future__ import annotations

import _socket  # the OS socket type, which gevent's patching leaves as it is
import contextlib
import io
import queue
import socket
import time
from typing import Any

from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.util import SKIP_HEADER

from crawler.http.capture import RECORDER
from crawler.http.connect import PAGE_DEADLINE, BoundedConnectMixin
from crawler.http.head import HeadResponse

__all__ = ["PAGE_DEADLINE", "pool_classes"]


class _DeadlineReader(io.RawIOBase):
    """A raw reader over a connection's socket file that stops at the deadline."""

    def __init__(self, inner: io.RawIOBase, sock: socket.socket, deadline: float) -> None:
        super().__init__()
        self._inner = inner
        self._sock = sock
        self._deadline = deadline
        self._timeout = sock.gettimeout()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int | None:
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("page deadline passed")
        if self._timeout is None or left < self._timeout:
            # Else the socket's own timeout is still the shorter: setting it is a system call.
            self._sock.settimeout(left)
        return self._inner.readinto(buffer)

    def close(self) -> None:
        if not self.closed:
            self._inner.close()
        super().close()


class DeadlineResponse(HeadResponse):
    """``http.client``'s response (its head read by ``crawler/http/head.py``), reading through
    ``_DeadlineReader`` when a deadline is set."""

    def __init__(self, sock: socket.socket, *args: Any, **kwargs: Any) -> None:
        super().__init__(sock, *args, **kwargs)
        # For --warc's WARC-IP-Address (crawler/http/capture.py): read now, as http.client may
        # close the socket before anyone reads the body (Connection: close, an empty body).
        # Only when archiving: it is a system call per page.
        self.peer_ip: str | None = None
        if RECORDER.get() is not None:
            with contextlib.suppress(OSError, IndexError, TypeError):
                self.peer_ip = sock.getpeername()[0]
        deadline = PAGE_DEADLINE.get()
        if deadline is not None:
            # Nothing has been read yet, so the stock buffered file holds no data to lose.
            self.fp = io.BufferedReader(_DeadlineReader(self.fp.detach(), sock, deadline))


class KnownHeaderLinesMixin:
    """For a urllib3 connection class: a request header line already sent once (a crawl sends
    the same few to every page: User-Agent, Accept, Host) is sent as the bytes built then,
    not encoded and checked again by ``http.client`` (a twelfth of a page's fetch). The first
    time, ``http.client`` checks it as usual (an illegal name or value still raises)."""

    def putheader(self, header: str, *values: Any) -> None:
        if len(values) != 1:
            super().putheader(header, *values)  # type: ignore[misc]
            return
        key = (header, values[0])
        line = _HEADER_LINES.get(key)
        if line is not None:
            self._output(line)  # type: ignore[attr-defined]
            return
        super().putheader(header, *values)  # type: ignore[misc]
        value = values[0]
        if (
            type(header) is str
            and type(value) is str
            and value != SKIP_HEADER
            and header.lower() not in _UNKEPT
        ):
            if len(_HEADER_LINES) >= _HEADER_LINES_KEPT:
                _HEADER_LINES.clear()  # per-page values (validators, cookies) must not pile up
            # What http.client.putheader just sent for it.
            _HEADER_LINES[key] = header.encode("ascii") + b": " + value.encode("latin-1")


_HEADER_LINES: dict[tuple[str, str], bytes] = {}
_HEADER_LINES_KEPT = 256
# Secrets, and values that change with every page: never kept.
_UNKEPT = frozenset({"authorization", "proxy-authorization", "cookie"})


class GeventLivenessMixin:
    """For a urllib3 connection class: before a pooled connection is reused, urllib3 asks the
    socket whether it is readable (a server that closed an idle connection makes it so). Under
    gevent that question went through gevent's ``select.poll``, which builds and starts a
    watcher each time: a tenth of a page's fetch. A gevent socket wraps a non-blocking OS
    socket (``_sock``); peeking one byte on that one answers the same question at the cost of
    one system call. Any other socket is asked as urllib3 asks it."""

    @property
    def is_connected(self) -> bool:
        sock = self.sock  # type: ignore[attr-defined]
        if sock is None:
            return False
        real = getattr(sock, "_sock", None)
        if isinstance(real, _socket.socket) and real.gettimeout() == 0.0:
            try:
                real.recv(1, socket.MSG_PEEK)
            except BlockingIOError:
                return True  # nothing to read: idle and open
            except OSError:
                return False
            return False  # bytes or the end of the stream: readable, as urllib3 counts it
        return super().is_connected  # type: ignore[misc]


class DeadlineHTTPConnection(
    GeventLivenessMixin, KnownHeaderLinesMixin, BoundedConnectMixin, HTTPConnection
):
    """Connect and read within the page deadline."""

    response_class = DeadlineResponse


class DeadlineHTTPSConnection(
    GeventLivenessMixin, KnownHeaderLinesMixin, BoundedConnectMixin, HTTPSConnection
):
    """Connect, handshake and read within the page deadline."""

    response_class = DeadlineResponse


class PinnedHTTPConnection(DeadlineHTTPConnection):
    """Deadline-bounded, and connects only to checked public addresses."""

    pin = True


class PinnedHTTPSConnection(DeadlineHTTPSConnection):
    """Deadline-bounded, public addresses only (SNI and certificates still use the name)."""

    pin = True


class SlotsAtOnceMixin:
    """A pool whose queue gets its slots at once. urllib3 fills a new pool's queue one ``put``
    at a time, a lock each: 64 of them for a pool shared by 64 loops, 0.13 ms of CPU per new
    host on threads, which a crawl of many hosts pays for every host. Built with one slot, the
    standard library's queue is given the others in one step: the same queue, ``maxsize``
    slots, each None until a connection is made in it. Another queue class (gevent's, once
    patched) is filled as urllib3 fills it."""

    def __init__(self, host: str, port: int | None = None, *args: Any, **kwargs: Any) -> None:
        maxsize = kwargs.get("maxsize", 1)
        if maxsize <= 1 or not _plain_lifo(_queue_class(self)):
            super().__init__(host, port, *args, **kwargs)  # type: ignore[call-arg]
            return
        kwargs["maxsize"] = 1
        super().__init__(host, port, *args, **kwargs)  # type: ignore[call-arg]
        slots = self.pool  # type: ignore[attr-defined]
        with slots.mutex:  # the standard library's LifoQueue: its list of slots
            slots.queue.extend([None] * (maxsize - 1))
            slots.maxsize = maxsize

    def close(self) -> None:
        """Close every pooled connection and disable the pool, as urllib3 does, but take the
        standard library's queue of slots in one step: urllib3 drains it one ``get`` and lock
        per slot, 64 for each host at the end of a crawl with 64 loops (a quarter of a second
        for 1,000 hosts)."""
        slots = self.pool  # type: ignore[attr-defined]
        if slots is None or not _plain_lifo(type(slots)):
            super().close()  # type: ignore[misc]
            return
        self.pool = None  # no loop takes from it or gives back to it now
        with slots.mutex:
            pooled, slots.queue = slots.queue, []
            slots.not_full.notify_all()
        for conn in pooled:
            if conn is not None:
                conn.close()


def _queue_class(pool: Any) -> type:
    """The class ``pool._new_pool_queue`` builds its queue from: its ``QueueCls``, or, left at
    urllib3's default, ``queue.LifoQueue`` as it is now (gevent's, once patched)."""
    if pool.QueueCls is _URLLIB3_QUEUE:
        return queue.LifoQueue
    return pool.QueueCls


def _plain_lifo(queue_class: type) -> bool:
    """Whether ``queue_class`` makes the standard library's LifoQueue (its slots a list, one
    mutex). Asked once per class (gevent's patching, if any, is done before urllib3 is
    imported): a probe queue per new pool was a tenth of what building the pool costs."""
    plain = _PLAIN_QUEUES.get(queue_class)
    if plain is None:
        probe = queue_class(1)
        plain = isinstance(getattr(probe, "queue", None), list) and hasattr(probe, "mutex")
        _PLAIN_QUEUES[queue_class] = plain
    return plain


_PLAIN_QUEUES: dict[type, bool] = {}
_URLLIB3_QUEUE = HTTPConnectionPool.QueueCls


def _pool(base: type, connection: type) -> type:
    return type(
        f"{connection.__name__}Pool", (SlotsAtOnceMixin, base), {"ConnectionCls": connection}
    )


_PLAIN = {
    "http": _pool(HTTPConnectionPool, DeadlineHTTPConnection),
    "https": _pool(HTTPSConnectionPool, DeadlineHTTPSConnection),
}
_PINNED = {
    "http": _pool(HTTPConnectionPool, PinnedHTTPConnection),
    "https": _pool(HTTPSConnectionPool, PinnedHTTPSConnection),
}


def pool_classes(*, pin: bool) -> dict[str, type]:
    """urllib3 pool classes by scheme: deadline-bounded reads, and pinned with ``pin``. For a
    ``PoolManager``'s ``pool_classes_by_scheme`` (the urllib3 fetcher uses them directly)."""
    return dict(_PINNED if pin else _PLAIN)
