"""Both fetchers, one contract: one exchange, no redirects, timeouts, deadline, decoded-size cap,
failures as error kinds. Real sockets on 127.0.0.1 only (pytest-httpserver, a closed port)."""

from __future__ import annotations

import gzip
import socket
import time

import pytest
from werkzeug import Response

from crawler.config import CrawlConfig
from crawler.http.registry import FETCHERS, open_fetcher

pytestmark = pytest.mark.timeout(30)


@pytest.fixture(params=sorted(FETCHERS))
def make(request):
    opened = []

    def make(**options):
        fetcher = open_fetcher(CrawlConfig(fetcher=request.param, **options))
        opened.append(fetcher)
        return fetcher

    yield make
    for fetcher in opened:
        fetcher.close()


def test_ok_page_headers_lowercased_and_user_agent_sent(httpserver, make):
    httpserver.expect_request("/a", headers={"User-Agent": "probe/1"}).respond_with_data(
        "<p>hi</p>", content_type="text/html; charset=utf-8"
    )
    response = make(user_agent="probe/1").fetch(httpserver.url_for("/a"))
    assert (response.status, response.error, response.body) == (200, None, b"<p>hi</p>")
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.content_type == "text/html"
    assert response.elapsed_ms >= 0


def test_redirect_is_returned_not_followed(httpserver, make):
    httpserver.expect_request("/old").respond_with_response(
        Response(status=301, headers={"Location": "/new"})
    )
    response = make().fetch(httpserver.url_for("/old"))
    assert response.status == 301 and response.headers["location"] == "/new"
    assert [req.path for req, _ in httpserver.log] == ["/old"]


def test_http_error_status_is_a_response_not_an_error(httpserver, make):
    httpserver.expect_request("/gone").respond_with_data("no", status=404)
    response = make().fetch(httpserver.url_for("/gone"))
    assert response.status == 404 and response.error is None


def test_cap_applies_to_declared_and_to_decoded_size(httpserver, make):
    httpserver.expect_request("/big").respond_with_data(b"x" * 5000)
    bomb = gzip.compress(b"y" * 50_000)  # 50 KB decoded from well under 1 KB sent
    httpserver.expect_request("/bomb").respond_with_response(
        Response(bomb, headers={"Content-Encoding": "gzip"}, content_type="text/html")
    )
    httpserver.expect_request("/small").respond_with_response(
        Response(gzip.compress(b"z" * 900), headers={"Content-Encoding": "gzip"})
    )
    fetcher = make(max_bytes=1000)
    assert fetcher.fetch(httpserver.url_for("/big")).error == "too_large"
    assert fetcher.fetch(httpserver.url_for("/bomb")).error == "too_large"
    small = fetcher.fetch(httpserver.url_for("/small"))
    assert small.error is None and small.body == b"z" * 900


def test_connection_refused_is_connect(make):
    with socket.socket() as s:  # a port that was free a moment ago and now has no listener
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    response = make(timeout=2).fetch(f"http://127.0.0.1:{port}/")
    assert response.error == "connect" and response.status is None and response.detail


def test_slow_response_is_timeout(httpserver, make):
    def slow(request):
        time.sleep(1.0)  # server-side slowness is the thing under test
        return Response("late")

    httpserver.expect_request("/slow").respond_with_handler(slow)
    response = make(timeout=0.2).fetch(httpserver.url_for("/slow"))
    assert response.error == "timeout"


def test_trickling_body_hits_the_page_deadline(httpserver, make):
    def trickle():
        for _ in range(40):
            time.sleep(0.05)  # each chunk arrives well within the read timeout
            yield b"." * 100

    httpserver.expect_request("/trickle").respond_with_handler(lambda request: Response(trickle()))
    started = time.monotonic()
    response = make(timeout=1, deadline=0.5).fetch(httpserver.url_for("/trickle"))
    assert response.error == "timeout" and "0.5" in response.detail
    assert time.monotonic() - started < 1.8


def test_connection_is_reused_after_an_error_response(httpserver, make):
    httpserver.expect_request("/big").respond_with_data(b"x" * 5000)
    httpserver.expect_request("/ok").respond_with_data("fine")
    fetcher = make(max_bytes=1000)
    assert fetcher.fetch(httpserver.url_for("/big")).error == "too_large"
    for _ in range(3):
        assert fetcher.fetch(httpserver.url_for("/ok")).body == b"fine"
