"""robots.txt: obeyed, cached per host, Crawl-delay honoured, failures handled as documented."""

import re
import threading
import time

import pytest
from click.testing import CliRunner
from werkzeug import Response

from crawler.backends.memory.host_clock import MemoryHostClock
from crawler.backends.memory.robots_cache import MemoryRobotsCache
from crawler.cli.main import app
from crawler.config import CrawlConfig
from crawler.http.registry import open_fetcher
from crawler.http.retry import Retrier
from crawler.links.urls import canonical
from crawler.politeness.robots import RobotsPolicy
from tests.support.helpers import by_url, run_crawl
from tests.support.politeness_helpers import HostMeter, crawl_on_threads, gaps
from tests.support.servers import HTTPServer
from tests.support.spacing import LATE_S, behind_schedule


def page(*hrefs: str) -> Response:
    links = "".join(f'<a href="{h}">x</a>' for h in hrefs)
    return Response(f"<title>t</title>{links}", content_type="text/html")


def stamped(log: list[tuple[str, float]], response: Response):
    def handler(request):
        log.append((request.path, time.monotonic()))
        return response

    return handler


def robots_requests(httpserver) -> int:
    return sum(1 for req, _ in httpserver.log if req.path == "/robots.txt")


def test_disallowed_urls_are_records_not_fetches_and_crawl_delay_spaces_requests(httpserver):
    httpserver.expect_request("/robots.txt").respond_with_data(
        "User-agent: *\nDisallow: /private\nCrawl-delay: 0.3\n", content_type="text/plain"
    )
    arrivals: list[tuple[str, float]] = []
    httpserver.expect_request("/").respond_with_handler(
        stamped(arrivals, page("/a", "/b", "/private/x"))
    )
    for path in ("/a", "/b"):
        httpserver.expect_request(path).respond_with_handler(stamped(arrivals, page()))
    records, stats = run_crawl([httpserver.url_for("/")], depth=1, robots=True)
    table = by_url(records)
    blocked = table[httpserver.url_for("/private/x")]
    assert blocked.error == "robots" and "disallowed" in blocked.detail
    assert blocked.status is None and blocked.attempts == 0
    assert stats.errors == {"robots": 1}
    paths = [req.path for req, _ in httpserver.log]
    assert "/private/x" not in paths and paths.count("/robots.txt") == 1
    times = [t for _, t in arrivals]  # crawl-delay 0.3 (spacing held over the span)
    assert behind_schedule(times, 0.3) <= LATE_S, gaps(times)


def test_rules_for_our_user_agent_win_over_the_wildcard(httpserver):
    httpserver.expect_request("/robots.txt").respond_with_data(
        "User-agent: crawler\nDisallow: /\n\nUser-agent: *\nAllow: /\n"
    )
    records, _ = run_crawl([httpserver.url_for("/")], robots=True)
    assert records[0].error == "robots"
    records, _ = run_crawl(
        [httpserver.url_for("/")], robots=True, user_agent="otherbot/1", retries=0
    )
    assert records[0].error == "http_error"  # allowed, fetched: no handler for "/" here


def test_missing_robots_txt_allows_everything(httpserver):
    httpserver.expect_request("/robots.txt").respond_with_data("no", status=404)
    httpserver.expect_request("/").respond_with_response(page("/a"))
    httpserver.expect_request("/a").respond_with_response(page())
    records, _ = run_crawl([httpserver.url_for("/")], depth=1, robots=True)
    assert [r.error for r in records] == [None, None]
    assert robots_requests(httpserver) == 1


def test_failing_robots_txt_is_retried_then_the_host_is_skipped(httpserver):
    httpserver.expect_request("/robots.txt").respond_with_data("down", status=503)
    seeds = [httpserver.url_for("/"), httpserver.url_for("/other")]
    records, _ = run_crawl(seeds, robots=True, retries=2, retry_backoff=0.01)
    assert robots_requests(httpserver) == 3  # one try and two retries, once for the host
    assert [r.error for r in records] == ["robots", "robots"]
    assert "robots.txt unreachable" in records[0].detail and "503" in records[0].detail
    assert len(httpserver.log) == 3  # no page was requested


