"""Scheduling by host, measured at the server: no loop sleeps on one host while another is
ready; Crawl-delay capped; Retry-After holds a whole host under --auto-throttle; a per-host
page budget."""

import json
import os
import signal
import subprocess
import time

import pytest

from tests.support.cli import cli_records, start_cli
from tests.support.crawl_process import wait_until
from tests.support.helpers import run_crawl
from tests.support.many_hosts import ManyHosts, address, politeness_report
from tests.support.spacing import LATE_S


@pytest.mark.timeout(60)
def test_one_loop_crawls_a_list_sorted_by_host_at_every_hosts_pace_at_once():
    # One FIFO made the single loop sleep out each host's delays in turn: 8 hosts x 3 gaps x
    # 0.4 s = 9.6 s. Scheduled by host, the hosts' delays run side by side: ~3 gaps.
    with ManyHosts(8, 4) as site:
        records, stats = run_crawl(site.urls("sorted"), delay=0.4)
        report = politeness_report(site.stats(), 0.4)
    assert len(records) == 32 and all(r.ok for r in records)
    assert report["behind"] <= LATE_S, report
    assert report["min_gap"] >= 0.35, report  # gap by gap: the delay counts from a page's end
    assert stats.wall_s < 4.0, stats.wall_s


@pytest.mark.timeout(60)
@pytest.mark.parametrize("mode", ["serial", "threads", "processes", "processes-greenlets"])
def test_one_loop_reads_every_hosts_robots_txt_before_waiting_out_a_crawl_delay(mode):
    # robots.txt takes the start booked for a host's first page, and its Crawl-delay then
    # holds the page a delay from its end: the loop holds the page (a processes child gives it
    # back to its parent) and goes on with the other hosts instead of sleeping that delay out
    # host after host (6 hosts: 6 s before).
    options = {"mode": mode, "workers": 1}
    if mode == "processes-greenlets":
        options.update(mode="processes", greenlets=1)
    with ManyHosts(6, 2, crawl_delay=1.0) as site:
        records, _ = run_crawl(site.urls("sorted"), robots=True, **options)
        stats = site.stats()
        report = politeness_report(stats, 1.0)
    assert len(records) == 12 and all(r.ok for r in records)
    arrivals = sorted((t, path) for hits in stats["arrivals"].values() for t, path in hits)
    assert [path for _, path in arrivals[:6]] == ["/robots.txt"] * 6, arrivals
    assert report["robots_wrong"] == [] and report["duplicates"] == 0, report
    assert report["behind"] <= LATE_S and report["min_gap"] >= 1.0 - 0.05, report
    assert report["peak"] == 1


@pytest.mark.timeout(60)
@pytest.mark.parametrize("mode", ["serial", "threads", "gevent", "processes"])
def test_ctrl_c_records_the_pages_held_for_their_hosts_turn_at_once(mode, tmp_path):
    # With a 30 s Crawl-delay each host's first page is held after its robots.txt: Ctrl-C then
    # writes their records and exits, it does not wait out the delay for each.
    out = tmp_path / "records.jsonl"
    with ManyHosts(3, 2, crawl_delay=30) as site:
        source = tmp_path / "urls.txt"
        source.write_text("\n".join(site.urls("sorted")) + "\n")
        robots_read = lambda: sum(  # noqa: E731
            path == "/robots.txt" for hits in site.stats()["arrivals"].values() for _, path in hits
        )
        proc = start_cli(
            "--mode", mode, "--workers", "1", "-o", str(out), str(source),
            stderr=subprocess.PIPE, text=True, start_new_session=True,
        )  # fmt: skip
        try:
            assert wait_until(lambda: robots_read() == 3, timeout=20)
            os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
            _, stderr = proc.communicate(timeout=15)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        asked = sum(len(hits) for hits in site.stats()["arrivals"].values())
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert asked == 3  # robots.txt only: no page's turn came
    assert sorted(r["url"] for r in records) == sorted(site.urls("sorted")[::2])
    assert {r["error"] for r in records} == {"interrupted"}


