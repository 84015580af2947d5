"""Redirects: chains recorded, loops reported, targets outside the crawl scope not followed."""

from werkzeug import Response

from crawler.backends.memory.backend import MemoryBackend
from crawler.base import Request
from crawler.config import CrawlConfig
from crawler.strategies.serial import SerialSync
from crawler.worker import Worker
from tests.support.helpers import by_url, run_crawl


def redirect(location: str, status: int = 302) -> Response:
    return Response(status=status, headers={"Location": location})


def test_offsite_redirect_is_recorded_and_not_followed(httpserver):
    seed = httpserver.url_for("/").replace("localhost", "127.0.0.1")
    offsite = httpserver.url_for("/elsewhere")  # "localhost": another host than the seed's
    httpserver.expect_request("/").respond_with_data(
        '<a href="/hop">hop</a>', content_type="text/html"
    )
    httpserver.expect_request("/hop").respond_with_response(redirect("/hop2"))
    httpserver.expect_request("/hop2").respond_with_response(redirect(offsite, 301))
    records, stats = run_crawl([seed], depth=2)
    table = by_url(records)
    hop2 = table[seed + "hop2"]
    assert hop2.error == "offsite_redirect" and hop2.final_url == offsite
    assert hop2.redirects == [seed + "hop"] and hop2.status == 301
    assert offsite not in table
    assert "/elsewhere" not in [req.path for req, _ in httpserver.log]
    assert stats.errors == {"offsite_redirect": 1}
    # With --any-domain the same target is in scope, so it is followed.
    httpserver.expect_request("/elsewhere").respond_with_data("x", content_type="text/html")
    anywhere, _ = run_crawl([seed], depth=2, same_domain=False)
    assert by_url(anywhere)[offsite].redirects == [seed + "hop", seed + "hop2"]


def test_redirect_loop_is_reported_with_its_chain(httpserver):
    httpserver.expect_request("/a").respond_with_response(redirect("/b"))
    httpserver.expect_request("/b").respond_with_response(redirect("/c"))
    httpserver.expect_request("/c").respond_with_response(redirect("/a"))
    records, _ = run_crawl([httpserver.url_for("/a")])
    last = records[-1]
    assert last.url == httpserver.url_for("/c") and last.error == "redirect_loop"
    assert last.redirects == [httpserver.url_for("/a"), httpserver.url_for("/b")]
    assert len(httpserver.log) == 3


def scope_of(request: Request, target: str, **options) -> str | None:
    config = CrawlConfig(**options)
    backend, sync = MemoryBackend(), SerialSync()
    worker = Worker(
        config, backend.frontier(config, sync), backend.visited(config, sync), print, name="w"
    )
    try:
        return worker.redirect_scope(request, target)
    finally:
        worker.fetcher.close()


def test_a_seed_may_move_within_its_site_and_the_scope_moves_with_it():
    seed = Request("http://www.example.com/", 0, None, "www.example.com")
    assert scope_of(seed, "https://www.example.com/") == "www.example.com"
    assert scope_of(seed, "https://example.com/") == "example.com"
    assert scope_of(seed, "https://shop.example.com/") == "example.com"
    assert scope_of(seed, "https://example.org/") is None
    bare = Request("http://example.com/", 0, None, "example.com")
    assert scope_of(bare, "https://www.example.com/") == "example.com"
    # Only seeds move: a page found by a link stays in its seed's scope.
    found = Request("http://www.example.com/a", 1, "http://www.example.com/", "www.example.com")
    assert scope_of(found, "https://example.com/a") is None
    # An explicit domain list is not widened by a seed's redirect.
    narrow = scope_of(seed, "https://example.com/", same_domain=False, allow_domains=("x.org",))
    assert narrow is None
    assert scope_of(seed, "https://example.com/", same_domain=False) == "www.example.com"