def test_robots_txt_redirect_is_followed(httpserver):
    httpserver.expect_request("/robots.txt").respond_with_response(
        Response(status=301, headers={"Location": "/real-robots.txt"})
    )
    httpserver.expect_request("/real-robots.txt").respond_with_data("User-agent: *\nDisallow: /")
    records, _ = run_crawl([httpserver.url_for("/x")], robots=True)
    assert records[0].error == "robots"


def test_cli_obeys_robots_by_default_and_ignore_robots_turns_it_off(httpserver, tmp_path):
    httpserver.expect_request("/robots.txt").respond_with_data("User-agent: *\nDisallow: /\n")
    httpserver.expect_request("/").respond_with_response(page())
    out = tmp_path / "out.jsonl"
    runner = CliRunner()
    first = runner.invoke(app, ["run", "-q", "-o", str(out), httpserver.url_for("/")])
    assert first.exit_code == 1 and '"error": "robots"' in out.read_text()
    assert [req.path for req, _ in httpserver.log] == ["/robots.txt"]
    second = runner.invoke(
        app, ["run", "-q", "--ignore-robots", "-o", str(out), httpserver.url_for("/")]
    )
    assert second.exit_code == 0
    assert [req.path for req, _ in httpserver.log] == ["/robots.txt", "/"]


def test_robots_txt_is_fetched_once_per_host_by_many_workers(threaded_server):
    robots = HostMeter({}, latency=0.2)  # slow, so the other loops have to wait for it
    threaded_server.expect_request("/robots.txt").respond_with_handler(robots)
    pages = HostMeter({"/": [f"/p{i}" for i in range(10)]})
    threaded_server.expect_request(re.compile(".*")).respond_with_handler(pages)
    seed = f"http://127.0.0.1:{threaded_server.port}/"
    records = crawl_on_threads([seed], loops=6, depth=1)
    assert len(records) == 11 and all(r.ok for r in records)
    assert len(robots.arrivals["127.0.0.1"]) == 1


def test_fixture_site_private_pages_are_robots_records_and_never_fetched(fresh_site):
    records, _ = run_crawl([fresh_site.url], depth=50, robots=True)
    disallowed = set(fresh_site.manifest()["robots_disallowed"])
    seen = {canonical(r.url): r for r in records}
    hit = disallowed & seen.keys()
    assert hit, "the site links to its private pages"
    assert all(seen[url].error == "robots" for url in hit)
    counts = fresh_site.counts()
    assert counts.get("/robots.txt") == 1
    assert not [path for path in counts if path.startswith("/private/")]
    others = [r for r in records if canonical(r.url) not in disallowed]
    assert "robots" not in {r.error for r in others}


def test_a_host_that_is_down_is_reported_as_down_not_as_robots():
    records, _ = run_crawl(["http://127.0.0.1:1/"], robots=True, retries=0)
    assert records[0].error == "connect"


def test_robots_txt_timing_out_is_retried_then_the_host_is_skipped(httpserver):
    import threading

    release = threading.Event()

    def stuck(request):
        release.wait(5)
        return Response("User-agent: *\nAllow: /\n")

    httpserver.expect_request("/robots.txt").respond_with_handler(stuck)
    try:
        records, _ = run_crawl(
            [httpserver.url_for("/")], robots=True, timeout=0.3, retries=1, retry_backoff=0.01
        )
    finally:
        release.set()
    assert records[0].error == "robots"
    assert "unreachable" in records[0].detail and "timeout after 2 attempts" in records[0].detail


@pytest.fixture
def own_server():
    """A pytest-httpserver of this test alone (the session's may still see stray requests)."""
    server = HTTPServer(host="127.1.2.1", port=0)
    server.no_handler_status_code = 404
    server.start()
    try:
        yield server
    finally:
        server.clear()
        server.stop()