@pytest.mark.timeout(60)
def test_a_huge_crawl_delay_is_capped_and_the_first_page_says_so():
    with ManyHosts(2, 3, crawl_delay=1_000_000_000) as site:
        records, _ = run_crawl(
            site.urls("sorted"), mode="threads", workers=4, robots=True, max_crawl_delay=0.3
        )
        report = politeness_report(site.stats(), 0.3)
    assert len(records) == 6 and all(r.ok for r in records)
    noted = [r for r in records if r.detail and "Crawl-delay" in r.detail]
    assert len(noted) == 2, [r.detail for r in records]  # one per host
    assert {r.url.split("/")[2] for r in noted} == {site.origin(i)[7:] for i in range(2)}
    assert noted[0].detail == "Crawl-delay 1e+09 s capped at 0.3 s"
    assert report["robots_wrong"] == [] and report["behind"] <= LATE_S, report


def _throttled_site(httpserver, retry_after: int = 2):
    """/a answers 429 with ``Retry-After``, /b and /c 200; the seeds, and where the server
    records each request's arrival."""
    hits: list[tuple[float, str]] = []

    def handler(status: int, headers: dict[str, str]):
        def respond(request):
            from werkzeug import Response

            hits.append((time.monotonic(), request.path))
            return Response("<title>x</title>", status=status, headers=headers)

        return respond

    httpserver.expect_request("/a").respond_with_handler(
        handler(429, {"Retry-After": str(retry_after)})
    )
    for path in ("/b", "/c"):
        httpserver.expect_request(path).respond_with_handler(handler(200, {}))
    return hits, [httpserver.url_for(p) for p in ("/a", "/b", "/c")]


@pytest.mark.timeout(60)
def test_auto_throttle_holds_the_whole_host_for_retry_after(httpserver):
    hits, seeds = _throttled_site(httpserver, retry_after=1)
    records, _ = run_crawl(seeds, retries=0, auto_throttle=True)
    assert [r.status for r in records] == [429, 200, 200]
    (t_a, _), (t_b, _), _ = sorted(hits)
    assert t_b - t_a >= 0.9  # not only /a: the next URL of the host waited too


@pytest.mark.timeout(60)
def test_without_auto_throttle_retry_after_is_the_urls_only(httpserver):
    hits, seeds = _throttled_site(httpserver)
    run_crawl(seeds, retries=0)
    (t_a, _), (t_b, _), _ = sorted(hits)
    assert t_b - t_a < 1.0


@pytest.mark.timeout(60)
@pytest.mark.parametrize("mode", ["serial", "threads"])
def test_max_pages_per_host_skips_the_rest_and_counts_them(mode, tmp_path):
    with ManyHosts(2, 6) as site:
        records, stats = run_crawl(
            site.urls("discovered"), mode=mode, depth=1, max_pages_per_host=3
        )
    assert len(records) == 6  # each host's / and two of its five links
    assert {r.url.split("/")[2] for r in records} == {site.origin(i)[7:] for i in range(2)}
    assert stats.skipped == 6
    assert "6 skipped" in stats.summary()


@pytest.mark.timeout(60)
def test_max_pages_per_host_holds_across_a_resumed_state_file(tmp_path):
    with ManyHosts(1, 6) as site:
        state = str(tmp_path / "crawl.db")
        records, stats = run_crawl(
            site.urls("discovered"), depth=1, max_pages_per_host=3, state=state
        )
    assert len(records) == 3 and stats.skipped == 3


