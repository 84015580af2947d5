"""The ``--state`` frontier: queued requests are rows of the state file, handed out in their
hosts' ready order.

One process uses a state file at a time, so the ready order and the host timing live in this
process (``crawler/politeness/ready.py``, ``schedule.py``), rebuilt from the table when a crawl
resumes (start times are this run's clock: a resumed crawl starts every host afresh). Each
host's rows are read breadth-first through the ``(host, leased, depth, id)`` index; a pop
writes nothing (its lease is kept in memory, ``leases.py``), and the counts ``snapshot``
reports are kept here, so neither costs more with 10 M rows queued than with 100 k.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from typing import Any

from crawler.backends.codec import decode_request, encode_request
from crawler.backends.sqlite.state import SqliteState
from crawler.base import Request
from crawler.config import CrawlConfig
from crawler.politeness.ready import ReadyOrder
from crawler.politeness.schedule import HostSchedule, host_key

# Bounded waits: a safety net should a close (Ctrl-C, a signal handler) miss a waiter.
_WAIT_SLICE = 0.5


class SqliteFrontier:
    """Queues per host in the state file. Finished when nothing waits and nothing is in
    flight here."""

    def __init__(
        self, state: SqliteState, condition: Any, schedule: HostSchedule, config: CrawlConfig
    ) -> None:
        self.state = state
        self.budget = config.max_pages
        self.host_budget = config.max_pages_per_host
        self.schedule = schedule
        self._cond = condition
        self._order = ReadyOrder(schedule)
        self._in_flight = 0
        self.closed = False
        with state.lock:
            rows = state.db.execute(
                "SELECT host, COUNT(*) FROM queue WHERE leased = 0 GROUP BY host"
            ).fetchall()
        self._waiting: dict[str, int] = dict(rows)  # rows not leased, per host
        self._queued = sum(self._waiting.values())
        for host in self._waiting:
            self._order.add(host)

    def push_many(self, requests: Iterable[Request]) -> int:
        """Claim and queue the requests not seen before, within the ``max_pages`` and
        ``max_pages_per_host`` budgets (the URLs beyond a host's are counted as skipped)."""
        # Accepted even after ``close``: a page still in flight must keep the links it found.
        items = [(encode_request(r), host_key(r.url), r.depth) for r in requests]
        if not items:
            return 0
        with self._cond:
            added: dict[str, int] = {}
            with self.state.transaction() as db:
                scheduled = int(_meta(db, "scheduled"))
                skipped = 0
                total = 0
                for item, host, depth in items:
                    if self.budget is not None and scheduled + total >= self.budget:
                        break
                    fp = item[:16]
                    if not db.execute("INSERT OR IGNORE INTO seen VALUES (?)", (fp,)).rowcount:
                        continue
                    if self.host_budget is not None and not _within(db, host, self.host_budget):
                        skipped += 1
                        continue
                    db.execute(
                        "INSERT INTO queue (fp, item, host, depth) VALUES (?, ?, ?, ?)",
                        (item[:16], item, host, depth),
                    )
                    added[host] = added.get(host, 0) + 1
                    total += 1
                db.execute(
                    "INSERT OR REPLACE INTO meta VALUES ('scheduled', ?)", (str(scheduled + total),)
                )
                if skipped:
                    db.execute(
                        "INSERT OR REPLACE INTO meta VALUES ('skipped', ?)",
                        (str(int(_meta(db, "skipped")) + skipped),),
                    )
            self._queued += total
            for host, n in added.items():
                self._waiting[host] = self._waiting.get(host, 0) + n
                self._order.add(host)
            if added:
                self._cond.notify_all()
            return total

    def pop(self, timeout: float | None = None) -> Request | None:
        """Lease the next request whose host may start now (breadth-first within the host);
        wait while no host is ready or others here are in flight."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while not self.closed:
                now = time.monotonic()
                host, wait = self._order.take(now)
                if host is not None:
                    request = self._lease(host, now)
                    if request is not None:
                        return request
                    continue
                if not self._waiting and self._in_flight == 0:
                    return None
                if deadline is not None:
                    if deadline <= now:
                        return None
                    wait = min(wait, deadline - now)
                self._cond.wait(min(wait, _WAIT_SLICE) if not math.isinf(wait) else _WAIT_SLICE)
            return None

    def _lease(self, host: str, now: float) -> Request | None:
        leases = self.state.leases
        with self.state.lock:
            # The host's first rows, breadth-first: one more than it has in flight, so one of
            # them is not (a lease is not marked in the file).
            taken = leases.of_host(host)
            rows = self.state.db.execute(
                "SELECT id, item FROM queue WHERE host = ? AND leased = 0 "
                "ORDER BY depth, id LIMIT ?",
                (host, len(taken) + 1),
            ).fetchall()
            row = next((row for row in rows if row[0] not in taken), None)
            if row is not None:
                leases.add(row[1][:16], host, row[0])
                self._queued -= 1
        left = self._waiting.get(host, 0) - 1 if row is not None else 0
        if left > 0:
            self._waiting[host] = left
        else:
            self._waiting.pop(host, None)
        if row is None:  # the count was stale: nothing of this host waits
            self._order.handed_out(host, False)
            return None
        self.schedule.hand_out(host, now)
        self._order.handed_out(host, left > 0)
        self._in_flight += 1
        return decode_request(row[1])

    def done(self, request: Request, ago: float = 0.0) -> None:
        """One request popped here is finished, its last request ``ago`` seconds ago; its row
        goes when its record is stored."""
        host = host_key(request.url)
        with self._cond:
            self._in_flight -= 1
            self.schedule.finish(host, time.monotonic() - ago)
            if self._order.finished(host) or self._in_flight == 0:
                self._cond.notify_all()

    def close(self) -> None:
        """Hand out nothing more; queued requests stay in the file for the next run."""
        with self._cond:
            self.closed = True
            self._cond.notify_all()

    def snapshot(self) -> dict[str, int]:
        """Queued (counted when the file was opened, then kept), in flight (popped here, not
        done), skipped (in the file)."""
        with self._cond:
            queued, in_flight = self._queued, self._in_flight
        return {
            "queued": queued,
            "in_flight": in_flight,
            "skipped": int(self.state.meta("skipped") or 0),
        }


def _meta(db: Any, key: str) -> str:
    row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return row[0] if row else "0"


def _within(db: Any, host: str, budget: int) -> bool:
    """Count one more page for ``host`` if it is still within ``budget``."""
    row = db.execute("SELECT accepted FROM hosts WHERE host = ?", (host,)).fetchone()
    accepted = row[0] if row else 0
    if accepted >= budget:
        return False
    db.execute("INSERT OR REPLACE INTO hosts VALUES (?, ?)", (host, accepted + 1))
    return True
