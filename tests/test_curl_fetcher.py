"""What only the curl fetcher needs (its contract with the others runs in tests/test_fetchers.py,
test_fetch_reads.py, test_warc.py ... through the ``make`` fixture and FETCHERS): it is refused
where it would block gevent's hub, and with --block-private no socket is opened to a refused
address even should libcurl resolve a name itself."""

from __future__ import annotations

import gzip
import subprocess
import sys

import pytest

from crawler.config import CrawlConfig
from crawler.errors import ConfigError
from crawler.http.curl_fetcher import CurlFetcher
from crawler.http.curl_head import read_head
from tests.support.cli import run_cli
from tests.support.paths import ROOT
from tests.support.raw_server import RawServer

pytestmark = pytest.mark.timeout(30)


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"mode": "gevent"}, "--mode gevent"),
        ({"mode": "processes", "greenlets": 4}, "--greenlets"),
    ],
)
def test_curl_is_refused_where_it_would_block_the_gevent_hub(options, named):
    with pytest.raises(ConfigError, match=f"--fetcher curl cannot run with {named}"):
        CrawlConfig(fetcher="curl", **options)
    CrawlConfig(fetcher="curl", mode="processes")  # without greenlets it is fine
    CrawlConfig(fetcher="curl", mode="threads")


def test_the_cli_refuses_curl_under_gevent_in_one_line():
    out = run_cli("run", "--mode", "gevent", "--fetcher", "curl", "http://127.0.0.1:1/")
    assert out.returncode == 2
    assert out.stderr.strip().count("\n") == 0 and "--fetcher curl cannot run" in out.stderr
    assert "Traceback" not in out.stderr


def test_no_socket_to_a_refused_address_even_if_libcurl_resolves_the_name(monkeypatch):
    # The fetcher gives libcurl the addresses it checked; should libcurl ever look a name up
    # itself (here: the fetcher's lookup is skipped), the socket callback still refuses.
    def pages(server, conn, number):
        while server.read_head(conn, number) is not None:
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")

    with RawServer(pages) as server:
        fetcher = CurlFetcher(CrawlConfig(fetcher="curl", block_private=True))
        monkeypatch.setattr(fetcher, "_resolve", lambda url, netloc, now: (float("inf"), 1))
        try:
            response = fetcher.fetch(f"http://localhost:{server.port}/")
        finally:
            fetcher.close()
        assert response.error == "blocked_address" and "non-public" in response.detail
        assert server.requests == []


def test_the_last_response_s_head_is_read_after_an_interim_one():
    lines = [
        b"HTTP/1.1 100 Continue\r\n",
        b"\r\n",
        b"HTTP/1.1 200 OK\r\n",
        b"Content-Type: text/html\r\n",
        b"Set-Cookie: a=1\r\n",
        b"set-cookie: b=2\r\n",
        b"X-Folded: one\r\n",
        b"  two\r\n",
        b"\r\n",
    ]
    status, headers, cookies = read_head(lines)
    assert status == 200 and cookies == ("a=1", "b=2")
    assert headers == {"content-type": "text/html", "set-cookie": "a=1, b=2", "x-folded": "one two"}
    assert read_head([]) == (None, {}, ())
    assert read_head(lines[:2]) == (None, {}, ())  # only the interim response
    assert read_head(lines[:5]) == (None, {}, ())  # the head cut short


def test_without_pycurl_the_config_names_the_extra_to_install(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "pycurl" else real(name, *a)
    )
    with pytest.raises(ConfigError, match=r"pip install 'crawler\[curl\]'"):
        CrawlConfig(fetcher="curl")
    CrawlConfig(fetcher="urllib3")  # the others do not need it


def test_libcurl_s_codes_get_the_kinds_the_other_fetchers_give():
    import pycurl

    from crawler.http.curl_kinds import KINDS, kind_of

    named = {
        "E_COULDNT_RESOLVE_HOST": "dns",
        "E_COULDNT_CONNECT": "connect",
        "E_COULDNT_RESOLVE_PROXY": "connect",
        "E_OPERATION_TIMEDOUT": "timeout",
        "E_SSL_CONNECT_ERROR": "tls",
        "E_PEER_FAILED_VERIFICATION": "tls",
        "E_FTP_WEIRD_SERVER_REPLY": "protocol",  # CURLE_WEIRD_SERVER_REPLY, by its old name
        "E_PARTIAL_FILE": "protocol",
        "E_GOT_NOTHING": "protocol",
        "E_RECV_ERROR": "protocol",
        "E_BAD_CONTENT_ENCODING": "decode",
        "E_URL_MALFORMAT": "invalid_url",
    }
    assert {name: KINDS[getattr(pycurl, name)] for name in named} == named
    assert kind_of(pycurl.E_PARTIAL_FILE, "cut")[1].startswith("IncompleteRead")
    assert kind_of(12345, "new")[0] == "fetch"


# A crawl of RawServer's pages with the curl fetcher, in a fresh interpreter: its pages, the
# first page's title, and whether urllib3 was imported.
_CRAWL = """
import sys
import crawler
records = list(crawler.crawl(sys.argv[1], fetcher="curl", depth=1))
print(len(records), records[0].title, "urllib3" in sys.modules)
"""


def _crawl_in_a_fresh_process(encoded: bool) -> list[str]:
    page = b'<html><title>Home</title><a href="/next">next</a></html>'
    body = gzip.compress(page) if encoded else page
    coding = b"Content-Encoding: gzip\r\n" if encoded else b""

    def pages(server, conn, number):
        while server.read_head(conn, number) is not None:
            head = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n%sContent-Length: %d\r\n\r\n"
            conn.sendall(head % (coding, len(body)) + body)

    with RawServer(pages) as server:
        cmd = [sys.executable, "-c", _CRAWL, server.url("/")]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    return out.stdout.split()


@pytest.mark.subprocess
def test_a_curl_crawl_of_plain_pages_never_imports_urllib3():
    # Importing urllib3 costs a crawl more CPU than a hundred 100 KB pages: the curl fetcher
    # needs it only to decode a content-encoded body, with urllib3's own decoders.
    assert _crawl_in_a_fresh_process(encoded=False) == ["2", "Home", "False"]
    assert _crawl_in_a_fresh_process(encoded=True) == ["2", "Home", "True"]


def test_curl_asks_for_the_encodings_urllib3_asks_for():
    import urllib3

    from crawler.http.decoding import ACCEPT_ENCODING as ENCODINGS

    assert urllib3.util.make_headers(accept_encoding=True)["accept-encoding"] == ENCODINGS
