"""What a process has for Redis that need not go on its own: records (each ends its URL's
lease) and page states (``crawl:{ID}:pages``). Every ``POP`` of the process carries them, so
a page costs no round trip of its own for either; ``FLUSH_S`` bounds how long one waits when
no ``POP`` comes (the heartbeat, the record sink and the page store then send it).

One outbox per crawl per process (``outbox_for``), shared by the backend, its frontiers and
sink, and the loops' page stores. Sending is safe to repeat: ``complete`` stores with
``HSETNX``, a page state is a plain ``HSET``.
"""

from __future__ import annotations

import os
import threading
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from crawler.backends.redis.state import RedisState

# The longest a record or page state waits in this process for a ``POP`` to carry it.
FLUSH_S = 0.05

_OUTBOXES: dict[tuple[int, str, str], Outbox] = {}
_LOCK = threading.Lock()


class Outbox:
    """Records (``put``) and page states (``put_page``) not yet sent; ``take`` empties it into
    the tail of a ``POP``'s arguments, ``restore`` puts them back when the call failed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: list[bytes] = []  # release (1 byte) + fingerprint + record JSON
        self._pages: dict[bytes, bytes] = {}  # fingerprint -> state JSON (b"": drop it)
        self._since = 0.0  # when the oldest waiting entry came (monotonic)
        # The crawl's --delay (ms): a record ends its page's turn on a host with a delay, and
        # the host's next start is booked from it (set by the backend).
        self.delay_ms = 0

    def put(self, fp: bytes, record: bytes, release: str) -> None:
        """Queue one ``complete`` (``release`` '1': back to the queue, no record)."""
        entry = release.encode() + fp + record
        with self._lock:
            self._stamp()
            self._records.append(entry)

    def put_page(self, fp: bytes, state: str) -> None:
        """Queue a page state (``""``: forget the page's)."""
        data = state.encode("utf-8", "surrogatepass")
        with self._lock:
            self._stamp()
            self._pages[fp] = data

    def page(self, fp: bytes) -> bytes | None:
        """A page state waiting here (``b""``: dropped), or None."""
        return self._pages.get(fp)  # one dict read: no lock needed (``take`` swaps the dict)

    def _stamp(self) -> None:
        if not self._records and not self._pages:
            self._since = time.monotonic()

    def take(self) -> list[bytes | int]:
        """Everything queued as a ``POP``'s tail: the number of records, the records, then
        the page states (``fingerprint + JSON``); the outbox is then empty."""
        with self._lock:
            records, self._records = self._records, []
            pages, self._pages = self._pages, {}
        return [len(records), *records, *(fp + state for fp, state in pages.items())]

    def restore(self, tail: list[bytes | int]) -> None:
        """Put back what ``take`` gave (a call that failed): records in front, and page states
        not replaced meanwhile."""
        n = int(tail[0])
        records = tail[1 : 1 + n]
        with self._lock:
            self._stamp()
            self._records[:0] = records  # type: ignore[misc]
            for entry in tail[1 + n :]:
                self._pages.setdefault(entry[:16], entry[16:])  # type: ignore[index]

    def waiting(self) -> bool:
        """True when anything waits to be sent."""
        with self._lock:
            return bool(self._records or self._pages)

    def due(self) -> bool:
        """True when an entry has waited ``FLUSH_S``."""
        # Read without the lock (asked after every record and page state): a stale answer
        # only moves a send to the next call, or the heartbeat's.
        waiting = bool(self._records or self._pages)
        return waiting and time.monotonic() - self._since >= FLUSH_S

    def held(self) -> list[bytes]:
        """Fingerprints whose records wait here (their leases must not lapse meanwhile)."""
        with self._lock:
            return [entry[1:17] for entry in self._records]

    def send(self, state: RedisState) -> None:
        """Send everything queued now (a ``POP`` that leases nothing)."""
        tail = self.take()
        if len(tail) == 1:
            return
        try:
            state.run("POP", (), [state.prefix, 0, -1, self.delay_ms, 0, 0, *tail])
        except BaseException:
            self.restore(tail)
            raise


def outbox_for(url: str, crawl_id: str) -> Outbox:
    """This process's outbox for one crawl (a forked child starts with its own)."""
    with _LOCK:
        return _OUTBOXES.setdefault((os.getpid(), url, crawl_id), Outbox())
