"""The Redis backend: one crawl shared by many processes and machines through a Redis server.

Every worker started with the same ``--backend`` URL and ``--crawl-id`` works on the same
crawl, in any mode. A popped URL is *leased*, not removed: the worker's heartbeat keeps the
lease alive while the page is in flight, and a worker that dies lets it expire, after which any
worker's next pop queues it again. A URL's lease ends only when its record is stored (one Lua
script, ``HSETNX``), so each URL ends with exactly one record. Key layout and scripts:
``crawler/backends/redis/scripts.py``; compact items and the seen set: ``items.py``.

Round trips: the loops of a process that wait for work at the same moment share one ``POP``
(it leases as many items as loops are waiting), and that call also stores the records and page
states written since the previous one (``outbox.py``: the record sink and the page store only
queue them); what no ``POP`` took within ``outbox.FLUSH_S`` is sent by the heartbeat. A page
costs its share of a ``POP`` and, if it found links this process does not know are claimed
(``Claimed``, ``visited.py``), the ``PUSH`` of those (which claims them: no separate check).
Figures: docs/scaling.md.
"""

from __future__ import annotations

import contextlib
import json
import threading
from typing import Any

from crawler.backends.codec import encode_record, record_key, scope_mismatch, scope_of
from crawler.backends.redis import outbox as outboxes
from crawler.backends.redis.frontier import RedisFrontier
from crawler.backends.redis.items import FORMAT
from crawler.backends.redis.leases import Heartbeat
from crawler.backends.redis.politeness import RedisHostClock, RedisRobotsCache
from crawler.backends.redis.state import RedisState
from crawler.backends.redis.visited import Claimed, RedisVisited
from crawler.base import Sync
from crawler.config import CrawlConfig
from crawler.errors import BackendError
from crawler.politeness.schedule import Pace
from crawler.record import EncodedRecord, Record


class RedisRecordSink:
    """Stores each record in the crawl and ends its URL's lease, atomically (``complete``):
    records are queued in the backend's ``Outbox`` and go with this process's next ``POP``
    (or the heartbeat's send, within ``outbox.FLUSH_S``); ``close`` sends what is left."""

    def __init__(self, backend: RedisBackend) -> None:
        self.backend = backend

    def write(self, record: Record | EncodedRecord) -> None:
        """Keep the record (the first one per URL wins); an ``interrupted`` page instead goes
        back to the queue without a record, so a resumed crawl fetches it."""
        release = "1" if record.error == "interrupted" else "0"
        self.backend.outbox.put(record_key(record), encode_record(record), release)
        if self.backend.outbox.due():
            self.backend.flush()

    # The key and the stored JSON come from the fields an encoded record carries.
    write_encoded = write

    def close(self) -> None:
        """Send the records still queued."""
        self.backend.flush()


class RedisBackend:
    """Crawl state in a Redis server, shared by every worker with the same crawl id."""

    name = "redis"
    shared = True
    durable = True
    claims_in_visited = False  # the claim is push_many's (one script)

    def __init__(self, config: CrawlConfig) -> None:
        assert config.backend is not None
        self.config = config
        self.state = RedisState(config.backend, config.crawl_id, retry=config.backend_retry)
        self._frontiers: list[RedisFrontier] = []
        self.claimed = Claimed()  # shared by this backend's visited sets and frontiers
        self.outbox = outboxes.outbox_for(config.backend, config.crawl_id)
        self.outbox.delay_ms = int(config.delay * 1000)  # a record ends its page: unbusy
        self._flush_lock = threading.Lock()
        self._heartbeat = Heartbeat(
            self.state,
            self.outbox,
            config.lease_seconds,
            held=lambda: [fp for frontier in self._frontiers for fp in frontier.held()],
            flush=self.flush,
        )
        self._check_scope()

    def __getstate__(self) -> dict[str, Any]:
        return {"config": self.config}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["config"])  # reconnect in the new process

    def _check_scope(self) -> None:
        """Store the scope at the crawl's first start; refuse a worker that disagrees."""
        mine = scope_of(self.config)
        key = self.state.key("config")
        try:
            # Written by the crawl's first worker: the scope, the layout of the crawl's keys,
            # and the crawl's marker.
            self.state.call("set", key, json.dumps({**mine, "format": FORMAT}), nx=True)
            stored = json.loads(self.state.call("get", key))
        except BackendError as exc:
            raise BackendError(f"cannot use {exc}") from None
        self.state.marked = True
        found = stored.get("format", 1)
        if found != FORMAT:
            # The first release kept JSON items and one set of fingerprints; reading them as
            # this layout would lose the crawl's queue, so it is refused, not converted.
            raise BackendError(
                f"crawl {self.config.crawl_id!r} in redis {self.state.shown} was written by "
                f"another version of crawler (state format {found}, this one uses {FORMAT}): "
                "finish it with that version, or use another --crawl-id"
            )
        problem = scope_mismatch(stored, mine)
        if problem:
            raise BackendError(
                f"crawl {self.config.crawl_id!r} was started with other scope options: "
                f"{problem} (use the same options, or another --crawl-id)"
            )

    def frontier(self, config: CrawlConfig, sync: Sync) -> RedisFrontier:
        """A handle on the shared queue; its leases are renewed by this process's heartbeat."""
        frontier = RedisFrontier(self, sync, config)
        self._frontiers.append(frontier)
        return frontier

    def visited(self, config: CrawlConfig, sync: Sync) -> RedisVisited:
        """A handle on the shared visited set."""
        return RedisVisited(self.state, self.claimed)

    def host_clock(self, config: CrawlConfig, sync: Sync) -> RedisHostClock:
        """``--delay`` and ``--per-host`` across every worker of the crawl."""
        # The frontier caps pages per host (it counts leases), so the clock needs no slots.
        return RedisHostClock(self.state, sync.lock(), pace=Pace.of(config))

    def robots_cache(self, config: CrawlConfig, sync: Sync) -> RedisRobotsCache:
        """robots.txt entries shared by every worker of the crawl."""
        return RedisRobotsCache(self.state)

    def record_sink(self, config: CrawlConfig) -> RedisRecordSink:
        """Records into the crawl (``crawl results`` exports them), ending their leases."""
        self.heartbeat()  # it sends the records no POP took
        return RedisRecordSink(self)

    def heartbeat(self) -> None:
        """Start (once per process) the thread that renews this process's leases."""
        self._heartbeat.start()

    def flush(self) -> None:
        """Send the queued records and page states now (a ``POP`` that leases nothing)."""
        with self._flush_lock:
            self.outbox.send(self.state)

    def close(self) -> None:
        """Send the queued records, stop the heartbeat (no thread left behind) and drop the
        connections."""
        self._heartbeat.stop(5)
        # Unreachable: their leases expire and the pages are fetched again.
        with contextlib.suppress(BackendError):
            self.flush()
        self.state.client.close()
