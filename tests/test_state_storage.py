"""The ``--state`` file's storage at scale: leases in memory, counts without scans, bounded
page cache, streamed export, and files written by the previous release."""

from __future__ import annotations

import sqlite3

from crawler.backends.codec import encode_request
from crawler.backends.sqlite.backend import SqliteBackend
from crawler.backends.sqlite.state import CACHE_KIB, SqliteState
from crawler.base import Request
from crawler.config import CrawlConfig
from crawler.record import Record
from crawler.strategies.inprocess import ThreadingSync


def opened(path: str) -> tuple[SqliteBackend, object, object]:
    # robots.txt ignored: a host's pages are handed out together, not its first one alone.
    config = CrawlConfig(state=path, robots=False)
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


# The schema of the previous release (queue rows marked leased; a UNIQUE index on ``fp``).
_OLD_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE seen (fp BLOB PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE queue (
    id INTEGER PRIMARY KEY AUTOINCREMENT, fp BLOB NOT NULL UNIQUE, item BLOB NOT NULL,
    leased INTEGER NOT NULL DEFAULT 0, host TEXT NOT NULL DEFAULT '',
    depth INTEGER NOT NULL DEFAULT 0);
CREATE TABLE hosts (host TEXT PRIMARY KEY, accepted INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE records (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, fp BLOB NOT NULL UNIQUE, record TEXT NOT NULL);
CREATE INDEX queue_by_host ON queue (host, leased, depth, id);
"""


def test_a_file_of_the_previous_release_opens_and_its_leased_rows_are_queued_again(tmp_path):
    path = str(tmp_path / "old.db")
    with sqlite3.connect(path) as db:  # a crawl of the previous release that crashed
        db.executescript(_OLD_SCHEMA)
        db.execute("INSERT INTO meta VALUES ('scheduled', '3')")
        for leased, request in zip((1, 1, 0), urls(3), strict=True):
            item = encode_request(request)
            db.execute("INSERT INTO seen VALUES (?)", (item[:16],))
            db.execute(
                "INSERT INTO queue (fp, item, leased, host) VALUES (?, ?, ?, 'a.test')",
                (item[:16], item, leased),
            )
    backend, frontier, sink = opened(path)
    try:
        assert frontier.snapshot()["queued"] == 3
        popped = [frontier.pop(timeout=0) for _ in range(3)]
        assert {r.url for r in popped} == {r.url for r in urls(3)}
        for request in popped:
            sink.write(Record(url=request.url, status=200))
            frontier.done(request)
        assert frontier.pop(timeout=0) is None
        assert frontier.push_many(urls(4)) == 1  # its visited set holds
    finally:
        backend.close()
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT COUNT(*) FROM queue").fetchone()[0] == 1
        assert db.execute("SELECT COUNT(*) FROM records").fetchone()[0] == 3


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


def test_a_new_file_indexes_its_queue_by_host_only(tmp_path):
    state = SqliteState(str(tmp_path / "crawl.db"))
    try:
        indexes = [row[1] for row in state.db.execute("PRAGMA index_list(queue)")]
    finally:
        state.close()
    # No index of the fingerprints there: the visited table keeps URLs unique, rows leave by id.
    assert indexes == ["queue_by_host"]


def test_the_visited_count_agrees_with_the_table_without_reading_it(tmp_path):
    path = str(tmp_path / "crawl.db")
    config = CrawlConfig(state=path, max_pages_per_host=2)
    backend = SqliteBackend(config)
    try:
        frontier = backend.frontier(config, ThreadingSync())
        visited = backend.visited(config, ThreadingSync())
        assert frontier.push_many(urls(3) + urls(1, "b.test")) == 3  # a.test/2 is skipped
        statements: list[str] = []
        backend.state.db.set_trace_callback(statements.append)
        assert len(visited) == 4
        backend.state.db.set_trace_callback(None)
        assert not [sql for sql in statements if "seen" in sql]
        assert backend.state.db.execute("SELECT COUNT(*) FROM seen").fetchone()[0] == 4
    finally:
        backend.close()
