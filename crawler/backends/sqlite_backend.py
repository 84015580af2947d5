"""``--state FILE``: the embedded crawl made resumable, in a SQLite file (stdlib ``sqlite3``).

The file holds the frontier, the visited set, the URLs in flight and the records. A URL in
flight stays in the queue table, marked leased, until its record is stored (one transaction):
a crawl that crashed finds it leased at the next start and queues it again, so only what was
in flight is fetched twice. One process uses a state file at a time (an ``flock`` says so).
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from crawler.backends.codec import (
    decode_record,
    decode_request,
    encode_record,
    encode_request,
    record_key,
    scope_mismatch,
    scope_of,
)
from crawler.base import Request, Sync
from crawler.config import CrawlConfig
from crawler.errors import BackendError
from crawler.record import Record

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS seen (fp BLOB PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS queue (
    id INTEGER PRIMARY KEY AUTOINCREMENT, fp BLOB NOT NULL UNIQUE, item BLOB NOT NULL,
    leased INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS queue_waiting ON queue (leased, id);
CREATE TABLE IF NOT EXISTS records (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, fp BLOB NOT NULL UNIQUE, record TEXT NOT NULL);
"""
_CHUNK = 500  # SQLite's host-parameter limit is 999 on old builds


class SqliteState:
    """One connection to a state file, serialised by a lock (every thread shares it)."""

    def __init__(self, path: str, *, exclusive: bool = True) -> None:
        self.path = path
        self._lock_fd: int | None = None
        try:
            if exclusive:
                self._lock_fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
                try:
                    fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    os.close(self._lock_fd)
                    raise BackendError(
                        f"--state {path!r} is in use by another crawl process"
                    ) from None
            self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise BackendError(f"cannot use --state {path!r}: {exc}") from None
        self.lock = threading.RLock()

    def transaction(self) -> Any:
        """``with state.transaction() as db:`` runs under the lock, in one ``BEGIN IMMEDIATE``."""
        return _Transaction(self)

    def meta(self, key: str) -> str | None:
        """One value of the ``meta`` table."""
        with self.lock:
            row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def counters(self) -> dict[str, int]:
        """Queued, in flight (leased) and recorded URLs, and how many were ever scheduled."""
        with self.lock:
            q = self.db.execute("SELECT leased, COUNT(*) FROM queue GROUP BY leased").fetchall()
            recorded = self.db.execute("SELECT COUNT(*) FROM records").fetchone()[0]
        counts = dict(q)
        scheduled = int(self.meta("scheduled") or 0)
        return {
            "scheduled": scheduled,
            "recorded": recorded,
            "queued": counts.get(0, 0),
            "leased": counts.get(1, 0),
        }

    def records(self) -> Iterator[Record]:
        """Every record, in the order they were stored."""
        with self.lock:
            rows = self.db.execute("SELECT record FROM records ORDER BY seq").fetchall()
        for (data,) in rows:
            yield decode_record(data)

    def close(self) -> None:
        """Close the connection, then release the file lock (closing it earlier would drop
        SQLite's own POSIX locks on the file)."""
        self.db.close()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None


class _Transaction:
    def __init__(self, state: SqliteState) -> None:
        self.state = state

    def __enter__(self) -> sqlite3.Connection:
        self.state.lock.acquire()
        self.state.db.execute("BEGIN IMMEDIATE")
        return self.state.db

    def __exit__(self, exc_type: object, *rest: object) -> None:
        try:
            self.state.db.execute("ROLLBACK" if exc_type else "COMMIT")
        finally:
            self.state.lock.release()


class SqliteVisited:
    """A read-only filter over the visited table; the claim happens in ``push_many``, in the
    same transaction as the enqueue, so a crash between the two cannot lose a URL."""

    def __init__(self, state: SqliteState) -> None:
        self.state = state

    def claim_many(self, keys: Sequence[bytes]) -> list[bytes]:
        """The keys not yet in the visited table."""
        known: set[bytes] = set()
        with self.state.lock:
            for i in range(0, len(keys), _CHUNK):
                chunk = list(keys[i : i + _CHUNK])
                marks = ",".join("?" * len(chunk))
                rows = self.state.db.execute(f"SELECT fp FROM seen WHERE fp IN ({marks})", chunk)
                known.update(row[0] for row in rows)
        return [key for key in keys if key not in known]


