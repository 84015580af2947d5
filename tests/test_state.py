"""``--state FILE``: a one-machine crawl that survives SIGKILL and Ctrl-C (SQLite)."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess

import pytest

from crawler.strategies.inprocess import ThreadingSync
from tests.support.cli import invoke_cli
from tests.support.graph_site import GraphSite, start_worker, wait_until

pytestmark = pytest.mark.timeout(120)


def recorded(db: str) -> int:
    try:
        with sqlite3.connect(db) as conn:
            return conn.execute("SELECT COUNT(*) FROM records").fetchone()[0]
    except sqlite3.OperationalError:  # not created yet
        return 0


def export(db: str, tmp_path) -> tuple[list[dict], str]:
    out = tmp_path / "all.jsonl"
    done = invoke_cli("results", "--state", db, "-o", str(out))
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in out.read_text().splitlines()], done.stderr


def args(db: str, seed: str, *extra: str) -> list[str]:
    return ["--state", db, "--depth", "50", *extra, seed]


def rerun(arguments: list[str], out: str) -> subprocess.CompletedProcess:
    """The crawl run again to its end, in this process: a serial or threads crawl that no
    signal interrupts needs no process of its own (``start_worker`` runs the first one)."""
    return invoke_cli(*arguments, "-q", "-o", out)


@pytest.mark.parametrize("mode, in_flight", [("serial", 1), ("threads", 4)])
def test_sigkill_then_rerun_completes_and_refetches_only_pages_in_flight(tmp_path, mode, in_flight):
    db = str(tmp_path / "crawl.db")
    # Pages after the fifth are held: the kill comes while the crawl surely runs.
    with GraphSite(pages=40, hold_after=5) as site:
        extra = ["--mode", mode, "--workers", str(in_flight)]
        proc = start_worker(args(db, site.seed, *extra), str(tmp_path / "1.jsonl"))
        wait_until(lambda: recorded(db) >= 5, what="records in the state file")
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(30) == -signal.SIGKILL
        assert recorded(db) < site.pages
        site.release()
        again = rerun(args(db, site.seed, *extra), str(tmp_path / "2.jsonl"))
        assert again.returncode == 0, again.stderr
        counts = site.counts()
    records, summary = export(db, tmp_path)
    urls = [r["url"] for r in records]
    assert len(urls) == len(set(urls)) and set(urls) == site.all_urls()
    assert "40 records" in summary and "(complete)" in summary
    # Only the pages in flight at the kill (one per loop at most) may be fetched twice.
    assert len(counts) == site.pages and sum(n - 1 for n in counts.values()) <= in_flight


def test_ctrl_c_then_rerun_fetches_nothing_twice(tmp_path):
    db = str(tmp_path / "crawl.db")
    # Pages after the fifth are held until the Ctrl-C is sent (the page in flight then ends).
    with GraphSite(pages=30, latency=0.02, hold_after=5) as site:
        proc = start_worker(args(db, site.seed), str(tmp_path / "1.jsonl"))
        wait_until(lambda: recorded(db) >= 5, what="records in the state file")
        proc.send_signal(signal.SIGINT)
        site.release()
        assert proc.wait(30) == 130
        first = [json.loads(line) for line in (tmp_path / "1.jsonl").read_text().splitlines()]
        assert first and all(r["error"] is None for r in first)  # in flight: finished, kept
        assert recorded(db) == len(first) < site.pages
        again = rerun(args(db, site.seed), str(tmp_path / "2.jsonl"))
        assert again.returncode == 0, again.stderr
        counts = site.counts()
    assert len(counts) == site.pages and set(counts.values()) == {1}
    records, _ = export(db, tmp_path)
    assert sorted(r["url"] for r in records) == sorted(site.all_urls())


def test_state_file_in_use_or_with_other_scope_is_refused(tmp_path):
    db = str(tmp_path / "crawl.db")
    # Pages after the first are held until the SIGINT: the first crawl is still running when
    # the second one is refused, however slowly a loaded machine starts processes.
    with GraphSite(pages=30, latency=0.02, hold_after=1) as site:
        running = start_worker(args(db, site.seed), str(tmp_path / "1.jsonl"))
        wait_until(lambda: recorded(db) >= 1, what="records in the state file")
        # The refused ones in this process: they stop before any crawl begins.
        second = invoke_cli(*args(db, site.seed), "-q", "-o", "-")
        assert second.returncode == 2
        assert "is in use by another crawl process" in second.stderr
        running.send_signal(signal.SIGINT)
        site.release()
        assert running.wait(30) == 130
        other = invoke_cli("--state", db, "--depth", "1", "-q", "-o", "-", site.seed)
        assert other.returncode == 2
        err = other.stderr.strip()
    assert "\n" not in err and "--depth is 50 in this crawl but 1 here" in err


def test_backend_and_state_are_exclusive(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    done = invoke_cli(
        "--state", "x.db", "--backend", "redis://h/0", "-q", "-o", "-", "http://a.test/"
    )
    assert done.returncode == 2
    assert "exclusive" in done.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_copy_in_another_process_reads_the_visited_set_without_the_lock(tmp_path):
    import pickle

    from crawler.backends.sqlite.backend import SqliteBackend
    from crawler.base import Request
    from crawler.config import CrawlConfig
    from crawler.links.urls import fingerprint

    config = CrawlConfig(state=str(tmp_path / "crawl.db"))
    owner = SqliteBackend(config)
    try:
        frontier = owner.frontier(config, ThreadingSync())
        assert frontier.push_many([Request("http://a.test/x")]) == 1
        frontier.close()
        assert frontier.push_many([Request("http://a.test/y")]) == 1  # kept after close
        copy = pickle.loads(pickle.dumps(owner))  # what a spawned manager process gets
        visited = pickle.loads(pickle.dumps(copy.visited(config, ThreadingSync())))
        keys = [fingerprint(u) for u in ("http://a.test/x", "http://a.test/y", "http://a.test/z")]
        assert visited.claim_many(keys) == keys[2:]
        copy.close()
    finally:
        owner.close()


@pytest.mark.parametrize("extra", [["--mode", "processes", "--workers", "2"], ["--mode", "gevent"]])
def test_resumed_in_another_mode_the_crawl_picks_up_what_was_left_queued(tmp_path, extra):
    db = str(tmp_path / "crawl.db")
    # Pages after the fifth are held until the Ctrl-C is sent (the page in flight then ends).
    with GraphSite(pages=30, latency=0.02, hold_after=5) as site:
        proc = start_worker(args(db, site.seed), str(tmp_path / "1.jsonl"))
        wait_until(lambda: recorded(db) >= 5, what="records in the state file")
        proc.send_signal(signal.SIGINT)
        site.release()
        assert proc.wait(30) == 130
        # The seed is already claimed: the queued rows are the only work left.
        again = start_worker(args(db, site.seed, *extra), str(tmp_path / "2.jsonl"))
        assert again.wait(60) == 0, again.stderr.read()
        counts = site.counts()
    assert len(counts) == site.pages and set(counts.values()) == {1}
    second = (tmp_path / "2.jsonl").read_text().splitlines()
    assert second, "the resumed run did no work"
    records, summary = export(db, tmp_path)
    assert sorted(r["url"] for r in records) == sorted(site.all_urls()) and "(complete)" in summary
