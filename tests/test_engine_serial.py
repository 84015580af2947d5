"""The crawl logic, in serial mode, against real local servers (pytest-httpserver)."""

import pytest
from werkzeug import Response

from tests.support.helpers import by_url, run_crawl


def html(body: str) -> Response:
    return Response(
        f"<html><head><title>T</title></head><body>{body}</body></html>",
        content_type="text/html; charset=utf-8",
    )


def test_depth_zero_fetches_only_the_listed_urls(httpserver):
    httpserver.expect_request("/a").respond_with_response(html('<a href="/b">b</a>'))
    records, stats = run_crawl([httpserver.url_for("/a")])
    assert [r.url for r in records] == [httpserver.url_for("/a")]
    assert records[0].status == 200 and records[0].links == 1 and records[0].title == "T"
    assert stats.ok == 1 and stats.failed == 0


def test_follows_links_to_depth_and_fetches_each_page_once(httpserver):
    httpserver.expect_request("/").respond_with_response(
        html('<a href="/a">a</a><a href="/b#x">b</a><a href="/a?">a again</a>')
    )
    httpserver.expect_request("/a").respond_with_response(
        html('<a href="/">home</a><a href="/c">c</a>')
    )
    httpserver.expect_request("/b").respond_with_response(html('<a href="./c">c</a>'))
    httpserver.expect_request("/c").respond_with_response(html('<a href="/d">too deep</a>'))
    records, _ = run_crawl([httpserver.url_for("/")], depth=2)
    table = by_url(records)
    assert set(table) == {httpserver.url_for(p) for p in ("/", "/a", "/b", "/c")}
    assert table[httpserver.url_for("/c")].depth == 2
    assert table[httpserver.url_for("/c")].parent == httpserver.url_for("/a")
    paths = [req.path for req, _ in httpserver.log]
    assert sorted(paths) == ["/", "/a", "/b", "/c"]


def test_http_errors_redirects_and_loops_become_records(httpserver):
    httpserver.expect_request("/").respond_with_response(
        html('<a href="/missing">x</a><a href="/moved">y</a><a href="/loop1">z</a>')
    )
    httpserver.expect_request("/missing").respond_with_data("gone", status=404)
    httpserver.expect_request("/moved").respond_with_response(
        Response(status=301, headers={"Location": "/new"})
    )
    httpserver.expect_request("/new").respond_with_response(html("new"))
    httpserver.expect_request("/loop1").respond_with_response(
        Response(status=302, headers={"Location": "/loop2"})
    )
    httpserver.expect_request("/loop2").respond_with_response(
        Response(status=302, headers={"Location": "/loop1"})
    )
    records, stats = run_crawl([httpserver.url_for("/")], depth=1)
    table = by_url(records)
    u = httpserver.url_for
    assert table[u("/missing")].error == "http_error" and table[u("/missing")].status == 404
    assert table[u("/moved")].status == 301 and table[u("/moved")].error is None
    assert table[u("/moved")].final_url == u("/new")
    assert table[u("/new")].status == 200 and table[u("/new")].redirects == [u("/moved")]
    assert table[u("/new")].depth == 1
    assert table[u("/loop1")].error is None
    assert table[u("/loop2")].error == "redirect_loop"
    assert stats.errors == {"http_error": 1, "redirect_loop": 1}


def test_too_many_redirects(httpserver):
    for i in range(5):
        httpserver.expect_request(f"/r{i}").respond_with_response(
            Response(status=302, headers={"Location": f"/r{i + 1}"})
        )
    records, _ = run_crawl([httpserver.url_for("/r0")], max_redirects=2)
    errors = [r.error for r in records]
    # Two redirects followed (r0 -> r1 -> r2); the third would exceed the cap.
    assert errors == [None, None, "too_many_redirects"]