class SqliteFrontier:
    """A FIFO in the state file. Finished when nothing waits and nothing is in flight here."""

    def __init__(self, backend: SqliteBackend, sync: Sync, config: CrawlConfig) -> None:
        self.backend = backend
        self.state = backend.state
        self.budget = config.max_pages
        self._cond = sync.condition()
        self._in_flight = 0
        self._closed = False

    def push_many(self, requests: Iterable[Request]) -> int:
        """Claim and queue the requests not seen before, up to the ``max_pages`` budget."""
        items = [encode_request(r) for r in requests]
        with self._cond:
            if self._closed or not items:
                return 0
            with self.state.transaction() as db:
                row = db.execute("SELECT value FROM meta WHERE key = 'scheduled'").fetchone()
                scheduled = int(row[0]) if row else 0
                added = 0
                for item in items:
                    if self.budget is not None and scheduled + added >= self.budget:
                        break
                    if db.execute("INSERT OR IGNORE INTO seen VALUES (?)", (item[:16],)).rowcount:
                        db.execute("INSERT INTO queue (fp, item) VALUES (?, ?)", (item[:16], item))
                        added += 1
                db.execute(
                    "INSERT OR REPLACE INTO meta VALUES ('scheduled', ?)", (str(scheduled + added),)
                )
            if added:
                self._cond.notify_all()
            return added

    def pop(self) -> Request | None:
        """Lease the oldest waiting request; wait while others here are in flight."""
        with self._cond:
            while not (self._closed or self.backend.stopping):
                with self.state.transaction() as db:
                    row = db.execute(
                        "SELECT id, item FROM queue WHERE leased = 0 ORDER BY id LIMIT 1"
                    ).fetchone()
                    if row is not None:
                        db.execute("UPDATE queue SET leased = 1 WHERE id = ?", (row[0],))
                if row is not None:
                    self._in_flight += 1
                    return decode_request(row[1])
                if self._in_flight == 0:
                    return None
                # Bounded, so that a graceful stop (a flag set by a signal handler) is seen.
                self._cond.wait(0.5)
            return None

    def done(self, request: Request) -> None:
        """One request popped here is finished; its row goes when its record is stored."""
        with self._cond:
            self._in_flight -= 1
            if self._in_flight == 0:
                self._cond.notify_all()

    def close(self) -> None:
        """Hand out nothing more; queued requests stay in the file for the next run."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()


class SqliteRecordSink:
    """Stores each record and removes its URL from the queue table, in one transaction."""

    def __init__(self, state: SqliteState) -> None:
        self.state = state

    def write(self, record: Record) -> None:
        """Keep the record (first per URL wins); an ``interrupted`` page waits again instead."""
        key = record_key(record)
        with self.state.transaction() as db:
            if record.error == "interrupted":
                db.execute("UPDATE queue SET leased = 0 WHERE fp = ?", (key,))
                return
            db.execute(
                "INSERT OR IGNORE INTO records (fp, record) VALUES (?, ?)",
                (key, encode_record(record).decode()),
            )
            db.execute("DELETE FROM queue WHERE fp = ?", (key,))

    def close(self) -> None:
        """Nothing buffered: every write is committed."""


class SqliteBackend:
    """Crawl state in a SQLite file: the same crawl continues when run again."""

    name = "sqlite"
    shared = False
    durable = True

    def __init__(self, config: CrawlConfig) -> None:
        assert config.state is not None
        self.state = SqliteState(config.state)
        self.stopping = False
        try:
            with self.state.transaction() as db:
                # Anything leased by a previous run that crashed: it was in flight, queue it again.
                db.execute("UPDATE queue SET leased = 0 WHERE leased = 1")
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

    def frontier(self, config: CrawlConfig, sync: Sync) -> SqliteFrontier:
        """The queue table, waited on with the strategy's condition variable."""
        return SqliteFrontier(self, sync, config)

    def visited(self, config: CrawlConfig, sync: Sync) -> SqliteVisited:
        """The visited table."""
        return SqliteVisited(self.state)

    def host_clock(self, config: CrawlConfig, sync: Sync) -> Any:
        """One process per state file: the in-memory host clock is the crawl's."""
        from crawler.politeness import MemoryHostClock

        return MemoryHostClock(sync.condition(), delay=config.delay, per_host=config.per_host)

    def robots_cache(self, config: CrawlConfig, sync: Sync) -> Any:
        """robots.txt is fetched again after a restart (it may have changed meanwhile)."""
        from crawler.robots import MemoryRobotsCache

        return MemoryRobotsCache(sync.condition())

    def record_sink(self, config: CrawlConfig) -> SqliteRecordSink:
        """Records into the file (``crawl results --state FILE`` exports them)."""
        return SqliteRecordSink(self.state)

    def stop(self) -> None:
        """Pop nothing more; the pages in flight finish and are recorded."""
        self.stopping = True

    def close(self) -> None:
        """Close the file."""
        self.state.close()
