"""--sitemaps end to end against loopback servers: discovery through robots.txt (fetched once)
or /sitemap.xml, indexes, gzip, text and feeds, scope, --sitemap-since, hostile sitemaps, the
size cap on a 50 MB sitemap, and the modes and durable backends."""

import gzip
import json
import os
import tracemalloc
import zlib
from collections.abc import Iterator

import pytest
from click.testing import CliRunner
from werkzeug import Response

from crawler.backends.checked import Rejected, RequestChecker
from crawler.backends.codec import decode_request, encode_request
from crawler.base import Request
from crawler.cli.main import app
from crawler.config import CrawlConfig
from tests.support.cli import cli_records
from tests.support.helpers import by_url, run_crawl
from tests.support.raw_server import RawServer
from tests.test_docs_library import python_blocks, run_program

NS = 'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'


def urlset(*locs: str, lastmod: dict[str, str] | None = None) -> str:
    rows = []
    for loc in locs:
        date = (lastmod or {}).get(loc)
        extra = f"<lastmod>{date}</lastmod>" if date else ""
        rows.append(f"<url><loc>{loc}</loc>{extra}</url>")
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<urlset {NS}>{"".join(rows)}</urlset>'


def index(*locs: str) -> str:
    rows = "".join(f"<sitemap><loc>{loc}</loc></sitemap>" for loc in locs)
    return f'<?xml version="1.0"?><sitemapindex {NS}>{rows}</sitemapindex>'


def html(*hrefs: str) -> Response:
    links = "".join(f'<a href="{h}">x</a>' for h in hrefs)
    return Response(f"<title>t</title>{links}", content_type="text/html")


def serve_site(httpserver, robots: str | None) -> None:
    """A site whose robots.txt (when given) names an index of a plain and a gzip sitemap."""
    url = httpserver.url_for
    if robots is not None:
        httpserver.expect_request("/robots.txt").respond_with_data(
            robots, content_type="text/plain"
        )
    httpserver.expect_request("/").respond_with_response(html("/a"))
    for path in ("/a", "/b", "/c", "/d"):
        httpserver.expect_request(path).respond_with_response(html())
    httpserver.expect_request("/index.xml").respond_with_data(
        index(url("/one.xml"), url("/two.xml.gz"), "http://elsewhere.invalid/s.xml"),
        content_type="application/xml",
    )
    httpserver.expect_request("/one.xml").respond_with_data(
        urlset(url("/a"), url("/b"), "http://elsewhere.invalid/x"), content_type="text/xml"
    )
    httpserver.expect_request("/two.xml.gz").respond_with_data(
        gzip.compress(urlset(url("/c"), url("/b")).encode()), content_type="application/gzip"
    )


def test_robots_sitemaps_index_and_gzip_become_seeds(httpserver):
    url = httpserver.url_for
    serve_site(httpserver, f"User-agent: *\nDisallow: /d\nSitemap: {url('/index.xml')}\n")
    records, _ = run_crawl([url("/")], sitemaps=True, robots=True)
    table = by_url(records)
    # Pages: the seed, its link /a (listed in a sitemap too: one record), /b and /c from sitemaps.
    assert table[url("/")].via is None and table[url("/")].sitemap_urls is None
    assert {table[url(p)].via for p in ("/b", "/c")} == {"sitemap"}
    assert table[url("/c")].parent == url("/two.xml.gz") and table[url("/c")].depth == 0
    # Sitemap fetches have records of their own.
    robots = table[url("/robots.txt")]
    assert (robots.via, robots.sitemap_urls, robots.error) == ("robots", 1, None)
    idx = table[url("/index.xml")]
    assert (idx.via, idx.sitemap_urls, idx.content_type) == ("robots", 2, "application/xml")
    assert "1 outside the crawl's scope" in idx.detail
    one = table[url("/one.xml")]
    assert (one.via, one.sitemap_urls, one.error) == ("sitemap", 2, None)
    assert "1 outside" in one.detail
    two = table[url("/two.xml.gz")]
    assert (two.sitemap_urls, two.content_type, two.error) == (2, "application/gzip", None)
    assert not any("elsewhere" in r.url for r in records)
    # robots.txt was fetched once, and sitemaps do not bypass it.
    assert sum(1 for req, _ in httpserver.log if req.path == "/robots.txt") == 1
    assert url("/d") not in table
    paths = [req.path for req, _ in httpserver.log]
    assert len(paths) == len(set(paths)), "a URL was fetched twice"


