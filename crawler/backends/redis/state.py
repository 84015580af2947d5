"""A connection to one crawl's keys in Redis, and its Lua scripts (picklable).

Outages: a connection error (refused, reset, timed out, the server still loading its data
after a restart) is retried with backoff for up to ``retry`` seconds (``--backend-retry``),
then raised as ``BackendError``. Every script and command the backend sends is safe to repeat
(``PUSH`` claims with ``SADD``, ``COMPLETE`` stores with ``HSETNX``; a ``POP`` whose reply was
lost leaves a lease that expires and is queued again).

A server that comes back may have come back *empty* (restarted without persistence, or its keys
evicted): the crawl's ``config`` key, written when the crawl starts and never deleted, is its
marker. It is checked after every recovered outage and whenever the queue looks finished; a
missing marker raises ``CrawlLost`` rather than letting the crawl end "finished" with its queue
gone.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

import redis

from crawler.backends.codec import decode_record
from crawler.backends.redis import scripts as lua
from crawler.config import redact_url, scrub
from crawler.errors import BackendError, CrawlLost
from crawler.record import Record

log = logging.getLogger(__name__)
T = TypeVar("T")

MARKER = "config"  # the key a crawl's first worker writes; see the module docstring
_FIRST_WAIT_S, _MAX_WAIT_S = 0.1, 2.0


def _transient(exc: redis.RedisError) -> bool:
    """Worth retrying: the server is unreachable or busy loading, not refusing us."""
    if isinstance(exc, (redis.AuthenticationError, redis.exceptions.AuthorizationError)):
        return False
    return isinstance(exc, (redis.ConnectionError, redis.TimeoutError))


class RedisState:
    """A connection to one crawl's keys, and its scripts. Picklable: a copy sent to another
    process reconnects from the URL there (a socket cannot cross a process boundary)."""

    def __init__(self, url: str, crawl_id: str, *, retry: float = 30.0) -> None:
        self.url = url
        self.crawl_id = crawl_id
        self.retry = retry
        # Set once the crawl's marker is known to exist; from then on its loss is detected.
        self.marked = False
        self.lost: CrawlLost | None = None  # once found, every later pop raises it
        self._connect()

    @property
    def shown(self) -> str:
        """The URL as messages show it: without its password."""
        return redact_url(self.url)

    def failure(self, exc: Exception) -> BackendError:
        """A one-line ``BackendError`` for ``exc``; the password never appears in it."""
        return BackendError(scrub(f"redis {self.shown}: {exc}", self.url))

    def _connect(self) -> None:
        try:
            self.client = redis.Redis.from_url(self.url, socket_timeout=30)
        except ValueError as exc:
            raise BackendError(scrub(f"--backend {self.shown!r}: {exc}", self.url)) from None
        # Scripts run on connections of their own, taken from the pool once and kept: the
        # client's per-command path (pool checkout and checks, hooks) cost several times the
        # send and the reply (docs/scaling.md, "CPU per page of one worker").
        self._idle: list[redis.Connection] = []
        self._pid = os.getpid()
        self.scripts = {
            name: self.client.register_script(getattr(lua, name))
            for name in (
                "PUSH",
                "POP",
                "RENEW",
                "COMPLETE",
                "ACQUIRE_HOST",
                "DEFER_HOST",
                "SET_DELAY",
                "ENDED",
            )
        }

    def __getstate__(self) -> dict[str, Any]:
        return {"url": self.url, "crawl_id": self.crawl_id, "retry": self.retry}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.url, self.crawl_id = state["url"], state["crawl_id"]
        self.retry, self.marked, self.lost = state["retry"], False, None
        self._connect()

    def key(self, name: str) -> str:
        """The Redis key ``name`` of this crawl."""
        return f"crawl:{{{self.crawl_id}}}:{name}"

    @property
    def prefix(self) -> str:
        """The prefix of this crawl's keys: scripts that build per-host key names get it."""
        return self.key("")

    def run(self, script: str, keys: Sequence[str], args: Sequence[Any]) -> Any:
        """Run one of the scripts; a Redis failure becomes a one-line ``BackendError``.

        Scripts that build per-host keys take the crawl's ``prefix`` as their first argument
        (and no ``keys``): every key of a crawl shares one Redis Cluster hash slot."""
        names = [self.key(k) for k in keys]
        found = self.scripts[script]
        return self._retrying(lambda: self._evalsha(found, names, args))

    def _evalsha(self, script: Any, keys: list[str], args: Sequence[Any]) -> Any:
        """One ``EVALSHA`` on a kept connection (loading the script if the server lacks it).
        A connection serves one caller at a time; one that failed is closed (it reconnects
        when next used: a reply half read must not be read as the next one's)."""
        command = pack_command(("EVALSHA", script.sha, len(keys), *keys, *args))
        if self._pid != os.getpid():  # forked: the parent's sockets are not this process's
            self._idle, self._pid = [], os.getpid()
        try:
            conn = self._idle.pop()
        except IndexError:
            conn = self.client.connection_pool.get_connection()  # closed with the client
        try:
            conn.send_packed_command([command], check_health=False)
            try:
                reply = conn.read_response()
            except redis.exceptions.NoScriptError:
                conn.send_command("SCRIPT", "LOAD", script.script, check_health=False)
                conn.read_response()
                conn.send_packed_command([command], check_health=False)
                reply = conn.read_response()
        except BaseException:
            conn.disconnect()
            raise
        finally:
            self._idle.append(conn)
        return reply

    def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """One plain Redis command, with the same retries and error mapping."""
        return self._retrying(lambda: getattr(self.client, method)(*args, **kwargs))

    def check_marker(self) -> None:
        """Raise ``CrawlLost`` if the crawl's marker is gone (its keys vanished)."""
        if self.marked and not self._retrying(lambda: self.client.exists(self.key(MARKER))):
            self.lost = CrawlLost(
                f"crawl {self.crawl_id!r} is gone from redis {self.shown} (restarted without "
                "persistence, or its keys were evicted): stopping; the records written so far "
                "are kept"
            )
            raise self.lost

    def _retrying(self, command: Callable[[], T], retry: float | None = None) -> T:
        retry = self.retry if retry is None else retry
        deadline: float | None = None
        wait = _FIRST_WAIT_S
        while True:
            try:
                result = command()
            except redis.RedisError as exc:
                now = time.monotonic()
                if not _transient(exc) or (deadline is not None and now >= deadline):
                    raise self.failure(exc) from None
                if deadline is None:
                    deadline = now + retry
                    if retry <= 0:
                        raise self.failure(exc) from None
                    log.warning(
                        "%s; retrying for up to %g s (--backend-retry)", self.failure(exc), retry
                    )
                time.sleep(min(wait, max(0.0, deadline - now)))
                wait = min(wait * 2, _MAX_WAIT_S)
                continue
            if deadline is not None:
                log.warning("redis %s is back", self.shown)
                # The server may be back without the crawl's keys.
                self.check_marker()
            return result

    def counters(self, *, wait: bool = True) -> dict[str, int]:
        """Crawl-wide counts: scheduled, recorded, requeued, queued, skipped, leased. ``wait=False``
        fails at once during an outage rather than ride it out: a health probe asking for
        figures must get an answer (``stats unavailable``), not wait ``--backend-retry``."""

        def read() -> list[Any]:  # one round trip; a new pipeline per try (execute resets it)
            pipe = self.client.pipeline(transaction=False)
            pipe.hgetall(self.key("stats"))
            pipe.zcard(self.key("leases"))
            return pipe.execute()

        raw, leased = self._retrying(read, None if wait else 0.0)
        stats = {k.decode(): int(v) for k, v in raw.items()}
        # The queue is a list per host: the scripts keep its total in ``stats``.
        stats.setdefault("queued", 0)
        stats.setdefault("skipped", 0)
        stats["leased"] = int(leased)
        return stats

    def records(self) -> Iterator[Record]:
        """Every record of the crawl (in no particular order). Not retried: a scan started
        again would repeat records already handed out."""
        try:
            for _, data in self.client.hscan_iter(self.key("records"), count=500):
                yield decode_record(data)
        except redis.RedisError as exc:
            raise self.failure(exc) from None


def pack_command(args: Sequence[Any]) -> bytes:
    """A command in the Redis protocol, as redis-py packs it (``str`` as UTF-8, numbers by
    ``repr``), in one buffer, cheaper than redis-py's packer for the scripts' arguments."""
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        if isinstance(arg, str):
            arg = arg.encode()
        elif not isinstance(arg, bytes):
            if not isinstance(arg, (int, float)) or isinstance(arg, bool):
                raise TypeError(f"not a Redis argument: {type(arg).__name__}")
            arg = repr(arg).encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(arg), arg))
    return b"".join(parts)
