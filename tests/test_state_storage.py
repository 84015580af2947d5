"""The ``--state`` file's storage at scale: leases in memory, counts without scans, bounded
page cache, streamed export, and files written by the previous release."""

from __future__ import annotations

import sqlite3

from crawler.backends.sqlite.backend import SqliteBackend
from crawler.backends.sqlite.state import CACHE_KIB, SqliteState
from crawler.base import Request
from crawler.config import CrawlConfig
from crawler.record import Record
from crawler.strategies.inprocess import ThreadingSync


def opened(path: str) -> tuple[SqliteBackend, object, object]:
    config = CrawlConfig(state=path)
    backend = SqliteBackend(config)
    return backend, backend.frontier(config, ThreadingSync()), backend.record_sink(config)


def urls(n: int, host: str = "a.test") -> list[Request]:
    return [Request(f"http://{host}/{i}") for i in range(n)]


def test_a_pop_writes_nothing_and_a_crash_hands_its_page_out_again(tmp_path):
    path = str(tmp_path / "crawl.db")
    backend, frontier, sink = opened(path)
    assert frontier.push_many(urls(3)) == 3
    changes = backend.state.db.total_changes
    first, second = frontier.pop(timeout=0), frontier.pop(timeout=0)
    assert backend.state.db.total_changes == changes  # a lease is not a write
    assert first.url != second.url  # nor is a leased row handed out twice
    sink.write(Record(url=first.url, status=200))
    frontier.done(first)
    backend.close()  # a crash: ``second`` was in flight, its record never stored

    backend, frontier, sink = opened(path)
    try:
        again = {frontier.pop(timeout=0).url, frontier.pop(timeout=0).url}
        assert again == {second.url, "http://a.test/2"}
        assert frontier.pop(timeout=0) is None
    finally:
        backend.close()


def test_a_file_of_the_previous_release_with_leased_rows_opens_and_queues_them(tmp_path):
    path = str(tmp_path / "old.db")
    backend, frontier, _ = opened(path)
    frontier.push_many(urls(2))
    backend.close()
    with sqlite3.connect(path) as db:  # as the previous release left a crash: rows marked
        db.execute("UPDATE queue SET leased = 1")
        db.execute("DELETE FROM meta WHERE key = 'leases'")
    backend, frontier, _ = opened(path)
    try:
        assert frontier.snapshot()["queued"] == 2
        assert {frontier.pop(timeout=0).url, frontier.pop(timeout=0).url} == {
            "http://a.test/0",
            "http://a.test/1",
        }
    finally:
        backend.close()


def test_snapshot_counts_without_reading_the_queue(tmp_path):
    backend, frontier, sink = opened(str(tmp_path / "crawl.db"))
    try:
        frontier.push_many(urls(5) + urls(5, "b.test"))
        popped = frontier.pop(timeout=0)
        statements: list[str] = []
        backend.state.db.set_trace_callback(statements.append)
        counts = frontier.snapshot()
        backend.state.db.set_trace_callback(None)
        assert (counts["queued"], counts["in_flight"]) == (9, 1)
        assert not [sql for sql in statements if "queue" in sql]  # O(1) at any queue size
        sink.write(Record(url=popped.url, status=200))
        frontier.done(popped)
        assert (frontier.snapshot()["queued"], frontier.snapshot()["in_flight"]) == (9, 0)
    finally:
        backend.close()


def test_the_crawl_connection_bounds_its_page_cache(tmp_path):
    state = SqliteState(str(tmp_path / "crawl.db"))
    try:
        assert state.db.execute("PRAGMA cache_size").fetchone()[0] == -CACHE_KIB
        assert state.db.execute("PRAGMA mmap_size").fetchone()[0] == 0  # mapped pages are RSS
    finally:
        state.close()


def test_an_export_streams_every_record_in_order(tmp_path):
    path = str(tmp_path / "crawl.db")
    backend, frontier, sink = opened(path)
    try:
        frontier.push_many(urls(2500))
        while (request := frontier.pop(timeout=0)) is not None:
            sink.write(Record(url=request.url, status=200))
            frontier.done(request)
    finally:
        backend.close()
    reader = SqliteState(path, exclusive=False)
    try:
        got = [record.url for record in reader.records()]
        assert reader.counters()["queued"] == 0
    finally:
        reader.close()
    assert len(got) == 2500 and len(set(got)) == 2500
    assert got[:2] == ["http://a.test/0", "http://a.test/1"]
