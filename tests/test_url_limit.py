"""The URL length cap (8 KiB) and the caches bounded by bytes (a hostile page's links must not
grow memory without bound)."""

from __future__ import annotations

import pytest

from crawler.errors import InvalidURL
from crawler.links import urls
from crawler.links.cache import ByteBoundedCache, GroupedCache, object_bytes
from crawler.links.urls import MAX_URL_LENGTH, normalize, resolve
from tests.support.helpers import by_url, run_crawl


def html(body: str) -> str:
    return f"<html><head><title>t</title></head><body>{body}</body></html>"


def test_a_seed_longer_than_the_cap_is_an_invalid_url_record(httpserver):
    httpserver.expect_request("/ok").respond_with_data(html(""), content_type="text/html")
    long_seed = httpserver.url_for("/" + "x" * MAX_URL_LENGTH)
    records, stats = run_crawl([long_seed, httpserver.url_for("/ok")])
    table = by_url(records)
    assert table[long_seed].error == "invalid_url"
    assert f"longer than {MAX_URL_LENGTH}" in table[long_seed].detail
    assert table[httpserver.url_for("/ok")].error is None
    assert len(httpserver.log) == 1  # the long one was never requested


def test_longer_links_are_dropped_and_counted(httpserver):
    too_long = "/" + "y" * MAX_URL_LENGTH
    grows = "/" + "é" * (MAX_URL_LENGTH // 4)  # short as text, too long once percent-encoded
    fits = "/" + "z" * (MAX_URL_LENGTH - len(httpserver.url_for("/")) - 10)
    links = "".join(f'<a href="{h}">x</a>' for h in (too_long, too_long, grows, fits, "/b"))
    httpserver.expect_request("/a").respond_with_data(html(links), content_type="text/html")
    httpserver.expect_request("/b").respond_with_data(html(""), content_type="text/html")
    httpserver.expect_request(fits).respond_with_data(html(""), content_type="text/html")
    records, stats = run_crawl([httpserver.url_for("/a")], depth=1)
    table = by_url(records)
    page = table[httpserver.url_for("/a")]
    assert page.links == 2 and page.dropped_links == 2  # the same long href counts once
    assert set(table) == {httpserver.url_for(p) for p in ("/a", "/b", fits)}
    assert stats.dropped_links == 2
    assert stats.to_dict()["dropped_links"] == 2
    assert "2 links too long" in stats.summary()
    assert all(len(r.url) <= MAX_URL_LENGTH for r in records)


def test_redirect_to_a_too_long_location_is_a_bad_redirect(httpserver):
    httpserver.expect_request("/r").respond_with_data(
        "", status=302, headers={"Location": "/" + "q" * MAX_URL_LENGTH}
    )
    records, _ = run_crawl([httpserver.url_for("/r")])
    assert records[0].error == "bad_redirect"


def test_normalize_and_resolve_refuse_urls_over_the_cap():
    at_cap = "http://h/" + "a" * (MAX_URL_LENGTH - len("http://h/"))
    assert normalize(at_cap) == at_cap
    with pytest.raises(InvalidURL):
        normalize(at_cap + "a")
    assert resolve("http://h/", at_cap) == at_cap
    assert resolve("http://h/", at_cap + "a") is None
    assert resolve("http://h/dir/", "b" * (MAX_URL_LENGTH - 10)) is None  # base + href too long


def test_byte_bounded_cache_stays_under_its_budget():
    cache = ByteBoundedCache(100_000)
    for i in range(5_000):
        cache.put(f"key-{i}", "v" * (i % 200))
        assert cache.bytes <= 100_000
    assert cache.bytes == sum(object_bytes(k) + object_bytes(v) + 64 for k, v in cache.data.items())
    assert cache.get("key-4999") is not None  # the newest entries are kept
    assert cache.get("key-0") is None
    cache.put("huge", "x" * 200_000)  # bigger than the whole budget: not stored
    assert cache.get("huge") is None and cache.bytes <= 100_000


def test_grouped_cache_stays_under_its_budget():
    cache = GroupedCache(100_000)
    for i in range(2_000):
        name = f"group-{i % 300}"
        entries = cache.group(name)
        cache.put(name, entries, f"key-{i}", "v" * (i % 200))
        assert cache.bytes <= 100_000
    newest = cache.groups[f"group-{1999 % 300}"]
    assert newest.get("key-1999") is not None  # the newest group and entry are kept
    assert "group-0" not in cache.groups or "key-0" not in cache.group("group-0")
    # One group that alone outgrows the budget is emptied, not kept whole.
    big = cache.group("big")
    for i in range(2_000):
        cache.put("big", big, f"key-{i}", "w" * 100)
        assert cache.bytes <= 100_000
    assert 0 < len(big) < 2_000
    cache.put("big", big, "huge", "x" * 200_000)  # bigger than half the budget: not stored
    assert "huge" not in big and cache.bytes <= 100_000


def test_url_caches_are_bounded_by_bytes_not_entries(monkeypatch):
    # 150 distinct URLs of ~8 KB: ~1.2 MB of keys, more than each cache's budget cut to a
    # sixteenth (as it is at full size for 16 times as many: the same arithmetic, 0.3 s of CPU
    # instead of 4.6); an entry-count cap (the old 65,536) would have kept them all.
    caches = (urls._RESOLVED, urls.normalize.cache, urls.canonical.cache, urls.fingerprint.cache)
    for cache in caches:
        monkeypatch.setattr(cache, "max_bytes", cache.max_bytes // 16)
    base = urls.PageBase("http://h.example/dir/page.html")
    hrefs = [f"{i}-" + "p" * (MAX_URL_LENGTH - 50) for i in range(150)]
    links, dropped = base.resolve_all(hrefs)
    assert len(links) == 150 and dropped == 0
    for url in links:
        urls.fingerprint(url)
        urls.normalize(url + "?again")
    for cache in caches:
        assert cache.bytes <= cache.max_bytes
    assert urls._RESOLVED.bytes <= urls.RESOLVE_CACHE_BYTES // 16
    assert len(urls.normalize.cache) < 150


def test_grouped_cache_shared_by_threads_never_raises():
    # Threads' shrinks swap the cache's dicts under each other: a miscount is allowed, an
    # exception in a page's link step is not.
    import sys
    import threading

    cache = GroupedCache(20_000)
    errors: list[BaseException] = []

    def work(seed: int) -> None:
        try:
            for i in range(3_000):
                name = f"g{(i * 7 + seed) % 97}"
                entries = cache.group(name)
                cache.put(name, entries, f"k{seed}-{i}", "v" * (i % 50))
        except BaseException as exc:  # noqa: BLE001 - the test reports any
            errors.append(exc)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        threads = [threading.Thread(target=work, args=(seed,)) for seed in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    finally:
        sys.setswitchinterval(interval)
    assert errors == []
    assert cache.bytes <= 2 * cache.max_bytes
