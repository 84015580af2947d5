"""robots.txt: obeyed, cached per host, Crawl-delay honoured, failures handled as documented."""

import re
import time

from click.testing import CliRunner
from werkzeug import Response

from crawler.cli.main import app
from crawler.links.urls import canonical
from tests.support.helpers import by_url, run_crawl
from tests.support.politeness_helpers import HostMeter, crawl_on_threads, gaps


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
    assert min(gaps([t for _, t in arrivals])) >= 0.25  # crawl-delay 0.3, minus arrival jitter


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
