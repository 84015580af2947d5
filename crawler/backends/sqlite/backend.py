"""``--state FILE``: the embedded crawl made resumable, in a SQLite file (stdlib ``sqlite3``).

The file holds the frontier, the visited set and the records. A URL in flight stays in the
queue table, leased in memory (``leases.py``), until its record is stored and its row deleted
(one transaction): a crawl that crashed finds the row at the next start and queues it again,
so only what was in flight is fetched twice. One process uses a state file at a time (an
``flock`` says so).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any

from crawler.backends.codec import encode_record, record_key, scope_mismatch, scope_of
from crawler.backends.memory.backend import SharedSchedule
from crawler.backends.sqlite.frontier import SqliteFrontier
from crawler.backends.sqlite.state import CHUNK, SqliteState
from crawler.base import HostClock, RobotsCache, Sync
from crawler.config import CrawlConfig
from crawler.errors import BackendError
from crawler.record import EncodedRecord, Record


class SqliteVisited:
    """A read-only filter over the visited table; the claim happens in ``push_many``, in the
    same transaction as the enqueue, so a crash between the two cannot lose a URL.

    Usable from another process (a ``multiprocessing`` manager, forked or spawned): there it
    opens its own connection, since a SQLite connection must not cross a fork.
    """

    def __init__(self, state: SqliteState) -> None:
        self.path = state.path
        self._state: SqliteState | None = state
        self._pid = os.getpid()

    def __getstate__(self) -> dict[str, str]:
        return {"path": self.path}

    def __setstate__(self, state: dict[str, str]) -> None:
        self.path, self._state, self._pid = state["path"], None, -1

    def _db(self) -> SqliteState:
        if self._state is None or self._pid != os.getpid():
            self._state, self._pid = SqliteState(self.path, exclusive=False), os.getpid()
        return self._state

    def __len__(self) -> int:
        # Every fingerprint claimed was either queued (``scheduled``) or skipped beyond its
        # host's budget: two counters, where a COUNT(*) would read 10 M rows.
        state = self._db()
        return int(state.meta("scheduled") or 0) + int(state.meta("skipped") or 0)

    def claim_many(self, keys: Sequence[bytes]) -> list[bytes]:
        """The keys not yet in the visited table."""
        state = self._db()
        known: set[bytes] = set()
        with state.lock:
            for i in range(0, len(keys), CHUNK):
                chunk = list(keys[i : i + CHUNK])
                marks = ",".join("?" * len(chunk))
                rows = state.db.execute(f"SELECT fp FROM seen WHERE fp IN ({marks})", chunk)
                known.update(row[0] for row in rows)
        return [key for key in keys if key not in known]


class SqliteRecordSink:
    """Stores each record and removes its URL's row (leased by the frontier) from the queue
    table, in one transaction."""

    def __init__(self, state: SqliteState) -> None:
        self.state = state

    def write(self, record: Record | EncodedRecord) -> None:
        """Keep the record (first per URL wins); an ``interrupted`` page waits again instead."""
        key = record_key(record)
        with self.state.transaction() as db:
            row = self.state.leases.release(key)
            if record.error == "interrupted":
                return  # its row was never marked: it is queued again
            db.execute(
                "INSERT OR IGNORE INTO records (fp, record) VALUES (?, ?)",
                (key, encode_record(record).decode()),
            )
            if row is not None:  # else not a queued URL (an invalid seed's record)
                db.execute("DELETE FROM queue WHERE id = ?", (row,))

    # The key and the stored JSON come from the fields an encoded record carries.
    write_encoded = write

    def close(self) -> None:
        """Nothing buffered: every write is committed."""


class SqliteBackend:
    """Crawl state in a SQLite file: the same crawl continues when run again."""

    name = "sqlite"
    shared = False
    durable = True
    claims_in_visited = False  # the claim is push_many's (one transaction)

    def __init__(self, config: CrawlConfig) -> None:
        assert config.state is not None
        self.config = config
        self._schedule = SharedSchedule()
        self.state = SqliteState(config.state)
        try:
            with self.state.transaction() as db:
                if self.state.meta("leases") != "memory":
                    # A file of an earlier release, which marked leases in the queue table: any
                    # row leased by a run that crashed was in flight, queue it again. Once: this
                    # release keeps leases in memory (``leases.py``), so none is ever marked.
                    db.execute("UPDATE queue SET leased = 0 WHERE leased = 1")
                    db.execute("INSERT OR REPLACE INTO meta VALUES ('leases', 'memory')")
                db.execute(
                    "INSERT OR IGNORE INTO meta VALUES ('scope', ?)",
                    (json.dumps(scope_of(config)),),
                )
            stored = json.loads(self.state.meta("scope") or "{}")
            problem = scope_mismatch(stored, scope_of(config))
        except BaseException:
            self.state.close()
            raise
        if problem:
            self.state.close()
            raise BackendError(
                f"--state {config.state!r} holds a crawl with other scope options: {problem}"
            )

    def __getstate__(self) -> dict[str, Any]:
        return {"config": self.config}

    def __setstate__(self, state: dict[str, Any]) -> None:
        # A copy in a helper process (a spawned manager): it only reads the visited table, so
        # it shares the file instead of locking it or re-queueing leases.
        self.config = state["config"]
        self._schedule = SharedSchedule()
        self.state = SqliteState(self.config.state, exclusive=False)

    def frontier(self, config: CrawlConfig, sync: Sync) -> SqliteFrontier:
        """The queue table in its hosts' ready order, waited on with the strategy's
        condition variable."""
        schedule, condition = self._schedule.get(config, sync)
        return SqliteFrontier(self.state, condition, schedule, config)

    def visited(self, config: CrawlConfig, sync: Sync) -> SqliteVisited:
        """The visited table."""
        return SqliteVisited(self.state)

    def host_clock(self, config: CrawlConfig, sync: Sync) -> HostClock:
        """One process per state file: the frontier's in-memory host schedule is the crawl's."""
        from crawler.backends.memory.host_clock import MemoryHostClock

        schedule, condition = self._schedule.get(config, sync)
        return MemoryHostClock(condition, schedule=schedule)

    def robots_cache(self, config: CrawlConfig, sync: Sync) -> RobotsCache:
        """robots.txt is fetched again after a restart (it may have changed meanwhile)."""
        from crawler.backends.memory.robots_cache import MemoryRobotsCache

        return MemoryRobotsCache(sync.condition())

    def record_sink(self, config: CrawlConfig) -> SqliteRecordSink:
        """Records into the file (``crawl results --state FILE`` exports them)."""
        return SqliteRecordSink(self.state)

    def close(self) -> None:
        """Close the file."""
        self.state.close()
