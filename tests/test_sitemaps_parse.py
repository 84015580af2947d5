"""The sitemap reader on its own (sans-IO): formats, dates, the cap, gzip and hostile XML."""

import gzip
import time
import tracemalloc
from datetime import UTC, datetime

import pytest

from crawler.sitemaps.dates import parse_date
from crawler.sitemaps.parse import Entry, read_sitemap

NS = 'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'
URLSET = (
    f'<?xml version="1.0" encoding="UTF-8"?>\n<urlset {NS}>'
    "<url><loc>http://a/1</loc><lastmod>2024-05-01</lastmod></url>"
    "<url><loc> http://a/2?x=1&amp;y=2 </loc></url></urlset>"
).encode()


def pieces(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


@pytest.mark.parametrize("size", [1, 7, 4096])
def test_urlset_in_any_piece_size(size):
    sitemap = read_sitemap(pieces(URLSET, size), 10**6)
    assert sitemap.kind == "urlset" and sitemap.error is None and not sitemap.truncated
    assert sitemap.entries == [
        Entry("http://a/1", datetime(2024, 5, 1, tzinfo=UTC)),
        Entry("http://a/2?x=1&y=2"),
    ]


def test_gzip_and_concatenated_members():
    data = gzip.compress(URLSET[:100]) + gzip.compress(URLSET[100:])
    assert [e.url for e in read_sitemap(pieces(data, 5), 10**6).entries] == [
        "http://a/1",
        "http://a/2?x=1&y=2",
    ]


def test_index_entries_are_sitemaps():
    index = f"<sitemapindex {NS}><sitemap><loc>http://a/s.xml</loc></sitemap></sitemapindex>"
    sitemap = read_sitemap([index.encode()], 10**6)
    assert sitemap.kind == "sitemapindex" and sitemap.entries == [
        Entry("http://a/s.xml", None, True)
    ]


def test_text_sitemap_lines_across_pieces():
    text = b"\xef\xbb\xbf\n  http://a/1\r\nfoo\nhttps://a/2\nhttp://a/3"
    assert [e.url for e in read_sitemap(pieces(text, 3), 10**6).entries] == [
        "http://a/1",
        "https://a/2",
        "http://a/3",
    ]


def test_feeds():
    rss = (
        '<rss version="2.0"><channel><title>t</title><item><link>http://a/r</link>'
        "<pubDate>Wed, 01 May 2024 10:00:00 GMT</pubDate></item></channel></rss>"
    )
    atom = (
        '<feed xmlns="http://www.w3.org/2005/Atom"><entry><link rel="self" href="http://a/self"/>'
        '<link href="http://a/at"/><updated>2024-05-01T00:00:00Z</updated></entry></feed>'
    )
    assert read_sitemap([rss.encode()], 10**6).entries == [
        Entry("http://a/r", datetime(2024, 5, 1, 10, tzinfo=UTC))
    ]
    assert read_sitemap([atom.encode()], 10**6).entries == [
        Entry("http://a/at", datetime(2024, 5, 1, tzinfo=UTC))
    ]


def test_dates():
    assert parse_date("2024") == datetime(2024, 1, 1, tzinfo=UTC)
    assert parse_date("2024-05") == datetime(2024, 5, 1, tzinfo=UTC)
    assert parse_date("2024-05-01T12:00:00+02:00") == datetime(2024, 5, 1, 10, tzinfo=UTC)
    assert parse_date("yesterday") is None and parse_date("2024-13") is None


def test_the_cap_keeps_entries_read_before_it():
    sitemap = read_sitemap([URLSET], URLSET.index(b"</url>") + 6)
    assert sitemap.truncated and sitemap.error is None
    assert [e.url for e in sitemap.entries] == ["http://a/1"]


def test_a_cut_body_is_not_an_error():
    sitemap = read_sitemap([URLSET[:-20]], 10**6, complete=False)
    assert sitemap.truncated and sitemap.error is None and len(sitemap.entries) == 1


def test_gzip_bomb_stops_at_the_cap_with_flat_memory():
    bomb = gzip.compress(b" " * (200 * 1024 * 1024), compresslevel=9)
    started = time.monotonic()
    tracemalloc.start()
    try:
        sitemap = read_sitemap([bomb], 1024 * 1024)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert sitemap.truncated and sitemap.entries == []
    # 200 MiB on offer: reading stops at the 1 MiB cap, holding a few pieces at a time.
    assert peak < 2 * 1024 * 1024 and time.monotonic() - started < 5


@pytest.mark.parametrize(
    "document, error",
    [
        (b'<!DOCTYPE x [<!ENTITY a "b">]><urlset><url><loc>&a;</loc></url></urlset>', "DOCTYPE"),
        (b'<!DOCTYPE urlset SYSTEM "http://127.0.0.1:9/x.dtd"><urlset/>', "DOCTYPE"),
        (b"<html><body>hi</body></html>", "root element is <html>"),
        (b"<urlset><url><loc>&undefined;</loc></url></urlset>", "not well-formed"),
        (b"\x1f\x8b\x08\x00garbage", "bad gzip"),
        (gzip.compress(URLSET)[:-30], "bad gzip data: the gzip stream ends early"),
        (b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff" + b"\xff" * 40, "bad gzip"),
    ],
)
def test_refused_documents(document, error):
    sitemap = read_sitemap(pieces(document, 4), 10**6)
    assert error in sitemap.error and sitemap.entries == []


@pytest.mark.parametrize("size", [1, 1000, 10**7])
def test_a_big_gzip_sitemap_reads_to_its_last_entry(size):
    rows = "".join(f"<url><loc>http://a/{i}</loc></url>" for i in range(20_000))
    data = gzip.compress(f"<urlset {NS}>{rows}</urlset>".encode())
    sitemap = read_sitemap(pieces(data, size), 10**7)
    assert sitemap.error is None and not sitemap.truncated
    assert len(sitemap.entries) == 20_000 and sitemap.entries[-1].url == "http://a/19999"