def test_without_sitemap_lines_sitemap_xml_is_tried(httpserver):
    url = httpserver.url_for
    httpserver.expect_request("/").respond_with_response(html())
    httpserver.expect_request("/sitemap.xml").respond_with_data(
        f"{url('/a')}\n{url('/b')}\nnot a url\n", content_type="text/plain"
    )
    for path in ("/a", "/b"):
        httpserver.expect_request(path).respond_with_response(html())
    records, _ = run_crawl([url("/")], sitemaps=True, robots=True)  # robots.txt: 404
    table = by_url(records)
    assert table[url("/robots.txt")].sitemap_urls == 1
    assert table[url("/sitemap.xml")].via == "robots"
    assert table[url("/sitemap.xml")].sitemap_urls == 2
    assert table[url("/a")].via == table[url("/b")].via == "sitemap"


def test_ignore_robots_reads_sitemap_lines_once_and_obeys_nothing(httpserver):
    url = httpserver.url_for
    serve_site(httpserver, f"User-agent: *\nDisallow: /\nSitemap: {url('/one.xml')}\n")
    records, _ = run_crawl([url("/")], sitemaps=True, robots=False)
    table = by_url(records)
    assert table[url("/b")].ok and table[url("/b")].via == "sitemap"
    assert sum(1 for req, _ in httpserver.log if req.path == "/robots.txt") == 1


def test_sitemap_since_keeps_recent_urls(httpserver):
    url = httpserver.url_for
    httpserver.expect_request("/").respond_with_response(html())
    dates = {url("/a"): "2024-06-01", url("/b"): "2023-12-31T23:00:00+00:00"}
    body = urlset(url("/a"), url("/b"), url("/c"), lastmod=dates)
    httpserver.expect_request("/sitemap.xml").respond_with_data(body, content_type="text/xml")
    httpserver.expect_request("/a").respond_with_response(html())
    records, _ = run_crawl([url("/")], sitemaps=True, sitemap_since="2024-01-01")
    table = by_url(records)
    assert url("/a") in table and url("/b") not in table and url("/c") not in table
    assert "2 older than --sitemap-since or undated" in table[url("/sitemap.xml")].detail


def test_feeds_rss_and_atom(httpserver):
    url = httpserver.url_for
    httpserver.expect_request("/").respond_with_response(html())
    rss = f'<rss version="2.0"><channel><item><link>{url("/a")}</link></item></channel></rss>'
    atom = (
        '<feed xmlns="http://www.w3.org/2005/Atom"><entry>'
        f'<link rel="alternate" href="{url("/b")}"/></entry></feed>'
    )
    httpserver.expect_request("/robots.txt").respond_with_data(
        f"Sitemap: {url('/rss')}\nSitemap: {url('/atom')}\n", content_type="text/plain"
    )
    httpserver.expect_request("/rss").respond_with_data(rss, content_type="application/rss+xml")
    httpserver.expect_request("/atom").respond_with_data(atom, content_type="application/atom+xml")
    for path in ("/a", "/b"):
        httpserver.expect_request(path).respond_with_response(html())
    records, _ = run_crawl([url("/")], sitemaps=True, robots=True)
    table = by_url(records)
    assert table[url("/rss")].sitemap_urls == table[url("/atom")].sitemap_urls == 1
    assert table[url("/a")].via == table[url("/b")].via == "sitemap"


