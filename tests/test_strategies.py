"""The concurrent strategies' own promises: concurrency honoured, Ctrl-C, crashed workers, gevent
patching. gevent runs only in subprocesses; the pytest process is never patched."""

import contextlib
import json
import multiprocessing
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from werkzeug import Response

from tests.support.cli import (
    alive,
    cli_records,
    descendants,
    invoke_cli,
    python_env,
    run_python,
    start_cli,
)
from tests.support.helpers import by_url, run_crawl
from tests.support.paths import ROOT
from tests.support.spacing import LATE_S, behind_schedule
from tests.test_contract import wait_until


def page(body: str = "") -> Response:
    return Response(f"<html><title>t</title><body>{body}</body></html>", content_type="text/html")


class ConcurrencyProbe:
    """Counts requests in flight; each waits until ``expected`` are in flight together, so the
    peak is exactly the crawler's concurrency when it is honoured (and the test fails, not
    hangs, after ``patience`` seconds when it is not)."""

    def __init__(self, expected: int, patience: float = 10.0) -> None:
        self.expected, self.patience = expected, patience
        self.lock = threading.Lock()
        self.all_in = threading.Event()
        self.current = self.peak = 0

    def __call__(self, request):
        with self.lock:
            self.current += 1
            self.peak = max(self.peak, self.current)
            if self.current >= self.expected:
                self.all_in.set()
        self.all_in.wait(self.patience)
        with self.lock:
            self.current -= 1
        return page("leaf")


@pytest.mark.timeout(90)
@pytest.mark.parametrize(
    "args, concurrency",
    [
        (["--mode", "threads", "--workers", "5"], 5),
        (["--mode", "gevent", "--workers", "6"], 6),
        (["--mode", "processes", "--workers", "3"], 3),
        (["--mode", "processes", "--workers", "2", "--greenlets", "3"], 6),
    ],
)
def test_workers_is_the_concurrency(threaded_server, args, concurrency):
    probe = ConcurrencyProbe(concurrency)
    links = "".join(f'<a href="/p{i}">p</a>' for i in range(4 * concurrency))
    threaded_server.expect_request("/").respond_with_response(page(links))
    for i in range(4 * concurrency):
        threaded_server.expect_request(f"/p{i}").respond_with_handler(probe)
    code, records, stderr = cli_records(
        *args, "--depth", "1", "--ignore-robots", threaded_server.url_for("/")
    )
    assert code == 0, stderr
    assert len(records) == 4 * concurrency + 1
    assert probe.peak == concurrency


def _process_group_members(pgid: int) -> list[int]:
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            if int(fields[2]) == pgid and fields[0] != "Z":
                members.append(int(entry.name))
    return members


@pytest.fixture(scope="module")
def big_slow_site():
    """400 pages at 100 ms: a crawl Ctrl-C interrupts is far from done (each test resets the
    counts)."""
    from fixtures.site import SiteProcess

    with SiteProcess(pages=400, latency_ms=100, links=10) as site:
        yield site


@pytest.mark.timeout(90)
@pytest.mark.subprocess  # the site, the CLI
@pytest.mark.parametrize(
    "mode_args",
    [
        ["--mode", "processes", "--workers", "2"],
        ["--mode", "processes", "--workers", "2", "--greenlets", "4"],
        ["--mode", "threads", "--workers", "4"],
        ["--mode", "gevent", "--workers", "4"],
    ],
    ids=["processes", "processes-greenlets", "threads", "gevent"],
)
def test_ctrl_c_flushes_records_exits_130_and_leaves_no_process(tmp_path, mode_args, big_slow_site):
    out = tmp_path / "records.jsonl"
    site = big_slow_site
    site.reset_counts()
    proc = start_cli(
        *mode_args,
        "--depth",
        "50",
        "-o",
        str(out),
        site.url,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a shell gives a job
    )
    try:
        assert wait_until(lambda: sum(site.counts().values()) >= 10, timeout=30)
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        _, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    fetched = sum(site.counts().values())
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr and "crawl interrupted" in stderr
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert records and len({r["url"] for r in records}) == len(records)
    assert len(records) >= fetched - 8  # pages fetched but not recorded: at most those in flight
    assert wait_until(lambda: not _process_group_members(proc.pid), timeout=15), (
        _process_group_members(proc.pid)
    )


