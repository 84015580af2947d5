"""One crawl shared by several worker processes through a real redis-server."""

from __future__ import annotations

import json
import pickle
import signal
import socket
import subprocess
import uuid

import pytest
import redis

from crawler.backends.redis.backend import RedisBackend
from crawler.backends.redis.frontier import CHUNK
from crawler.base import Request
from crawler.config import MODES as AVAILABLE_MODES
from crawler.config import CrawlConfig
from crawler.links.urls import canonical, fingerprint
from crawler.record import Record
from crawler.strategies.inprocess import ThreadingSync
from tests.support.cli import invoke_cli
from tests.support.graph_site import GraphSite, start_worker, wait_until

pytestmark = pytest.mark.timeout(120)


def crawl_args(redis_url: str, crawl_id: str, seed: str, mode: str = "serial") -> list[str]:
    # Leases of 3 s: short, so a killed worker's page comes back soon, but not so short that a
    # live worker's heartbeat, late on a loaded machine (CI: 4 test workers on 2 cores), lets
    # one expire and a page be fetched twice (each test here counts fetches server-side).
    args = ["--backend", redis_url, "--crawl-id", crawl_id, "--depth", "50", "--lease", "3"]
    args += ["--ignore-robots"]  # the manifest describes a robots-blind crawl
    args += ["--mode", mode, seed]
    return args + (["--workers", "4"] if mode != "serial" else [])


def modes(*wanted: str) -> list[str]:
    """The worker modes wanted, serial in place of one this checkout does not have."""
    return [mode if mode in AVAILABLE_MODES else "serial" for mode in wanted]


def stat(redis_url: str, crawl_id: str, name: str) -> int:
    client = redis.Redis.from_url(redis_url)
    return int(client.hget(f"crawl:{{{crawl_id}}}:stats", name) or 0)