BILLION_LAUGHS = (
    '<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10 if i > 1 else "&lol;" * 10}">'
        for i in range(1, 10)
    )
    + f"]>\n<urlset {NS}><url><loc>http://127.0.0.1/&lol9;</loc></url></urlset>"
)


def test_billion_laughs_and_external_entities_are_refused(httpserver, tmp_path):
    url = httpserver.url_for
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    xxe = (
        f'<?xml version="1.0"?><!DOCTYPE u [<!ENTITY x SYSTEM "file://{secret}">'
        f'<!ENTITY y SYSTEM "{url("/dtd-was-fetched")}">]>'
        f"<urlset {NS}><url><loc>{url('/')}&x;&y;</loc></url></urlset>"
    )
    httpserver.expect_request("/robots.txt").respond_with_data(
        f"Sitemap: {url('/laughs.xml')}\nSitemap: {url('/xxe.xml')}\n", content_type="text/plain"
    )
    httpserver.expect_request("/").respond_with_response(html())
    httpserver.expect_request("/laughs.xml").respond_with_data(
        BILLION_LAUGHS, content_type="text/xml"
    )
    httpserver.expect_request("/xxe.xml").respond_with_data(xxe, content_type="text/xml")
    records, stats = run_crawl([url("/")], sitemaps=True, robots=True)
    table = by_url(records)
    for path in ("/laughs.xml", "/xxe.xml"):
        record = table[url(path)]
        assert (record.error, record.sitemap_urls) == ("bad_sitemap", 0)
        assert "DOCTYPE" in record.detail
    assert "TOP-SECRET" not in repr(records)
    assert "/dtd-was-fetched" not in [req.path for req, _ in httpserver.log]
    assert len(records) == 4


MB = 1024 * 1024