class StalledCrawl:
    """A processes crawl of ``server`` (one child) run on a thread of this process: ``/`` links
    ``/slow`` and ``extra`` plain pages, and each request for ``/slow`` is put on ``arrivals``
    and stalls until ``release``. ``outcome`` gets the records and totals, or the error."""

    def __init__(self, server, extra: int, *, depth: int = 1) -> None:
        self.arrivals: queue.Queue = queue.Queue()
        self.release = threading.Event()
        self.outcome: dict = {}
        self.depth = depth

        def slow(request):
            self.arrivals.put(request.path)
            self.release.wait(20)
            return page('<a href="/after-slow">a</a>')  # followed at depth 2 and more

        links = '<a href="/slow">s</a>' + "".join(f'<a href="/p{i}">p</a>' for i in range(extra))
        server.expect_request("/").respond_with_response(page(links))
        server.expect_request("/slow").respond_with_handler(slow)
        for i in range(extra):
            server.expect_request(f"/p{i}").respond_with_response(page("p"))
        server.expect_request("/after-slow").respond_with_response(page("after"))
        self.runner = threading.Thread(target=self._crawl, args=(server.url_for("/"),))

    def _crawl(self, url: str) -> None:
        try:
            self.outcome["records"], self.outcome["stats"] = run_crawl(
                [url], depth=self.depth, mode="processes", workers=1
            )
        except Exception as exc:
            self.outcome["error"] = exc

    def __enter__(self) -> "StalledCrawl":
        self.runner.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.runner.join(60)
        assert not self.runner.is_alive()


@pytest.mark.timeout(90)
@pytest.mark.subprocess  # processes mode, in this process
def test_a_killed_worker_process_becomes_a_record_and_the_crawl_goes_on(threaded_server):
    killed = []
    with StalledCrawl(threaded_server, extra=5) as crawl:
        # First in its batch, then retried alone: the page's own process is killed both times.
        for _ in range(2):
            crawl.arrivals.get(timeout=30)
            workers = [
                p for p in multiprocessing.active_children() if p.name.startswith("crawl-child")
            ]
            assert len(workers) == 1
            os.kill(workers[0].pid, signal.SIGKILL)
            killed.append(workers[0].pid)
    table = by_url(crawl.outcome["records"])
    crashed = table[threaded_server.url_for("/slow")]
    assert crashed.error == "worker_crash" and str(killed[-1]) in crashed.detail
    # The pages that shared the first batch were retried, each once, and crawled fine.
    assert all(table[threaded_server.url_for(f"/p{i}")].ok for i in range(5))
    assert len(table) == 7
    paths = sorted(req.path for req, _ in threaded_server.log)
    assert paths == ["/", "/p0", "/p1", "/p2", "/p3", "/p4", "/slow", "/slow"]
    assert wait_until(lambda: not multiprocessing.active_children())


