"""The same scraper in every mode: same items, parse errors as records, crawl() twice, and
nothing left running after ``break``. Each mode runs in a fresh process
(``tests/support/api_driver.py``)."""

import json

import pytest

from crawler import ConfigError
from crawler.config import MODES
from crawler.links.urls import canonical
from tests.support.cli import run_python


def drive(mode: str, url: str) -> dict:
    out = run_python(module="tests.support.api_driver", args=[mode, url], timeout=100)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def as_set(items: list[dict]) -> set[str]:
    return {json.dumps(item, sort_keys=True) for item in items}


@pytest.fixture(scope="module")
def serial_result(site):
    return drive("serial", site.url)


@pytest.mark.timeout(110)
@pytest.mark.parametrize("mode", MODES)
def test_every_mode_scrapes_the_same_items_and_stops_cleanly(mode, site, serial_result):
    result = serial_result if mode == "serial" else drive(mode, site.url)
    manifest = site.manifest()["pages"]
    disallowed = {canonical(url) for url in site.manifest()["robots_disallowed"]}
    html_ok = {
        url
        for url, page in manifest.items()
        if page["error"] is None and page["status"] == 200 and page["content_type"] == "text/html"
    } - disallowed  # robots.txt is obeyed: those pages are `robots` records, never fetched
    for run in ("first", "second"):  # crawl() twice in one process
        items = result[run]["items"]
        assert len(items) == len(as_set(items)), "an item was produced twice"
        assert as_set(items) == as_set(serial_result["first"]["items"])
        # Every HTML page but the one where the callback raises; page 49 via Follow from home.
        scraped = {canonical(item["url"]) for item in items}
        assert scraped == {u for u in html_ok if not u.endswith("/5.html")}
        ((url, detail),) = result[run]["errors"]
        assert url.endswith("/page/5.html")
        assert detail.endswith(f"in mixed: ValueError: cannot scrape {url}")
    assert result["threads_after"] == ["MainThread"]
    assert result["children"] == []
    assert result["greenlets"] == []
    assert result["patched"] == (mode == "gevent")


def test_a_lambda_in_processes_mode_is_refused_before_the_crawl(fresh_site):
    import crawler

    with pytest.raises(ConfigError) as info:
        crawler.crawl(fresh_site.url, mode="processes", parse=lambda page: {"url": page.url})
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("parse=<lambda> cannot be sent to worker processes")
    assert sum(fresh_site.counts().values()) == 0