def fifty_megabytes(other_host: str, compress: bool) -> Iterator[bytes]:
    """A 50 MB sitemap made while it is sent, gzipped on the fly if asked; the same row object
    is sent again and again, so the server allocates next to nothing in this process."""
    row = f"<url><loc>http://{other_host}/{'p' * 900}</loc></url>\n".encode()
    packer = zlib.compressobj(wbits=31) if compress else None
    parts = [f"<urlset {NS}>\n".encode(), *[row] * (50 * MB // len(row)), b"</urlset>"]
    for part in parts:
        out = packer.compress(part) if packer else part
        if out:
            yield out
    if packer:
        yield packer.flush()


def send_home_or_404(conn, path: str) -> None:
    """A raw server's answer to anything but its sitemap: a page at ``/``, 404 elsewhere."""
    body, status = (b"<title>t</title>", "200 OK") if path == "/" else (b"", "404 Not Found")
    conn.sendall(
        f"HTTP/1.1 {status}\r\nContent-Type: text/html\r\nContent-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n".encode()
        + body
    )


def serve_fifty_megabytes(compress: bool):
    """A raw HTTP handler: ``/`` a page, ``/sitemap.xml`` the 50 MB sitemap (no length: it
    ends when the connection closes), anything else 404; one request per connection."""

    def handle(server: RawServer, conn, number: int) -> None:
        head = server.read_head(conn, number)
        path = head.split()[1] if head else ""
        if path == "/sitemap.xml":
            kind = "application/gzip" if compress else "application/xml"
            conn.sendall(
                f"HTTP/1.1 200 OK\r\nContent-Type: {kind}\r\nConnection: close\r\n\r\n".encode()
            )
            for piece in fifty_megabytes("elsewhere.invalid", compress):
                conn.sendall(piece)
            return
        send_home_or_404(conn, path)

    return handle


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
def test_fifty_megabyte_sitemap_streams_within_the_cap(compress):
    with RawServer(serve_fifty_megabytes(compress)) as server:
        seed = server.url("/")
        run_crawl([seed], max_bytes=MB)  # imports and first-use caches, outside the count
        tracemalloc.start()
        try:
            records, _ = run_crawl([seed], sitemaps=True, max_bytes=MB, timeout=20)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    record = by_url(records)[server.url("/sitemap.xml")]
    assert record.error == "too_large" and record.sitemap_urls == 0
    assert "truncated at 1048576 bytes" in record.detail
    # Every URL read before the cap was kept (and here dropped as out of scope, and counted).
    dropped = int(record.detail.split("dropped ")[1].split()[0])
    assert MB // 1000 - 20 < dropped <= MB // 926
    assert len(records) == 3
    # 50 MB on offer, 1 MiB read: the body read, its entries and their URLs (measured 2.2 MiB).
    assert peak < 4 * MB, f"peak {peak / MB:.1f} MiB"


def test_truncated_sitemap_keeps_the_urls_read_before_the_cap(httpserver):
    url = httpserver.url_for
    httpserver.expect_request("/").respond_with_response(html())
    rows = [url(f"/p{i}") for i in range(400)]
    text = "".join(f"{row}\n" for row in rows)
    httpserver.expect_request("/sitemap.xml").respond_with_handler(
        lambda request: Response(iter([text.encode()]), content_type="text/plain")
    )
    for i in range(400):
        httpserver.expect_request(f"/p{i}").respond_with_response(html())
    cap = len(text) // 2
    records, _ = run_crawl([url("/")], sitemaps=True, max_bytes=cap)
    record = by_url(records)[url("/sitemap.xml")]
    kept = text[:cap].count("\n")
    assert (record.error, record.sitemap_urls) == ("too_large", kept)
    assert sum(1 for r in records if r.via == "sitemap") == kept


def test_request_encoding_keeps_sitemap_fields_and_reads_old_encodings():
    page = Request("http://a/x", 0, "http://a/s.xml", "a", via="sitemap")
    sitemap = Request("http://a/s.xml", 0, None, "a", via="robots", parse_as="sitemap")
    plain = Request("http://a/y", 2, "http://a/", "a", ("http://a/z",))
    for request in (page, sitemap, plain):
        assert decode_request(encode_request(request)) == request
    # A request queued by a version without the trailing fields still decodes.
    assert encode_request(plain).endswith(b'"a",["http://a/z"]]')


def sitemap_site(httpserver) -> list[str]:
    url = httpserver.url_for
    httpserver.expect_request("/robots.txt").respond_with_data(
        f"Sitemap: {url('/index.xml')}\n", content_type="text/plain"
    )
    httpserver.expect_request("/").respond_with_response(html("/p0"))
    pages = [url(f"/p{i}") for i in range(12)]
    dates = dict.fromkeys(pages, "2024-06-01")
    httpserver.expect_request("/index.xml").respond_with_data(
        index(url("/s1.xml"), url("/s2.xml.gz")), content_type="text/xml"
    )
    httpserver.expect_request("/s1.xml").respond_with_data(
        urlset(*pages[:6], lastmod=dates), content_type="text/xml"
    )
    httpserver.expect_request("/s2.xml.gz").respond_with_data(
        gzip.compress(urlset(*pages[6:], lastmod=dates).encode()), content_type="application/x-gzip"
    )
    for i in range(12):
        httpserver.expect_request(f"/p{i}").respond_with_response(html("/", "/p0"))
    return [
        url("/"),
        url("/robots.txt"),
        url("/index.xml"),
        url("/s1.xml"),
        url("/s2.xml.gz"),
        *pages,
    ]


@pytest.mark.parametrize(
    "options",
    [
        pytest.param({"mode": "threads", "workers": 4}, id="threads"),
        pytest.param(
            {"mode": "processes", "workers": 2}, id="processes", marks=pytest.mark.subprocess
        ),
        pytest.param(
            {"mode": "processes", "workers": 2, "greenlets": 4},
            id="processes-greenlets",
            marks=pytest.mark.subprocess,
        ),
    ],
)
def test_sitemaps_in_every_mode(threaded_server, options):
    expected = sitemap_site(threaded_server)
    records, _ = run_crawl([expected[0]], sitemaps=True, robots=True, depth=1, **options)
    assert sorted(r.url for r in records) == sorted(expected)
    assert all(r.ok for r in records)
    via = {r.url: r.via for r in records}
    # /p0 is a link of the seed and listed in a sitemap: whichever came first, one record.
    assert {via[url] for url in expected[6:]} == {"sitemap"}
    assert via[expected[4]] == "sitemap" and via[expected[2]] == "robots"
    paths = [req.path for req, _ in threaded_server.log]
    assert len(paths) == len(set(paths)), "a URL was fetched twice"


def test_sitemaps_with_a_state_file(httpserver, tmp_path):
    expected = sitemap_site(httpserver)
    state = str(tmp_path / "crawl.db")
    records, _ = run_crawl([expected[0]], sitemaps=True, robots=True, state=state)
    assert sorted(r.url for r in records) == sorted(expected)
    assert {r.via for r in records if r.url.endswith(".gz")} == {"sitemap"}


def test_sitemaps_with_a_redis_backend(threaded_server, redis_url):
    expected = sitemap_site(threaded_server)
    records, _ = run_crawl(
        [expected[0]], sitemaps=True, robots=True, backend=redis_url, crawl_id="sitemaps-test"
    )
    assert sorted(r.url for r in records) == sorted(expected)
    assert {r.via for r in records if r.url.endswith((".xml", ".gz"))} == {"robots", "sitemap"}


def test_gevent_mode_through_the_cli(threaded_server):
    expected = sitemap_site(threaded_server)
    code, records, stderr = cli_records(
        "--mode", "gevent", "--workers", "4", "--sitemaps", "-q", "-o", "-", expected[0]
    )
    assert code == 0, stderr
    assert sorted(r["url"] for r in records) == sorted(expected)
    assert {r["via"] for r in records if r["url"] == expected[-1]} == {"sitemap"}
    assert [r["sitemap_urls"] for r in records if r["url"] == expected[2]] == [2]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--sitemap-since", "2024-01-01"], "--sitemap-since applies with --sitemaps only"),
        (["--sitemaps", "--sitemap-since", "last week"], "'last week' is not a date"),
    ],
)
def test_bad_sitemap_options_are_one_line(args, message):
    result = CliRunner().invoke(app, [*args, "http://127.0.0.1:9/"])
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output


