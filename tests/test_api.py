"""The library API as a program uses it: crawl() streaming, Crawler with stop, outputs."""

import csv
import json
import os
import threading
import time

import pytest
from werkzeug import Response

import crawler
from crawler import ConfigError, CrawlConfig, Crawler, OutputError, Record
from tests.support.cli import run_python
from tests.support.paths import ROOT

EXPECTED_NAMES = [
    "crawl",
    "CrawlStream",
    "Crawler",
    "CrawlConfig",
    "Record",
    "Page",
    "Follow",
    "Stats",
    "CrawlerError",
    "ConfigError",
    "ModeUnavailable",
    "OutputError",
    "SourceError",
    "InvalidURL",
    "__version__",
]


def html(body: str, title: str = "T") -> Response:
    return Response(
        f"<html><head><title>{title}</title></head><body>{body}</body></html>",
        content_type="text/html; charset=utf-8",
    )


def test_exported_names_are_exactly_the_public_api():
    assert crawler.__all__ == EXPECTED_NAMES
    for name in EXPECTED_NAMES:
        assert getattr(crawler, name) is not None, name
    assert set(EXPECTED_NAMES) <= set(dir(crawler))
    with pytest.raises(AttributeError):
        crawler.nope  # noqa: B018


def test_py_typed_ships_with_the_package():
    assert os.path.isfile(os.path.join(ROOT, "crawler", "py.typed"))
    with open(os.path.join(ROOT, "setup.cfg")) as handle:
        assert "crawler = py.typed" in handle.read()


