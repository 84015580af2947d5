"""A SQLite state file: schema, one lock-serialised connection, transactions, export."""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
from collections.abc import Iterator
from typing import Any

from crawler.backends.codec import decode_record
from crawler.backends.sqlite.leases import Leases
from crawler.errors import BackendError
from crawler.record import Record

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS seen (fp BLOB PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS queue (
    id INTEGER PRIMARY KEY AUTOINCREMENT, fp BLOB NOT NULL, item BLOB NOT NULL,
    leased INTEGER NOT NULL DEFAULT 0, host TEXT NOT NULL DEFAULT '',
    depth INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS hosts (host TEXT PRIMARY KEY, accepted INTEGER NOT NULL)
    WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS records (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, fp BLOB NOT NULL UNIQUE, record TEXT NOT NULL);
"""
# ``queue.fp`` has no index: the visited table already keeps each URL queued once, and a row
# leaves by its id (``leases.py``), so an index of random keys (one more page written per
# push and per record, at 10 M rows never in the cache) would serve nothing. Files of earlier
# releases keep theirs (``UNIQUE``), which costs them that page and nothing else.
_ADDED_COLUMNS = ("host TEXT NOT NULL DEFAULT ''", "depth INTEGER NOT NULL DEFAULT 0")
CHUNK = 500  # SQLite's host-parameter limit is 999 on old builds
# The crawl's own connection caches up to this many KiB of pages: enough for the hot pages of a
# 10 M-URL file (index interiors, each host's queue head and tail), and a bound on RSS whatever
# the file's size. The OS caches the rest of the file outside this process's RSS (no mmap:
# mapped pages would count in it). Other connections (page states, a helper process's visited
# filter) keep SQLite's default (2 MiB each).
CACHE_KIB = 64 * 1024
# The WAL is moved into the file every this many pages (32 MiB; SQLite's default is 1000
# pages, 4 MiB): a hot page (a host's queue tail, the counters) changed by many commits is
# written once per checkpoint, and the checkpoint's fsync comes 8 times less often.
CHECKPOINT_PAGES = 8192
# Records read per query by ``records``: an export streams a file of any size.
_PAGE = 1000


class SqliteState:
    """One connection to a state file, serialised by a lock (every thread shares it)."""

    def __init__(self, path: str, *, exclusive: bool = True) -> None:
        self.path = path
        self._lock_fd: int | None = None
        db: sqlite3.Connection | None = None
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
            db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            # Every connection (a page-state write checkpoints as the crawl's own would).
            db.execute(f"PRAGMA wal_autocheckpoint = {CHECKPOINT_PAGES}")
            if exclusive:
                db.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
            db.executescript(_SCHEMA)
            columns = {row[1] for row in db.execute("PRAGMA table_info(queue)")}
            for column in _ADDED_COLUMNS:
                if column.split()[0] not in columns:  # a file from before the host columns
                    db.execute(f"ALTER TABLE queue ADD COLUMN {column}")
            # Each host's queue, breadth-first: what the frontier's pop reads.
            db.execute(
                "CREATE INDEX IF NOT EXISTS queue_by_host ON queue (host, leased, depth, id)"
            )
        except (OSError, sqlite3.Error) as exc:
            # Not a database, a read-only directory...: release the lock taken above, or the
            # file stays locked (and the descriptor open) for the rest of this process.
            if db is not None:
                db.close()
            self._unlock()
            raise BackendError(f"cannot use --state {path!r}: {exc}") from None
        self.db = db
        self.lock = threading.RLock()
        self.leases = Leases()  # the rows this process handed out, not yet recorded

    def transaction(self) -> Any:
        """``with state.transaction() as db:`` runs under the lock, in one ``BEGIN IMMEDIATE``."""
        return _Transaction(self)

    def meta(self, key: str) -> str | None:
        """One value of the ``meta`` table."""
        with self.lock:
            row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def counters(self) -> dict[str, int]:
        """Queued, in flight (leased) and recorded URLs, and how many were ever scheduled.
        Counts every row (``crawl results``' summary): a running crawl's frontier keeps its
        own counts instead."""
        with self.lock:
            q = self.db.execute("SELECT leased, COUNT(*) FROM queue GROUP BY leased").fetchall()
            recorded = self.db.execute("SELECT COUNT(*) FROM records").fetchone()[0]
        counts = dict(q)
        scheduled = int(self.meta("scheduled") or 0)
        return {
            "scheduled": scheduled,
            "recorded": recorded,
            "queued": counts.get(0, 0) + counts.get(1, 0) - len(self.leases),
            "leased": len(self.leases),
        }

    def records(self) -> Iterator[Record]:
        """Every record, in the order they were stored, read ``_PAGE`` at a time (a crawl of
        10 M pages is never in memory at once)."""
        after = -1
        while True:
            with self.lock:
                rows = self.db.execute(
                    "SELECT seq, record FROM records WHERE seq > ? ORDER BY seq LIMIT ?",
                    (after, _PAGE),
                ).fetchall()
            for _seq, data in rows:
                yield decode_record(data)
            if len(rows) < _PAGE:
                return
            after = rows[-1][0]

    def close(self) -> None:
        """Close the connection, then release the file lock (closing it earlier would drop
        SQLite's own POSIX locks on the file)."""
        self.db.close()
        self._unlock()

    def _unlock(self) -> None:
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