def test_a_redirected_sitemap_is_read_as_a_sitemap(httpserver):
    url = httpserver.url_for
    httpserver.expect_request("/").respond_with_response(html())
    httpserver.expect_request("/sitemap.xml").respond_with_data(
        "", status=301, headers={"Location": "/maps/real.xml"}
    )
    httpserver.expect_request("/maps/real.xml").respond_with_data(
        urlset(url("/a")), content_type="text/xml"
    )
    httpserver.expect_request("/a").respond_with_response(html())
    records, _ = run_crawl([url("/")], sitemaps=True)
    table = by_url(records)
    real = table[url("/maps/real.xml")]
    assert (real.via, real.sitemap_urls, real.redirects) == ("robots", 1, [url("/sitemap.xml")])
    assert table[url("/a")].via == "sitemap"


@pytest.mark.subprocess
def test_the_sitemaps_page_example_runs(threaded_server, tmp_path):
    expected = sitemap_site(threaded_server)
    (code,) = [code for _, code in python_blocks(os.path.join("docs", "sitemaps.md"))]
    out = run_program(code.replace("https://example.org/", expected[0]), tmp_path / "example.py")
    assert out.returncode == 0, out.stderr
    assert f"{expected[-1]} 200" in out.stdout.splitlines()


def test_queued_sitemap_fields_are_checked_on_pop():
    checker = RequestChecker(CrawlConfig(sitemaps=True))
    listed = Request("http://sub.a.org/x", 0, "http://a.org/s.xml", "a.org", via="sitemap")
    robots = Request("http://a.org/robots.txt", 0, None, "a.org", via="robots", parse_as="robots")
    for request in (listed, robots):
        assert checker.check(encode_request(request)) == request
    with pytest.raises(Rejected, match="scope"):
        checker.check(encode_request(listed._replace(url="http://b.org/x")))
    plain = encode_request(listed._replace(via=None))  # no trailing fields: ends with ",[]]"
    for fields in (["sitemap"], ["page", ""], [["sitemap"], {}], ["robots", "robots", 1]):
        forged = plain[:-1] + b"," + json.dumps(fields)[1:].encode()
        with pytest.raises(Rejected, match="sitemap fields"):
            checker.check(forged)


