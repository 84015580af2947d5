"""The leases a process holds on a Redis crawl, and the heartbeat that keeps them alive.

A popped URL is leased, not removed: while its page is in flight this process renews the lease
(``RENEW``, every ``lease / 3``), so a worker that dies lets its leases expire, and any worker's
next ``POP`` queues the URLs again. The lease ends when the URL's record is stored. The same
thread sends the outbox (``outbox.py``) when no ``POP`` took it within ``outbox.FLUSH_S``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from crawler.backends.redis import outbox as outboxes
from crawler.errors import BackendError

if TYPE_CHECKING:
    from crawler.backends.redis.state import RedisState

# The heartbeat's sleep while nothing waits to be sent (it renews leases every lease / 3).
IDLE_BEAT_S = 0.5


class Leases:
    """The leases one frontier holds here (in flight, or leased and not yet taken by a loop):
    how many per fingerprint, and which of them are out as their host's one page (the host has
    a delay: the page's end is told to the schedule, ``ENDED``). ``lock`` is the strategy's."""

    def __init__(self, lock: Any) -> None:
        self._lock = lock
        self._held: dict[bytes, int] = {}  # fingerprint -> leases held here (taken or not)
        self._busy: set[bytes] = set()  # fingerprints of pages out as their host's one page

    def add(self, leased: Iterable[tuple[bytes, bool]]) -> None:
        """Hold a lease on each ``(fingerprint, out as its host's one page)``."""
        with self._lock:
            for fp, busy in leased:
                _bump(self._held, fp, +1)
                if busy:
                    self._busy.add(fp)

    def release(self, fp: bytes) -> None:
        """Stop renewing one lease of ``fp``: its item went back to the queue, or was rejected."""
        with self._lock:
            _bump(self._held, fp, -1)

    def end(self, fp: bytes) -> bool:
        """Stop renewing one lease of ``fp``, its page done; whether it was its host's one page."""
        with self._lock:
            _bump(self._held, fp, -1)
            busy = fp in self._busy
            self._busy.discard(fp)
        return busy

    def held(self) -> list[bytes]:
        """Fingerprints of the leases held here."""
        with self._lock:
            return list(self._held)


def _bump(counts: dict[Any, int], key: Any, delta: int) -> None:
    count = counts.get(key, 0) + delta
    if count > 0:
        counts[key] = count
    else:
        counts.pop(key, None)


class Heartbeat:
    """The thread (one per process, started when first needed) that renews the leases ``held``
    names, with the outbox's, and sends the outbox through ``flush`` when it is due."""

    def __init__(
        self,
        state: RedisState,
        outbox: outboxes.Outbox,
        lease_seconds: float,
        *,
        held: Callable[[], list[bytes]],
        flush: Callable[[], None],
    ) -> None:
        self._state = state
        self._outbox = outbox
        self._lease_seconds = lease_seconds
        self._held = held
        self._flush = flush
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._quit = threading.Event()

    def start(self) -> None:
        """Start the thread, unless it runs already (or has been stopped: it then ends at once)."""
        if self._thread is not None and self._thread.is_alive():
            return
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                beat = threading.Thread(target=self._renew, name="lease-heartbeat", daemon=True)
                beat.start()
                self._thread = beat

    def stop(self, timeout: float = 5.0) -> None:
        """Stop renewing, and wait up to ``timeout`` seconds for the thread to end."""
        self._quit.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _renew(self) -> None:
        interval = self._lease_seconds / 3
        lease_ms = int(self._lease_seconds * 1000)
        renewed = time.monotonic()
        # Awake every FLUSH_S only while something waits in the outbox; idle, it sleeps longer
        # (a record queued meanwhile goes with the next POP, or the sink's next write).
        while not self._quit.wait(
            outboxes.FLUSH_S if self._outbox.waiting() else min(interval, IDLE_BEAT_S)
        ):
            try:
                if self._outbox.due():
                    self._flush()
                if time.monotonic() - renewed < interval:
                    continue
                renewed = time.monotonic()
                held = self._held() + self._outbox.held()
                if held:
                    self._state.run("RENEW", ("leases",), [lease_ms, *held])
                    self._state.check_marker()
            except BackendError:
                # Lost keys: the loops' next pop raises it (``state.lost``). Unreachable
                # past --backend-retry: the loops' own calls say so.
                pass