class _ClaimWatch(MemoryRobotsCache):
    """The in-memory cache, telling when a claim was refused (a worker is now waiting)."""

    def __init__(self) -> None:
        super().__init__(threading.Condition())
        self.refused = threading.Event()

    def claim(self, origin: str) -> bool:
        won = super().claim(origin)
        if not won:
            self.refused.set()
        return won


def test_a_robots_fetch_that_raises_releases_its_claim(own_server):
    # Issue 13 item 2: the claiming worker's fetch raises while another worker waits for its
    # answer. The waiter used to sit out the whole budget (minutes) and then skip the site; now
    # the claim is released and the waiter fetches robots.txt itself.
    httpserver = own_server  # its log holds this test's requests only
    httpserver.expect_request("/robots.txt").respond_with_data("User-agent: *\nDisallow: /p\n")
    config = CrawlConfig(robots=True, timeout=5)
    cache, clock = _ClaimWatch(), MemoryHostClock(threading.Condition())
    fetcher = open_fetcher(config)

    fetching = threading.Event()

    def failing(url, **options):
        fetching.set()  # we hold the claim
        assert cache.refused.wait(10)  # and the other worker now waits on it
        raise RuntimeError("backend went away")

    claimer = RobotsPolicy(config, cache, clock, failing)
    waiter = RobotsPolicy(config, cache, clock, Retrier(config, fetcher, clock).fetch)
    url = httpserver.url_for("/p")
    answers: list[object] = []

    def run(policy):
        try:
            answers.append(policy.denied(url))
        except RuntimeError as exc:
            answers.append(exc)

    first = threading.Thread(target=run, args=(claimer,), daemon=True)
    first.start()
    assert fetching.wait(10)
    thread = threading.Thread(target=run, args=(waiter,), daemon=True)
    thread.start()
    first.join(timeout=15)
    thread.join(timeout=5)
    fetcher.close()
    assert not thread.is_alive(), "the waiter is still waiting for a claim nobody holds"
    assert isinstance(answers[0], RuntimeError)
    assert answers[1:] == [f"disallowed by http://127.1.2.1:{httpserver.port}/robots.txt"]
    assert robots_requests(httpserver) == 1


@pytest.fixture
def two_hosts():
    """Two pytest-httpservers on two loopback addresses: a crawled site and another host."""
    servers = [HTTPServer(host=f"127.1.7.{n}", port=0) for n in (1, 2)]
    for server in servers:
        server.no_handler_status_code = 404
        server.start()
    try:
        yield servers
    finally:
        for server in servers:
            server.clear()
            server.stop()


def test_robots_redirect_off_its_origin_carries_no_user_headers(two_hosts):
    # Issue 13 item 7: the site redirects /robots.txt to another host, which used to receive
    # the user's -H headers (an Authorization token). The redirect is still followed (its rules
    # apply) but only the robots.txt's own origin sees the headers.
    site, other = two_hosts
    site.expect_request("/robots.txt").respond_with_response(
        Response(status=301, headers={"Location": "/moved.txt"})
    )
    site.expect_request("/moved.txt").respond_with_response(
        Response(status=302, headers={"Location": other.url_for("/robots.txt")})
    )
    other.expect_request("/robots.txt").respond_with_data("User-agent: *\nDisallow: /private\n")
    site.expect_request("/").respond_with_response(page())
    secret = (("Authorization", "Bearer s3cret"), ("X-Api-Key", "k3y"))
    seeds = [site.url_for("/"), site.url_for("/private")]
    records, _ = run_crawl(seeds, robots=True, headers=secret, retries=0)
    table = by_url(records)
    assert table[seeds[0]].status == 200 and table[seeds[1]].error == "robots"
    sent = {req.path: req.headers for req, _ in site.log}
    assert set(sent) == {"/robots.txt", "/moved.txt", "/"}
    assert all(h.get("Authorization") == "Bearer s3cret" for h in sent.values())
    [(elsewhere, _)] = other.log
    assert elsewhere.path == "/robots.txt"
    assert "Authorization" not in elsewhere.headers and "X-Api-Key" not in elsewhere.headers