def test_importing_the_api_leaves_the_http_stack_and_gevent_alone():
    code = (
        "import sys, crawler\n"
        "from crawler import *\n"
        "crawler.crawl, crawler.Crawler, crawler.Page, crawler.Follow\n"
        "heavy = ('ssl', 'requests', 'urllib3', 'lxml', 'gevent', 'bs4', 'w3lib')\n"
        "print([m for m in heavy if m in sys.modules])\n"
    )
    out = run_python(code, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_records_stream_while_the_crawl_is_still_running(httpserver):
    # /slow answers only once the test has received the first record: a crawl() that collected
    # everything before yielding would wait forever (and time out) here.
    released = threading.Event()

    def slow(_request):
        released.wait(10)
        return html("slow")

    httpserver.expect_request("/fast").respond_with_response(html("fast"))
    httpserver.expect_request("/slow").respond_with_handler(slow)
    stream = crawler.crawl([httpserver.url_for("/fast"), httpserver.url_for("/slow")])
    try:
        first = next(stream)
        assert first.url == httpserver.url_for("/fast") and first.status == 200
        assert stream.stats is None  # still running
    finally:
        released.set()
    rest = list(stream)
    assert [r.url for r in rest] == [httpserver.url_for("/slow")]
    assert stream.stats.pages == 2 and not stream.stats.stopped
    assert isinstance(first, Record) and first.to_dict()["title"] == "T"


def test_one_url_or_many_config_and_overrides(httpserver):
    httpserver.expect_request("/").respond_with_response(html('<a href="/a">a</a>'))
    httpserver.expect_request("/a").respond_with_response(html(""))
    url = httpserver.url_for("/")
    assert [r.url for r in crawler.crawl(url)] == [url]
    assert len(list(crawler.crawl([url], depth=1))) == 2
    base = CrawlConfig(depth=1, timeout=5)
    assert len(list(crawler.crawl(url, config=base))) == 2
    assert len(list(crawler.crawl(url, config=base, depth=0))) == 1


def test_bad_options_fail_at_the_call_before_any_fetch(httpserver):
    with pytest.raises(TypeError, match="unknown option 'dept'; did you mean 'depth'"):
        crawler.crawl(httpserver.url_for("/"), dept=2)
    with pytest.raises(ConfigError, match="depth must be 0 or more"):
        crawler.crawl(httpserver.url_for("/"), depth=-1)
    with pytest.raises(ConfigError, match="parse must be a callable"):
        crawler.crawl(httpserver.url_for("/"), parse="module:function")
    assert httpserver.log == []


def test_break_stops_the_crawl_and_leaves_no_thread(fresh_site):
    before = set(threading.enumerate())
    with crawler.crawl(fresh_site.url, depth=50, buffer=1) as stream:
        for record in stream:
            assert record.url == fresh_site.url
            break
    assert stream.stats.stopped and not stream.stats.interrupted
    fetched = sum(fresh_site.counts().values())
    assert fetched < len(fresh_site.manifest()["pages"]) // 2
    assert set(threading.enumerate()) == before
    # The plain form: the last reference to the stream goes with the loop.
    for _ in crawler.crawl(fresh_site.url, depth=50):
        break
    assert set(threading.enumerate()) == before


def test_crawl_twice_in_one_process_gives_the_same_records(site):
    first = sorted((r.url, r.status, r.error) for r in crawler.crawl(site.url, depth=50))
    second = sorted((r.url, r.status, r.error) for r in crawler.crawl(site.url, depth=50))
    assert first == second and len(first) == len(site.manifest()["pages"])


def test_crawler_stop_from_a_sink_and_before_run(fresh_site):
    seen = []

    class StopAfterThree:
        def write(self, record):
            seen.append(record)
            if len(seen) == 3:
                engine.stop()

        def close(self):
            pass

    engine = Crawler(CrawlConfig(depth=50), [StopAfterThree()])
    stats = engine.run([fresh_site.url])
    assert stats.stopped and len(seen) == 3 and stats.pages == 3
    engine.stop()  # a stop before run applies to that run ...
    assert engine.run([fresh_site.url]).pages == 0
    full = engine.run([fresh_site.url])  # ... and only to that one
    assert full.pages == len(fresh_site.manifest()["pages"]) and not full.stopped


def test_records_and_items_go_to_files_and_to_on_item(httpserver, tmp_path):
    httpserver.expect_request("/").respond_with_response(html('<a href="/b">b</a>', "Home"))
    httpserver.expect_request("/b").respond_with_response(html("", "B"))
    got = []

    def parse(page):
        yield {"title": page.title, "tags": ["x", "y"]}
        if page.title == "Home":
            yield {"title": "extra", "only_here": 1}

    for suffix in ("jsonl", "csv"):
        records_file = tmp_path / f"records.{suffix}"
        items_file = tmp_path / f"items.{suffix}"
        stream = crawler.crawl(
            httpserver.url_for("/"),
            depth=1,
            parse=parse,
            output=str(records_file),
            items_output=str(items_file),
            on_item=got.append,
        )
        assert len(list(stream)) == 2 and stream.stats.items == 3
        if suffix == "jsonl":
            items = [json.loads(line) for line in items_file.read_text().splitlines()]
            records = [json.loads(line) for line in records_file.read_text().splitlines()]
            assert items[0] == {"title": "Home", "tags": ["x", "y"]}
            assert list(records[0])[-1] == "items" and records[0]["items"][0] == items[0]
        else:
            with open(items_file, newline="") as handle:
                items = list(csv.DictReader(handle))
            # The header is the first item's keys; a nested value is written as JSON.
            assert items[0] == {"title": "Home", "tags": '["x", "y"]'}
            with open(records_file, newline="") as handle:
                row = next(csv.DictReader(handle))
            assert json.loads(row["items"])[0]["title"] == "Home"
        assert sorted(item["title"] for item in items) == ["B", "Home", "extra"]
    assert len(got) == 6


def test_an_output_that_cannot_be_opened_is_one_clear_error(httpserver, tmp_path):
    bad = str(tmp_path / "no" / "such" / "dir.jsonl")
    stream = crawler.crawl(httpserver.url_for("/"), items_output=bad)
    with pytest.raises(OutputError, match="cannot write"):
        next(stream)
    assert httpserver.log == []


def test_record_round_trips_with_items():
    record = Record(url="http://x/", items=[{"a": 1}])
    assert Record.from_dict(record.to_dict()) == record
    assert list(record.to_dict())[-1] == "items"


@pytest.mark.parametrize("mode", ["serial", "threads"])
def test_a_failing_item_callback_ends_the_crawl_with_its_error(mode, fresh_site):
    before = set(threading.enumerate())

    def on_item(item):
        raise RuntimeError("disk full")

    stream = crawler.crawl(
        fresh_site.url, mode=mode, workers=4, depth=50, parse=lambda page: {}, on_item=on_item
    )
    with pytest.raises(RuntimeError, match="disk full"):
        list(stream)
    # The other loops stop too: nothing keeps crawling with nobody consuming.
    deadline = time.monotonic() + 10
    while set(threading.enumerate()) != before and time.monotonic() < deadline:
        time.sleep(0.01)  # polling a bounded deadline, not synchronising on a sleep
    assert set(threading.enumerate()) == before
    assert sum(fresh_site.counts().values()) < len(fresh_site.manifest()["pages"])
