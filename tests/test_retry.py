"""Retries: what is retried, how long between attempts (measured at the server), attempts."""

import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from werkzeug import Response

from crawler.base import Response as FetchResponse
from crawler.config import CrawlConfig
from crawler.http.requests_fetcher import RequestsFetcher
from crawler.http.retry import Retrier, parse_retry_after
from tests.support.helpers import run_crawl


def sequence(times: list[float], *responses: Response):
    """A handler answering with ``responses`` in turn (the last one forever), stamping arrivals."""

    def handler(request):
        times.append(time.monotonic())
        return responses[min(len(times), len(responses)) - 1]

    return handler


def ok() -> Response:
    return Response("<title>ok</title>", content_type="text/html")


def test_retry_after_seconds_is_honoured_and_attempts_recorded(httpserver):
    times: list[float] = []
    busy = Response("busy", status=503, headers={"Retry-After": "1"})
    httpserver.expect_request("/").respond_with_handler(sequence(times, busy, ok()))
    # A backoff base of 5 s would wait 5-10 s: the header's 1 s must win.
    records, _ = run_crawl([httpserver.url_for("/")], retry_backoff=5.0)
    assert records[0].ok and records[0].status == 200 and records[0].attempts == 2
    assert 0.95 <= times[1] - times[0] < 2.0


def test_retry_after_http_date_and_the_cap(httpserver):
    times: list[float] = []
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=600), usegmt=True)
    busy = Response("slow down", status=429, headers={"Retry-After": later})
    httpserver.expect_request("/").respond_with_handler(sequence(times, busy, ok()))
    records, _ = run_crawl([httpserver.url_for("/")], max_retry_wait=0.3)
    assert records[0].ok and records[0].attempts == 2
    assert 0.28 <= times[1] - times[0] < 1.5


def test_server_errors_are_retried_up_to_the_limit(httpserver):
    times: list[float] = []
    httpserver.expect_request("/").respond_with_handler(
        sequence(times, Response("oops", status=502))
    )
    records, _ = run_crawl([httpserver.url_for("/")], retries=3, retry_backoff=0.05)
    assert len(times) == 4 and records[0].attempts == 4
    assert records[0].error == "http_error" and records[0].status == 502
    # Exponential: 0.05-0.1 s, then 0.1-0.2 s, then 0.2-0.4 s.
    waits = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert 0.045 <= waits[0] < waits[2] and 0.19 <= waits[2] < 0.6


@pytest.mark.parametrize("status", [404, 403, 400, 501])
def test_other_errors_are_not_retried(httpserver, status):
    httpserver.expect_request("/").respond_with_data("no", status=status)
    records, _ = run_crawl([httpserver.url_for("/")], retry_backoff=0.01)
    assert len(httpserver.log) == 1 and records[0].attempts == 1


def test_connect_errors_are_retried():
    records, _ = run_crawl(["http://127.0.0.1:1/"], retries=2, retry_backoff=0.01)
    assert records[0].error == "connect" and records[0].attempts == 3


def test_zero_retries_means_one_attempt(httpserver):
    httpserver.expect_request("/").respond_with_data("down", status=503)
    records, _ = run_crawl([httpserver.url_for("/")], retries=0)
    assert len(httpserver.log) == 1 and records[0].attempts == 1


def test_parse_retry_after():
    now = datetime(2024, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after("Mon, 01 Jan 2024 12:00:30 GMT", now) == 30.0
    assert parse_retry_after("Mon, 01 Jan 2024 11:00:00 GMT", now) == 0.0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None
    assert parse_retry_after("-5") is None


class _RecordingClock:
    def __init__(self, log: list[str]) -> None:
        self.log = log

    def acquire(self, host: str, granted: bool = False) -> None:
        self.log.append("acquire")

    def release(self, host: str) -> None:
        self.log.append("release")

    def set_delay(self, host: str, seconds: float) -> float:
        return seconds

    def observe(self, host, latency, status, retry_after) -> None:
        self.log.append("observe")


def test_waiting_between_attempts_does_not_hold_the_host(httpserver):
    httpserver.expect_request("/").respond_with_data("down", status=503)
    log: list[str] = []
    config = CrawlConfig(retries=2, retry_backoff=0.01)
    fetcher = RequestsFetcher(config)
    retrier = Retrier(config, fetcher, _RecordingClock(log), sleep=lambda s: log.append("sleep"))
    response, attempts = retrier.fetch(httpserver.url_for("/"))
    fetcher.close()
    assert attempts == 3 and response.status == 503
    assert log == ["acquire", "release", "sleep"] * 2 + ["acquire", "release"]


def test_backoff_doubles_with_jitter_and_is_capped():
    config = CrawlConfig(retries=10, retry_backoff=0.5, max_retry_wait=3.0)
    low = Retrier(config, None, None, jitter=lambda: 0.0)  # type: ignore[arg-type]
    high = Retrier(config, None, None, jitter=lambda: 1.0)  # type: ignore[arg-type]
    failed = FetchResponse(url="u", error="timeout")
    assert [low.wait_before_retry(failed, n) for n in (1, 2, 3, 4)] == [0.5, 1.0, 2.0, 3.0]
    assert [high.wait_before_retry(failed, n) for n in (1, 2)] == [1.0, 2.0]
    spent = FetchResponse(url="u", error="timeout", final=True)
    assert low.wait_before_retry(spent, 1) is None
    assert low.wait_before_retry(FetchResponse(url="u", error="dns"), 1) is None


def test_a_stopping_crawl_starts_no_new_attempt(httpserver):
    """Once the crawl is stopping (Ctrl-C: its frontier closed), a failed attempt is final: no
    retry starts, and a wait before one is cut short as soon as the stop is seen."""
    httpserver.expect_request("/").respond_with_data("down", status=503)
    config = CrawlConfig(retries=3, retry_backoff=5.0, max_retry_wait=5.0)
    fetcher = RequestsFetcher(config)
    stopping = [False]
    slept: list[float] = []

    def sleep(seconds: float) -> None:  # the stop comes during the first wait
        slept.append(seconds)
        stopping[0] = True

    retrier = Retrier(
        config, fetcher, _RecordingClock([]), sleep=sleep, stopping=lambda: stopping[0]
    )
    response, attempts = retrier.fetch(httpserver.url_for("/"))
    assert attempts == 1 and response.status == 503
    assert len(slept) == 1 and slept[0] <= 0.1  # one short slice of the 5 s wait, not all of it
    # Stopped before the first attempt ends: no wait at all.
    slept.clear()
    response, attempts = retrier.fetch(httpserver.url_for("/"))
    fetcher.close()
    assert attempts == 1 and slept == []
    assert len(httpserver.log) == 2