def test_byte_cap_non_html_and_max_pages(httpserver):
    links = "".join(f'<a href="/p{i}">p</a>' for i in range(10))
    httpserver.expect_request("/").respond_with_response(
        html(links + '<a href="/big">b</a><a href="/f.pdf">f</a>')
    )
    httpserver.expect_request("/big").respond_with_data("x" * 50_000, content_type="text/html")
    httpserver.expect_request("/f.pdf").respond_with_data(
        b"%PDF <a href='/nope'>", content_type="application/pdf"
    )
    for i in range(10):
        httpserver.expect_request(f"/p{i}").respond_with_response(html("p"))
    records, _ = run_crawl([httpserver.url_for("/")], depth=1, max_bytes=20_000)
    table = by_url(records)
    assert table[httpserver.url_for("/big")].error == "too_large"
    pdf = table[httpserver.url_for("/f.pdf")]
    assert pdf.error is None and pdf.links == 0 and pdf.content_type == "application/pdf"
    capped, _ = run_crawl([httpserver.url_for("/")], depth=1, max_pages=4)
    assert len(capped) == 4


def test_connect_errors_and_timeouts_are_records_not_exceptions(httpserver):
    import threading

    release = threading.Event()

    def slow(request):
        release.wait(5)
        return html("late")

    httpserver.expect_request("/slow").respond_with_handler(slow)
    try:
        records, stats = run_crawl(
            ["http://127.0.0.1:1/", httpserver.url_for("/slow")], timeout=0.3, retries=0
        )
    finally:
        release.set()
    table = by_url(records)
    assert table["http://127.0.0.1:1/"].error == "connect"
    assert table[httpserver.url_for("/slow")].error == "timeout"
    assert stats.failed == 2


def test_scope_same_domain_allow_domain_and_exclude(httpserver):
    other = httpserver.url_for("/x")  # served on "localhost"; the seed is "127.0.0.1"
    httpserver.expect_request("/").respond_with_response(
        html(f'<a href="{other}">other host</a><a href="/skip/me">excluded</a><a href="/ok">ok</a>')
    )
    httpserver.expect_request("/ok").respond_with_response(html("ok"))
    httpserver.expect_request("/x").respond_with_response(html("x"))
    seed = httpserver.url_for("/").replace("localhost", "127.0.0.1")
    same, _ = run_crawl([seed], depth=1, exclude=("/skip/",))
    assert {r.url for r in same} == {seed, seed + "ok"}
    allowed, _ = run_crawl([seed], depth=1, exclude=("/skip/",), allow_domains=("localhost",))
    assert other in {r.url for r in allowed}
    anywhere, _ = run_crawl([seed], depth=1, same_domain=False, exclude=("/skip/",))
    assert len(anywhere) == 3


def test_duplicate_seeds_and_invalid_seed_lines(httpserver):
    httpserver.expect_request("/").respond_with_response(html(""))
    from crawler.sources import Seed

    seeds = [
        Seed(httpserver.url_for("/"), "f:1"),
        Seed(httpserver.url_for("/") + "#x", "f:2"),
        Seed("ftp://x/y", "f:3"),
        Seed("http://", "f:4"),
    ]
    records, stats = run_crawl(seeds)
    assert len(records) == 3
    bad = [r for r in records if r.error == "invalid_url"]
    assert [r.detail.split(":")[0:2] for r in bad] == [["f", "3"], ["f", "4"]]
    assert len(httpserver.log) == 1


@pytest.mark.parametrize(
    "charset_header, body, title",
    [
        ("text/html; charset=iso-8859-1", "<title>caf\xe9</title>".encode("latin-1"), "caf\xe9"),
        ("text/html", '<meta charset="utf-8"><title>caf\xe9</title>'.encode(), "caf\xe9"),
    ],
)
def test_page_encodings(httpserver, charset_header, body, title):
    httpserver.expect_request("/").respond_with_data(body, content_type=charset_header)
    records, _ = run_crawl([httpserver.url_for("/")])
    assert records[0].title == title


def test_the_crawls_clock_runs_until_its_sinks_are_closed(httpserver):
    # What sinks write at the end (a file's buffered bytes) counts in the crawl's time.
    from crawler.config import CrawlConfig
    from crawler.engine import Crawler

    httpserver.expect_request("/").respond_with_response(html(""))
    crawler = Crawler(CrawlConfig(robots=False))
    seen = []

    class ClosingSink:
        def write(self, record) -> None:
            pass

        def close(self) -> None:
            seen.append(crawler.stats.finished)

    crawler.sinks.append(ClosingSink())
    stats = crawler.run([httpserver.url_for("/")])
    assert seen == [None] and stats.finished is not None
