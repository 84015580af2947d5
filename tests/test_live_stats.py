"""Crawler.live_stats: what the health service reports while a crawl runs."""

import threading
import time

import pytest
from werkzeug import Response

from crawler.config import CrawlConfig
from crawler.engine import Crawler


@pytest.mark.timeout(30)
@pytest.mark.parametrize("mode", ["serial", "threads"])
def test_live_stats_count_in_flight_and_queued_pages(httpserver, mode):
    arrived, release = threading.Event(), threading.Event()

    def blocking(request):
        arrived.set()
        release.wait(20)
        return Response("<title>b</title>", content_type="text/html")

    links = "".join(f'<a href="/p{i}">p</a>' for i in range(5))
    httpserver.expect_request("/").respond_with_data(
        f"<a href='/block'>b</a>{links}", content_type="text/html"
    )
    httpserver.expect_request("/block").respond_with_handler(blocking)
    crawler = Crawler(CrawlConfig(mode=mode, workers=1, depth=1, robots=False))
    result = {}
    runner = threading.Thread(
        target=lambda: result.update(s=crawler.run([httpserver.url_for("/")]))
    )
    runner.start()
    try:
        assert arrived.wait(20)
        # The home page's record reaches the consumer asynchronously in threads mode.
        deadline = time.monotonic() + 20
        while (live := crawler.live_stats())["pages"] < 1:
            assert time.monotonic() < deadline, live
        assert live["in_flight"] == 1 and live["queued"] == 5
        assert live["pages"] == 1 and live["running"] is True and live["mode"] == mode
    finally:
        release.set()
        runner.join(20)
    assert result["s"].pages == 7
    assert crawler.live_stats()["in_flight"] == 0