def test_block_private_applies_to_sitemaps(httpserver):
    url = httpserver.url_for
    httpserver.expect_request("/sitemap.xml").respond_with_data(urlset(url("/a")))
    records, _ = run_crawl([url("/")], sitemaps=True, robots=True, block_private=True)
    table = by_url(records)
    assert table[url("/sitemap.xml")].error == "blocked_address"
    assert table[url("/sitemap.xml")].sitemap_urls is None
    assert httpserver.log == []


def test_sitemap_fetches_are_archived_like_pages(httpserver, tmp_path):
    from warcio.archiveiterator import ArchiveIterator

    url = httpserver.url_for
    httpserver.expect_request("/").respond_with_response(html())
    httpserver.expect_request("/sitemap.xml").respond_with_data(
        urlset(url("/a")), content_type="text/xml"
    )
    httpserver.expect_request("/a").respond_with_response(html())
    warc = tmp_path / "crawl.warc.gz"
    records, _ = run_crawl([url("/")], sitemaps=True, warc=str(warc))
    sitemap = by_url(records)[url("/sitemap.xml")]
    assert sitemap.digest and sitemap.sitemap_urls == 1
    with open(warc, "rb") as handle:
        responses = [
            r.rec_headers.get_header("WARC-Target-URI")
            for r in ArchiveIterator(handle)
            if r.rec_type == "response"
        ]
    assert url("/sitemap.xml") in responses and url("/a") in responses


def test_a_sitemap_that_never_ends_is_cut_by_the_page_deadline(tmp_path):
    # The page deadline applies to a sitemap as to a page: a sitemap that sends a few entries
    # and then nothing is a "timeout" record, each attempt archived as cut (WARC-Truncated).
    from warcio.archiveiterator import ArchiveIterator

    def handle(server: RawServer, conn, number: int) -> None:
        head = server.read_head(conn, number)
        path = head.split()[1] if head else ""
        if path == "/sitemap.xml":
            start = urlset(server.url("/a")).split("</urlset>")[0].encode()
            conn.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\nConnection: close\r\n\r\n"
                + start
            )
            server.stopping.wait(30)  # and never the rest (until the test ends)
            return
        send_home_or_404(conn, path)

    warc = str(tmp_path / "cut.warc.gz")
    with RawServer(handle) as server:
        records, _ = run_crawl(  # two attempts (one retry, soon after), each cut
            [server.url("/")], sitemaps=True, timeout=0.5, deadline=1.0, warc=warc,
            retries=1, retry_backoff=0.1,
        )  # fmt: skip
    record = by_url(records)[server.url("/sitemap.xml")]
    assert record.error == "timeout" and record.via == "robots"
    assert server.url("/a") not in by_url(records)  # nothing from a sitemap that timed out
    with open(warc, "rb") as stream:
        cut = [
            r.rec_headers.get_header("WARC-Truncated")
            for r in ArchiveIterator(stream)
            if r.rec_type == "response"
            and r.rec_headers.get_header("WARC-Target-URI") == server.url("/sitemap.xml")
        ]
    assert record.attempts == 2
    assert cut == ["time"] * record.attempts  # every attempt (a timeout is retried)