@pytest.mark.timeout(60)
@pytest.mark.parametrize("mode", ["threads", "gevent"])
def test_the_loops_of_a_process_share_each_hosts_connection(mode, tmp_path):
    # With a delay a host's next page goes to whichever loop is free a delay later. With a
    # connection pool per loop, that loop seldom held the host's connection and most pages
    # opened a new one; the loops of a process share one pool per host.
    with ManyHosts(4, 6, latency=0.01) as site:
        mode, _, fetcher = mode.partition("-")
        options = {"mode": mode, "workers": 8, "delay": 0.05, "fetcher": fetcher or "urllib3"}
        if mode == "gevent":  # only ever in a subprocess: the test process is never patched
            (tmp_path / "urls.txt").write_text("\n".join(site.urls("sorted")) + "\n")
            args = [f"--{k}={v}" for k, v in options.items()]
            code, records, stderr = cli_records(
                *args, "--ignore-robots", str(tmp_path / "urls.txt")
            )
            assert code == 0, stderr
            ok = [r for r in records if r["error"] is None]
        else:
            found, _ = run_crawl(site.urls("sorted"), **options)
            ok = [r for r in found if r.ok]
        connections = site.stats()["connections"]
    assert len(ok) == 24
    assert connections == {address(i): 1 for i in range(4)}, connections


@pytest.mark.timeout(60)
def test_curl_loops_on_threads_never_share_a_connection():
    # libcurl does not support one connection cache used by concurrent threads: shared by the
    # loops of a threads crawl, it crashed the crawl now and then (SIGSEGV in libcurl's
    # Curl_cpool_find). Two loops of one process fetch one host in turn: two connections.
    from crawler.config import CrawlConfig
    from crawler.http.registry import open_connections, open_fetcher

    config = CrawlConfig(fetcher="curl", mode="threads", workers=2)
    with ManyHosts(1, 2) as site:
        connections = open_connections(config, loops=2)
        first, second = (open_fetcher(config, connections=connections) for _ in range(2))
        try:
            assert first.fetch(site.origin(0) + "/").status == 200
            assert second.fetch(site.origin(0) + "/").status == 200
        finally:
            first.close()
            second.close()
            connections.close()
        assert site.stats()["connections"] == {address(0): 2}


@pytest.mark.timeout(60)
def test_curl_loops_on_threads_keep_their_own_connections():
    # Each loop reuses its own connection to a host: a host's 16 pages, spread over the 4
    # loops by the delay, open at most one connection per loop.
    with ManyHosts(2, 16, latency=0.005) as site:
        found, _ = run_crawl(
            site.urls("sorted"), mode="threads", workers=4, delay=0.02, fetcher="curl"
        )
        connections = site.stats()["connections"]
    assert len([r for r in found if r.ok]) == 32
    assert all(1 <= n <= 4 for n in connections.values()), connections


@pytest.mark.timeout(120)
def test_processes_put_one_page_of_a_host_out_at_a_time_under_per_host_1():
    # The parent pops pages for its children. Kept on the host it popped last (as a loop that
    # fetched its page is), it sent a host's next page in the same hand-out as the one before:
    # two requests to the host at once, past --per-host 1.
    with ManyHosts(3, 4, latency=0.2) as site:
        records, _ = run_crawl(
            site.urls("sorted"), mode="processes", workers=1, greenlets=4, per_host=1
        )
        stats = site.stats()
    assert len(records) == 12 and all(r.ok for r in records)
    assert stats["peak"] == {address(i): 1 for i in range(3)}, stats["peak"]


@pytest.mark.timeout(120)
def test_processes_open_each_host_in_one_child():
    # Each child keeps its own connections: a host's pages go to the child that took its
    # first page. Handed to whichever child read the pool's queue first, most hosts were
    # opened in both.
    # --per-host 1: one page of a host at a time, so one connection is all it needs.
    with ManyHosts(12, 5, latency=0.02) as site:
        records, _ = run_crawl(
            site.urls("sorted"), mode="processes", workers=2, greenlets=4, per_host=1
        )
        connections = site.stats()["connections"]
    assert len(records) == 60 and all(r.ok for r in records)
    assert connections == {address(i): 1 for i in range(12)}, connections