def exported(redis_url: str, crawl_id: str, tmp_path) -> list[dict]:
    out = tmp_path / f"{crawl_id}-all.jsonl"
    done = invoke_cli("results", "--backend", redis_url, "--crawl-id", crawl_id, "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert "complete" in done.stderr
    return [json.loads(line) for line in out.read_text().splitlines()]


def finish(workers: list[subprocess.Popen], timeout: float = 60) -> list[int]:
    codes = []
    for proc in workers:
        try:
            codes.append(proc.wait(timeout))
        finally:
            if proc.poll() is None:
                proc.kill()
    return codes


def read_records(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def by_canonical(records: list[dict]) -> dict[str, dict]:
    table = {canonical(r["url"]): r for r in records}
    assert len(table) == len(records), "a URL produced more than one record"
    return table


@pytest.fixture(scope="module")
def fixture_site():
    """The fixture site, for the module's crawls."""
    from fixtures.site import SiteProcess

    with SiteProcess(pages=40, latency_ms=0, links=6, page_bytes=2000) as site:
        yield site


@pytest.fixture
def gated_site(fixture_site):
    """The fixture site, its counts reset, holding every request after the first ``HOLD_AFTER``
    until the test releases them (so signals land mid-crawl, and every worker takes part);
    released after the test whatever happens."""
    fixture_site.reset_counts()
    fixture_site.hold(after=HOLD_AFTER)
    try:
        yield fixture_site
    finally:
        fixture_site.release()


HOLD_AFTER = 6


def loops(worker_modes: list[str]) -> int:
    """The loops of workers started by ``crawl_args`` in ``worker_modes``."""
    return sum(1 if mode == "serial" else 4 for mode in worker_modes)


def test_three_workers_share_one_crawl(redis_url, gated_site, tmp_path):
    site = gated_site
    crawl_id = uuid.uuid4().hex
    outs = [tmp_path / f"w{i}.jsonl" for i in range(3)]
    worker_modes = modes("serial", "threads", "gevent")
    workers = [
        start_worker(crawl_args(redis_url, crawl_id, site.url, mode), str(out))
        for mode, out in zip(worker_modes, outs, strict=True)
    ]
    # Every loop of every worker at a held page: each worker takes part, however late it starts.
    wait_until(lambda: site.held() >= loops(worker_modes), what="every loop at a held page")
    site.release()
    codes = finish(workers)
    assert set(codes) <= {0, 1}, [w.stderr.read() for w in workers]  # 1: the site's 404s
    local = [read_records(out) for out in outs]
    # The union of the workers' own files is the whole site, one record per page...
    union = by_canonical([r for records in local for r in records])
    manifest = site.manifest()["pages"]
    assert set(union) == set(manifest)
    for url, expected in manifest.items():
        assert (union[url]["status"], union[url]["error"]) == (
            expected["status"],
            expected["error"],
        ), url
    # ... each page was requested once, server-side ...
    counts = site.counts()
    assert set(counts.values()) == {1} and sum(counts.values()) == len(union)
    shares = [len(records) for records in local]
    assert all(shares), f"the work was not shared: {shares}"
    # Several machines may share a crawl: each record names the host of its worker.
    host = socket.gethostname()
    assert all(r["worker"].startswith(f"{host}:") for records in local for r in records)
    # ... and `crawl results` exports the same crawl from Redis.
    assert by_canonical(exported(redis_url, crawl_id, tmp_path)).keys() == union.keys()


def test_sigkill_one_worker_mid_crawl_loses_nothing(redis_url, gated_site, tmp_path):
    site = gated_site
    crawl_id = uuid.uuid4().hex
    worker_modes = modes("serial", "threads", "gevent")
    workers = [
        start_worker(crawl_args(redis_url, crawl_id, site.url, mode), str(tmp_path / f"{i}"))
        for i, mode in enumerate(worker_modes)
    ]
    # Kill the serial worker once every loop is at a held page: it has a page in flight.
    wait_until(lambda: site.held() >= loops(worker_modes), what="every loop at a held page")
    workers[0].send_signal(signal.SIGKILL)
    assert workers[0].wait(30) == -signal.SIGKILL
    site.release()
    codes = finish(workers)
    counts = site.counts()
    assert codes[0] == -signal.SIGKILL and set(codes[1:]) <= {0, 1}
    records = by_canonical(exported(redis_url, crawl_id, tmp_path))
    assert set(records) == set(site.manifest()["pages"])
    # Only the page the killed serial worker had in flight may have been fetched again.
    assert sum(counts.values()) - len(records) <= 1, counts


def test_ctrl_c_every_worker_then_resume_fetches_nothing_twice(redis_url, tmp_path):
    crawl_id = uuid.uuid4().hex
    # Pages after the eighth are held until the Ctrl-C is sent (the pages in flight then end).
    with GraphSite(pages=80, latency=0.02, hold_after=8) as site:
        first_modes = modes("serial", "threads", "gevent")
        first = [
            start_worker(crawl_args(redis_url, crawl_id, site.seed, mode), str(tmp_path / mode))
            for mode in first_modes
        ]
        wait_until(lambda: stat(redis_url, crawl_id, "recorded") >= 8, what="records")
        # Every loop of every worker at a held page: each one is crawling (its Ctrl-C handled
        # as a crawl's, not as an interpreter's still starting) and has a page in flight.
        loops = sum(1 if mode == "serial" else 4 for mode in first_modes)
        wait_until(lambda: site.held >= loops, what="every loop at a held page")
        for proc in first:
            proc.send_signal(signal.SIGINT)
        site.release()
        assert finish(first) == [130, 130, 130]
        stopped_at = stat(redis_url, crawl_id, "recorded")
        assert stopped_at < site.pages, "the crawl finished before Ctrl-C"
        # Resumed in other modes: a process pool (it leases pages in batches) and gevent.
        second = [
            start_worker(crawl_args(redis_url, crawl_id, site.seed, mode), str(tmp_path / f"b{i}"))
            for i, mode in enumerate(modes("processes", "gevent"))
        ]
        assert finish(second) == [0, 0]
        counts = site.counts()
    assert len(counts) == site.pages and set(counts.values()) == {1}
    records = exported(redis_url, crawl_id, tmp_path)
    assert sorted(r["url"] for r in records) == sorted(site.all_urls())


def test_heartbeat_keeps_a_slow_page_leased(redis_url, tmp_path):
    # Pages take 1.6 s, leases last 0.8 s: only the heartbeat (every lease / 3) keeps a page
    # from being handed to the other worker while it is still being fetched. (A 0.5 s lease let
    # a heartbeat late on a loaded machine lose one.)
    crawl_id = uuid.uuid4().hex
    # Two pages, one after the other (p0 links to p1): while one worker fetches, the other is
    # idle and asking for work, twice.
    with GraphSite(pages=2, latency=1.6) as site:
        args = ["--backend", redis_url, "--crawl-id", crawl_id, "--depth", "5", "--lease", "0.8"]
        workers = [start_worker([*args, site.seed], str(tmp_path / f"{i}")) for i in range(2)]
        assert finish(workers) == [0, 0]
        counts = site.counts()
    assert len(counts) == site.pages and set(counts.values()) == {1}, counts
    assert stat(redis_url, crawl_id, "requeued") == 0


def test_a_worker_with_other_scope_options_is_refused(redis_url, tmp_path):
    crawl_id = uuid.uuid4().hex
    with GraphSite(pages=3) as site:  # in this process: a serial crawl, then a refusal
        done = invoke_cli(*crawl_args(redis_url, crawl_id, site.seed), "-q", "-o", "-")
        assert done.returncode == 0, done.stderr
        other = invoke_cli(
            "--backend", redis_url, "--crawl-id", crawl_id, "--depth", "2", site.seed
        )
        assert other.returncode == 2
        err = other.stderr.strip()
    assert err.count("\n") == 0 and "--depth is 50 in this crawl but 2 here" in err


def test_unreachable_redis_is_one_line_and_exit_2(tmp_path):
    args = ["--backend", "redis://127.0.0.1:1/0", "--backend-retry", "0", "http://127.0.0.1:1/"]
    done = invoke_cli(*args, "-q", "-o", "-")  # refused before any crawl: in this process
    assert done.returncode == 2
    err = done.stderr.strip()
    assert err.startswith("crawl: error: cannot use redis") and "\n" not in err


def test_expired_lease_is_requeued_and_one_record_wins(redis_url):
    config = CrawlConfig(backend=redis_url, crawl_id=uuid.uuid4().hex, lease_seconds=0.5)
    dead, alive = RedisBackend(config), pickle.loads(pickle.dumps(RedisBackend(config)))
    try:
        sync = ThreadingSync()
        lost = dead.frontier(config, sync)
        assert lost.push_many([Request("http://a.test/x")]) == 1
        assert lost.push_many([Request("http://a.test/x")]) == 0  # claimed already
        taken = lost.pop()
        dead._heartbeat.stop()  # this "worker" dies: its heartbeat stops renewing the lease
        # The other worker waits for the lease to expire, then gets the URL again.
        again = alive.frontier(config, sync).pop()
        assert again == taken
        sink = alive.record_sink(config)
        sink.write(Record(url=again.url, status=200))
        sink.close()  # records go with the next POP, or when the sink closes
        late = dead.record_sink(config)
        late.write(Record(url=again.url, status=500))  # late: ignored
        late.close()
        records = list(alive.state.records())
        assert [(r.url, r.status) for r in records] == [("http://a.test/x", 200)]
        assert alive.frontier(config, sync).pop() is None  # nothing queued, no lease out
        assert alive.state.counters()["requeued"] == 1
    finally:
        dead.close()
        alive.close()


def test_max_pages_counts_for_the_whole_crawl_and_close_keeps_found_links(redis_url):
    config = CrawlConfig(backend=redis_url, crawl_id=uuid.uuid4().hex, max_pages=3, robots=False)
    one, two = RedisBackend(config), RedisBackend(config)
    try:
        first, second = one.frontier(config, ThreadingSync()), two.frontier(config, ThreadingSync())
        assert first.push_many([Request(f"http://a.test/{i}") for i in range(2)]) == 2
        second.close()  # Ctrl-C: pop no more, but links found by pages in flight are kept
        assert second.push_many([Request(f"http://a.test/{i}") for i in range(5)]) == 1
        assert second.pop() is None
        assert [first.pop().url for _ in range(3)] == [f"http://a.test/{i}" for i in range(3)]
    finally:
        one.close()
        two.close()


def test_results_of_an_unknown_crawl_is_one_line_and_exit_2(redis_url):
    proc = invoke_cli("results", "--backend", redis_url, "--crawl-id", "nope")
    assert proc.returncode == 2 and proc.stderr == f"crawl: error: no crawl 'nope' in {redis_url}\n"


def test_a_popper_holding_a_lease_waits_for_its_links_or_passes_timeout_zero(redis_url):
    """The Frontier contract: with nothing queued but a page in flight, ``pop`` waits for that
    page's links, even when the caller popped it (a gevent loop pops its next page while a
    greenlet of its own parses the last one, crawler/strategies/overlap.py); a caller that
    alone would end its leases (a processes parent) passes ``timeout=0`` and gets None at
    once. Before, the popper got None and its loop left the crawl."""
    import threading
    import time

    config = CrawlConfig(backend=redis_url, crawl_id=uuid.uuid4().hex)
    backend = RedisBackend(config)
    try:
        frontier = backend.frontier(config, ThreadingSync())
        frontier.push_many([Request("http://a.test/")])
        popped, at_once, got = [], [], []
        passed_zero = threading.Event()

        def loop() -> None:  # pop, hand the page to the settler, pop again
            popped.append(frontier.pop())
            started = time.monotonic()
            at_once.append((frontier.pop(timeout=0), time.monotonic() - started))
            passed_zero.set()
            got.append(frontier.pop(timeout=30))

        popper = threading.Thread(target=loop)
        popper.start()
        # The settler starts once the popper asks again with no timeout (it then polls Redis,
        # as asking); not while it asks with timeout=0, which the new page would answer.
        assert passed_zero.wait(10)
        wait_until(lambda: frontier._asking is not None, timeout=10)
        frontier.push_many([Request("http://a.test/next")])
        frontier.done(popped[0])
        backend.record_sink(config).write(Record(url=popped[0].url, status=200))
        popper.join(30)
        ((none, took),) = at_once
        assert none is None and took < 1
        assert [r.url if r else r for r in got] == ["http://a.test/next"]
    finally:
        backend.close()


@pytest.mark.timeout(120)
@pytest.mark.parametrize("extra", [[], ["--greenlets", "4"]])
def test_a_processes_worker_joining_a_running_crawl_takes_a_share(redis_url, tmp_path, extra):
    # Its seeds are already claimed by the first worker, so the pool's parent must find work
    # in the shared queue rather than count what it pushed itself.
    crawl_id = uuid.uuid4().hex
    # Pages after the third are held until the joiner holds one too: the first worker cannot
    # finish the crawl alone, however slowly the joiner starts.
    with GraphSite(pages=40, latency=0.02, hold_after=3) as site:
        first = start_worker(crawl_args(redis_url, crawl_id, site.seed), str(tmp_path / "a"))
        wait_until(lambda: stat(redis_url, crawl_id, "recorded") >= 3, what="first records")
        args = crawl_args(redis_url, crawl_id, site.seed, "processes")
        args[args.index("--workers") + 1] = "2"
        joiner = start_worker([*args, *extra], str(tmp_path / "b"))
        # The first worker is serial (one page at a time): a second held page is the joiner's.
        wait_until(lambda: site.held >= 2, what="the joiner at a page")
        site.release()
        codes = finish([first, joiner])
        counts = site.counts()
    assert codes == [0, 0], [w.stderr.read() for w in (first, joiner)]
    mine = read_records(tmp_path / "b")
    assert mine, "the processes worker left without taking any page"
    union = by_canonical(read_records(tmp_path / "a") + mine)
    assert set(union) == {canonical(url) for url in site.all_urls()}
    assert len(counts) == site.pages and set(counts.values()) == {1}, counts


def test_a_big_seed_list_is_claimed_and_queued_in_short_calls(redis_url):
    # One script call for a million seeds held the server for seconds, and every other
    # worker's command waited (or got BUSY). Calls are bounded; the result is the same.
    config = CrawlConfig(backend=redis_url, crawl_id=uuid.uuid4().hex)
    backend = RedisBackend(config)
    try:
        client = backend.state.client
        requests = [Request(f"http://a.test/{i}") for i in range(2 * CHUNK + 10)]
        visited, frontier = (
            backend.visited(config, ThreadingSync()),
            backend.frontier(config, ThreadingSync()),
        )
        client.config_resetstat()
        keys = [fingerprint(r.url) for r in requests]
        assert visited.claim_many(keys) == keys
        assert frontier.push_many(requests) == len(requests)
        assert frontier.push_many(requests[:5]) == 0  # claimed already
        # The server's own counts: no separate claim (PUSH claims), and three PUSH scripts
        # that queued something (each counts what it scheduled and queued once, HINCRBY).
        stats = client.info("commandstats")
        assert "cmdstat_smismember" not in stats
        assert stats["cmdstat_hincrby"]["calls"] == 2 * 3
        assert client.llen(backend.state.key("q:a.test")) == len(requests)
        assert frontier.snapshot()["queued"] == len(requests)
    finally:
        backend.close()