def test_the_cli_and_engine_import_no_ssl_so_gevent_can_patch_first():
    out = run_python(
        "import sys, crawler.cli.main, crawler.engine, crawler.config, crawler.strategies\n"
        "print(sorted(m for m in ('ssl', 'requests', 'urllib3') if m in sys.modules))",
        warnings_as_errors=True,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_a_plain_crawl_imports_neither_requests_nor_lxml_nor_the_charset_guesser(httpserver):
    """Every crawl process (the CLI, each processes-mode child) pays for its imports at
    start-up: a crawl on the default fetcher, with no cookie, no XML sitemap and no page of
    unknown encoding, needs none of these."""
    html = "<html><title>t</title><body><a href='/b'>b</a></body></html>"
    for path in ("/", "/b"):
        httpserver.expect_request(path).respond_with_data(html, content_type="text/html")
    out = run_python(
        "import atexit, sys\nfrom crawler.cli.main import main\n"
        "heavy = ('requests', 'lxml', 'charset_normalizer')\n"
        "atexit.register(lambda: print(sorted(m for m in heavy if m in sys.modules)))\n"
        "sys.argv = ['crawl', 'run', '--depth', '1', '-o', sys.argv[1], sys.argv[2]]\nmain()\n",
        args=[os.devnull, httpserver.url_for("/")],
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]", out.stdout
    assert len(httpserver.log) == 3  # robots.txt, / and /b: it did crawl


def test_library_gevent_mode_after_ssl_import_is_refused_clearly():
    out = run_python(
        "import requests\n"
        "from crawler.config import CrawlConfig\nfrom crawler.engine import Crawler\n"
        "from crawler.errors import ModeUnavailable\n"
        "try:\n    Crawler(CrawlConfig(mode='gevent'))\n"
        "except ModeUnavailable as exc:\n    print(exc)\n",
        warnings_as_errors=True,
    )
    assert out.returncode == 0, out.stderr
    assert "gevent.monkey.patch_all()" in out.stdout and "ssl" in out.stdout
    assert len(out.stdout.strip().splitlines()) == 1


def test_library_gevent_mode_patches_a_fresh_process(fresh_site):
    """The patch reads the installed packages' entry points once (``patch_all`` looks them up
    for every step), and gevent's plugins and event subscribers still hear of it."""
    out = run_python(
        "import importlib.metadata as metadata\nfrom gevent import events\n"
        "scans, heard = [], []\nscan = metadata.distributions\n"
        "metadata.distributions = lambda *a, **k: (scans.append(1), scan(*a, **k))[1]\n"
        "events.subscribers.append(heard.append)\n"
        "from crawler.config import CrawlConfig\nfrom crawler.engine import Crawler\n"
        "from gevent import monkey\n"
        "crawler = Crawler(CrawlConfig(mode='gevent', workers=4, depth=50))\n"
        "assert monkey.is_module_patched('socket')\n"
        "assert len(scans) == 1, scans\n"
        "assert any(isinstance(e, events.GeventDidPatchAllEvent) for e in heard), heard\n"
        f"print(crawler.run([{fresh_site.url!r}]).pages)\n",
        warnings_as_errors=True,
    )
    assert out.returncode == 0, out.stderr
    assert int(out.stdout) == len(fresh_site.manifest()["pages"])


def test_greenlets_need_processes_mode():
    done = invoke_cli("--mode", "threads", "--greenlets", "4", "http://127.0.0.1:1/")
    code, stderr = done.returncode, done.stderr
    assert code == 2
    assert stderr.strip() == "crawl: error: --greenlets applies to --mode processes only"


DELAY_S = 0.3
PAGES = 5


class Timeline:
    """Server-side start and end times of every request, and the peak number in flight.
    Each request is held briefly so that an overlap, if the crawler allows one, happens."""

    def __init__(self, hold: float) -> None:
        self.hold = hold
        self.lock = threading.Lock()
        self.starts: list[float] = []
        self.current = self.peak = 0
        self.overlap = threading.Event()

    def __call__(self, request):
        with self.lock:
            self.starts.append(time.monotonic())
            self.current += 1
            self.peak = max(self.peak, self.current)
            if self.current > 1:
                self.overlap.set()
        self.overlap.wait(self.hold)  # returns at once when an overlap is seen
        with self.lock:
            self.current -= 1
        return page("leaf")


@pytest.mark.timeout(90)
@pytest.mark.parametrize(
    "mode_args",
    [
        ["--mode", "processes", "--workers", "2", "--greenlets", "4"],
        ["--mode", "processes", "--workers", "3"],
        ["--mode", "threads", "--workers", "4"],
        ["--mode", "gevent", "--workers", "4"],
    ],
    ids=["processes-greenlets", "processes", "threads", "gevent"],
)
def test_per_host_and_delay_hold_across_every_loop(threaded_server, mode_args):
    timeline = Timeline(hold=0.05)
    # Five pages found at once by the seed: more than one loop asks for the host at once, and
    # each page waits out the delay after the one before (5 delays of waiting in all).
    links = "".join(f'<a href="/p{i}">p</a>' for i in range(PAGES))
    threaded_server.expect_request("/").respond_with_response(page(links))
    for i in range(PAGES):
        threaded_server.expect_request(f"/p{i}").respond_with_handler(timeline)
    args = ["--depth", "1", "--ignore-robots", "--per-host", "1", "--delay", str(DELAY_S)]
    code, records, stderr = cli_records(*mode_args, *args, threaded_server.url_for("/"))
    assert code == 0, stderr
    assert len(records) == PAGES + 1
    assert timeline.peak == 1
    # Held at the server over the span (tests/support/spacing.py), and gap by gap: the next
    # start waits a delay from the end of the previous page, which ended after the server saw
    # its request (the 50 ms of jitter as the margin).
    gaps = [round(b - a, 3) for a, b in zip(timeline.starts, timeline.starts[1:], strict=False)]
    assert behind_schedule(timeline.starts, DELAY_S) <= LATE_S, gaps
    assert min(gaps) >= DELAY_S - 0.05, gaps


@pytest.mark.timeout(90)
@pytest.mark.subprocess  # processes mode, in this process
def test_a_manager_that_dies_mid_crawl_ends_it_as_a_lost_crawl_not_a_traceback(threaded_server):
    # The manager holds the crawl's visited set and host clock: without it nothing can go on.
    # The parent's next call to it failed with ConnectionResetError, a traceback.
    from crawler.errors import CrawlLost

    # At depth 2 the link /slow answers with must be claimed in the manager's visited set once
    # /slow is released: a call the parent makes after the kill, whatever else it did before.
    with StalledCrawl(threaded_server, extra=3, depth=2) as crawl:
        assert crawl.arrivals.get(timeout=30) == "/slow"
        (manager,) = [p for p in multiprocessing.active_children() if "Manager" in p.name]
        os.kill(manager.pid, signal.SIGKILL)
        manager.join(10)
    lost = crawl.outcome["error"]
    assert isinstance(lost, CrawlLost), lost
    assert "manager process (the crawl's visited set and host clock) is gone" in str(lost)
    assert lost.stats.pages >= 1  # the home page, recorded before
    assert wait_until(lambda: not multiprocessing.active_children())


@pytest.mark.timeout(90)
@pytest.mark.parametrize("greenlets", ["0", "4"])
def test_a_processes_crawl_killed_without_warning_leaves_no_process_behind(
    threaded_server, tmp_path, greenlets
):
    # SIGKILL (or the OOM killer) to the crawl: nobody tells its manager and children to stop.
    # The children waited for tasks for ever (a sibling holds a copy of each task pipe, so no
    # EOF comes), the manager served for ever.
    arrivals: queue.Queue = queue.Queue()
    release = threading.Event()

    def slow(request):
        arrivals.put(request.path)
        release.wait(20)
        return page("slow")

    threaded_server.expect_request("/").respond_with_response(page('<a href="/slow">s</a>'))
    threaded_server.expect_request("/slow").respond_with_handler(slow)
    args = ["--mode", "processes", "--workers", "2", "--greenlets", greenlets, "--depth", "1"]
    args += ["--ignore-robots"]
    proc = start_cli(*args, "-o", str(tmp_path / "out.jsonl"), threaded_server.url_for("/"),
                     stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
    started: list[int] = []
    try:
        assert arrivals.get(timeout=30) == "/slow"
        started = descendants(proc.pid)
        assert len(started) >= 3  # the manager and two children (and a forkserver)
        proc.kill()
        proc.wait(10)
    finally:
        release.set()
        gone = wait_until(lambda: not [p for p in started if alive(p)], timeout=15)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    assert gone, [(p, alive(p)) for p in started]


@pytest.mark.subprocess
def test_a_spawn_crawl_without_a_main_guard_fails_clearly_instead_of_hanging(tmp_path):
    script = tmp_path / "unguarded.py"
    script.write_text(
        f"import sys\nsys.path.insert(0, {ROOT!r})\n"
        "from crawler.config import CrawlConfig\nfrom crawler.engine import Crawler\n"
        "from crawler.errors import ModeUnavailable\n"
        "try:\n"
        "    Crawler(CrawlConfig(mode='processes', workers=1, greenlets=2)).run(\n"
        "        ['http://127.0.0.1:1/'])\n"
        "except ModeUnavailable as exc:\n    print(exc)\n"
    )
    # One worker: the crawl gives up once 4 of its processes in a row died at start-up,
    # each a spawned interpreter; a loaded machine starts those slowly, hence the bound.
    # Output goes to files and the script's own exit is awaited: a spawned child that the
    # script's exit caught half-started can outlive it, holding pipes open (a multiprocessing
    # race outside the crawler); its session is killed at the end, so nothing is left behind.
    stdout, stderr = tmp_path / "stdout.txt", tmp_path / "stderr.txt"
    with stdout.open("w") as out, stderr.open("w") as err:
        proc = subprocess.Popen(
            [sys.executable, str(script)],
            cwd=tmp_path,
            stdout=out,
            stderr=err,
            env=python_env(None),
            start_new_session=True,
        )
    try:
        code = proc.wait(timeout=100)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    assert code == 0, stderr.read_text()[-2000:]
    assert "if __name__ == '__main__':" in stdout.read_text()


@pytest.mark.parametrize(
    "mode_args",
    [
        ["--mode", "gevent", "--workers", "1"],
        ["--mode", "processes", "--workers", "1", "--greenlets", "1"],
    ],
    ids=["gevent", "processes-greenlets"],
)
def test_a_greenlet_sends_its_next_request_before_the_page_it_fetched_is_parsed(
    mode_args, threaded_server, tmp_path
):
    # One greenlet, three seeds. The parse callback of /a waits (cooperatively, bounded) until
    # the server has received /b: that happens only if the greenlet went on to fetch /b while
    # /a was still being parsed. Parsing on the fetching greenlet would wait the full 10 s.
    # (/ first: with robots.txt obeyed a host's first page goes out alone, and a processes
    # parent may learn that robots.txt was answered only once that page is done.)
    seen_b = threading.Event()
    html = "<html><title>t</title><body>hello</body></html>"

    def page_b(request):
        seen_b.set()
        return Response(html, content_type="text/html")

    def wait_for_b(request):
        return Response("yes" if seen_b.wait(10) else "no", content_type="text/plain")

    server = threaded_server
    server.expect_request("/robots.txt").respond_with_data("", status=404)
    server.expect_request("/").respond_with_data(html, content_type="text/html")
    server.expect_request("/a").respond_with_data(html, content_type="text/html")
    server.expect_request("/b").respond_with_handler(page_b)
    server.expect_request("/wait-b").respond_with_handler(wait_for_b)
    scraper = tmp_path / "scraper.py"
    scraper.write_text(
        "import urllib.request\n"
        "OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))\n"
        "def parse(page):\n"
        "    if page.url.endswith('/a'):\n"
        f"        with OPENER.open({server.url_for('/wait-b')!r}, timeout=15) as resp:\n"
        "            return {'b_fetched_while_a_was_parsed': resp.read().decode()}\n"
    )
    seeds = tmp_path / "seeds.txt"
    seeds.write_text("".join(f"{server.url_for(path)}\n" for path in ("/", "/a", "/b")))
    items = tmp_path / "items.jsonl"
    code, records, stderr = cli_records(
        *mode_args, "--parse", f"{scraper}:parse", "--items-output", str(items), str(seeds)
    )
    assert code == 0, stderr
    assert sorted(r["url"].rsplit("/", 1)[1] for r in records) == ["", "a", "b"]
    assert [json.loads(line) for line in items.read_text().splitlines()] == [
        {"b_fetched_while_a_was_parsed": "yes"}
    ]


CTRL_C_WHILE_STARTING = """
import json, os, signal
import crawler.strategies.threads as threads
from crawler.config import CrawlConfig
from crawler.engine import Crawler
from crawler.sinks import CallbackSink
from tests.support.hostile_server import HostileServer

with HostileServer() as server:
    real_start = threads._start

    def start(target, name):
        thread = real_start(target, name)
        if name.endswith("/t2"):  # one loop started, more to start
            os.kill(os.getpid(), signal.SIGINT)
        return thread

    threads._start = start
    records = []
    config = CrawlConfig(mode="threads", workers=3, robots=False)
    stats = Crawler(config, [CallbackSink(records.append)]).run([server.url("/late?a")])
    found = {r.url: r.error for r in records}
    requested = [t for _, t in server.requests()]
    print(json.dumps({"interrupted": stats.interrupted, "records": found, "requested": requested}))
"""


@pytest.mark.timeout(60)
def test_ctrl_c_while_the_threads_start_ends_the_crawl_before_any_page():
    # The loops wait at a starting gate until every thread is started (none crawls while the
    # others start): Ctrl-C then closes the frontier, every loop passes the gate and returns,
    # and no page was begun, so none is left unrecorded.
    out = run_python(CTRL_C_WHILE_STARTING, timeout=50)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["interrupted"] is True
    assert result["records"] == {} and result["requested"] == []
