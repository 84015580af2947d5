"""Bodies: decoded-size cap with flat memory, content encodings, the page deadline against a
trickling server, charsets, and which content types are parsed."""

import gzip
import socket
import threading
import time
import tracemalloc
import zlib

import brotli
import pytest

from tests.support.helpers import run_crawl

MB = 1024 * 1024


def test_gzip_bomb_is_too_large_and_memory_stays_flat():
    bomb = gzip.compress(b"\0" * (10 * MB), compresslevel=9)
    assert len(bomb) < 20_000
    # A raw socket server: pytest-httpserver itself allocates ~10 MB in this process while it
    # serves this response, which would hide what the crawler does.
    head = (
        "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Encoding: gzip\r\n"
        f"Content-Length: {len(bomb)}\r\nConnection: close\r\n\r\n"
    ).encode()
    warm = RawServer(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
    server = RawServer(head + bomb)
    try:
        run_crawl([warm.url])  # imports and first-use caches, outside the count
        tracemalloc.start()
        try:
            records, _ = run_crawl([server.url], max_bytes=MB)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    finally:
        warm.close()
        server.close()
    assert records[0].error == "too_large"
    # The cap is 1 MiB of decoded bytes; 10 MiB were on offer. Reading stops near the cap
    # (measured: 1.2 MiB, the kept chunks; decoding the whole body first would hold 10 MiB).
    assert peak < 3 * MB, f"peak {peak / MB:.1f} MiB"


@pytest.mark.parametrize(
    "encoding, compress",
    [("gzip", gzip.compress), ("deflate", zlib.compress), ("br", brotli.compress)],
)
def test_content_encodings_are_decoded(httpserver, encoding, compress):
    html = b"<title>squeezed</title>" + b'<a href="/x">x</a>' * 500
    httpserver.expect_request("/").respond_with_data(
        compress(html), content_type="text/html", headers={"Content-Encoding": encoding}
    )
    records, _ = run_crawl([httpserver.url_for("/")])
    assert records[0].ok and records[0].title == "squeezed"
    assert records[0].bytes == len(html) and records[0].links == 1
    accept_encoding = httpserver.log[0][0].headers["Accept-Encoding"]
    assert encoding in accept_encoding


class RawServer:
    """A raw socket server on 127.0.0.1 for one connection: ``reply`` at once, then one more
    byte every ``pace`` seconds (none with ``pace=None``) until the client goes away or the
    test ends. Raw, so that it can misbehave, and allocates nothing in the test process."""

    def __init__(self, reply: bytes, pace: float | None = None) -> None:
        self.reply = reply
        self.pace = pace
        self.stop = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}/"
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        self.listener.settimeout(5)
        try:
            conn, _ = self.listener.accept()
        except OSError:
            return
        with conn:
            conn.recv(65536)
            conn.sendall(self.reply)
            while self.pace is not None and not self.stop.wait(self.pace):
                try:
                    conn.sendall(b"a")
                except OSError:
                    return
            self.stop.wait(10)

    def close(self) -> None:
        self.stop.set()
        self.listener.close()
        self.thread.join(5)


TRICKLE_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 100000\r\n\r\n"


@pytest.mark.parametrize(
    "head, pace",
    [
        (TRICKLE_HEAD, 0.2),
        (TRICKLE_HEAD, None),
        (b"HTTP/1.1 200 OK\r\nX-Slow: ", 0.2),
        (b"HTTP/1.1 2", 0.2),
    ],
    ids=["body-trickle", "body-stalled", "header-trickle", "status-trickle"],
)
def test_a_trickling_or_stalled_server_is_cut_at_the_page_deadline(head, pace):
    server = RawServer(head, pace)
    try:
        started = time.monotonic()
        records, _ = run_crawl([server.url], timeout=10, deadline=1.0)
        took = time.monotonic() - started
    finally:
        server.close()
    record = records[0]
    assert record.error == "timeout" and "page took over 1 s" in record.detail
    assert record.attempts == 1  # a spent deadline is not retried
    assert 0.9 <= took < 2.0, took


def test_the_declared_charset_then_meta_then_detection(httpserver):
    cyrillic = "Съешь же ещё этих мягких французских булок, да выпей чаю. " * 4
    pages = {
        # Header names a charset Python does not know: the meta charset decides.
        "/meta": (
            "text/html; charset=x-no-such",
            f'<meta charset="windows-1251"><title>Привет</title><p>{cyrillic}'.encode("cp1251"),
        ),
        # Nothing declared, not UTF-8: detection.
        "/detect": ("text/html", f"<title>Привет</title><p>{cyrillic}".encode("cp1251")),
        # The header wins over a contradicting meta.
        "/header": (
            "text/html; charset=koi8-r",
            '<meta charset="utf-8"><title>Привет</title>'.encode("koi8-r"),
        ),
    }
    for path, (content_type, body) in pages.items():
        httpserver.expect_request(path).respond_with_data(body, content_type=content_type)
    records, _ = run_crawl([httpserver.url_for(p) for p in pages])
    assert [r.title for r in records] == ["Привет"] * 3


def test_bytes_that_lie_about_their_charset_are_still_parsed(httpserver):
    body = "<title>café ÿ</title><a href='/a'>a</a><a href='/b'>b</a>".encode("latin-1")
    body += b"\xff\xfe\x80 <a href='/c'>c</a>"
    httpserver.expect_request("/").respond_with_data(body, content_type="text/html; charset=utf-8")
    records, _ = run_crawl([httpserver.url_for("/")])
    assert records[0].ok and records[0].links == 3
    assert records[0].title.startswith("caf")


def test_accept_decides_which_types_are_parsed_for_links(httpserver):
    httpserver.expect_request("/t").respond_with_data(
        "<a href='/x'>x</a><a href='/y'>y</a>", content_type="text/plain"
    )
    default, _ = run_crawl([httpserver.url_for("/t")])
    assert default[0].links == 0
    accepted, _ = run_crawl([httpserver.url_for("/t")], accept=("text/plain", "text/html"))
    assert accepted[0].links == 2
    sent = httpserver.log[-1][0].headers["Accept"]
    assert sent.startswith("text/plain,text/html")


def test_a_body_read_in_one_piece_gives_no_turn_away_but_a_longer_one_does(httpserver, monkeypatch):
    # A turn after the only piece made the page, and so its host's next start, wait for every
    # other runnable loop; a body of several pieces still lets the others run between them.
    from crawler.config import CrawlConfig
    from crawler.http import core
    from crawler.http.urllib3_fetcher import Urllib3Fetcher

    turns: list[int] = []
    monkeypatch.setattr(core, "yield_now", lambda: turns.append(1))
    httpserver.expect_request("/small").respond_with_data(
        "<title>s</title>", content_type="text/html"
    )
    big = b"x" * (3 * core.CHUNK)
    httpserver.expect_request("/big").respond_with_data(big, content_type="text/plain")
    fetcher = Urllib3Fetcher(CrawlConfig(robots=False))
    try:
        small = fetcher.fetch(httpserver.url_for("/small"))
        assert small.body == b"<title>s</title>" and turns == []
        assert fetcher.fetch(httpserver.url_for("/big")).body == big
        assert turns
    finally:
        fetcher.close()
