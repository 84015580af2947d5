import pytest

from crawler.errors import InvalidURL
from crawler.links.urls import FINGERPRINT_BYTES, canonical, fingerprint, normalize, resolve


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("HTTP://Host.COM:80/a/../p.html#x", "http://host.com/p.html"),
        ("http://host.com/p.html?", "http://host.com/p.html"),
        ("https://h:443/x", "https://h/x"),
        ("http://h:8080/./x/../y", "http://h:8080/y"),
        ("http://h", "http://h/"),
        ("http://h/a/b/../", "http://h/a/"),
        ("http://h/Case/Kept", "http://h/Case/Kept"),
        ("http://h/p?b=2&a=1", "http://h/p?b=2&a=1"),
        ("http://h/a b", "http://h/a%20b"),
        ("http://[::1]:80/x", "http://[::1]/x"),
    ],
)
def test_normal_form(raw, expected):
    assert normalize(raw) == expected


@pytest.mark.parametrize(
    "bad", ["ftp://x/f", "not a url", "http://", "http://h:99999/", "mailto:a@b"]
)
def test_uncrawlable_urls_raise_invalid_url(bad):
    with pytest.raises(InvalidURL):
        normalize(bad)


def test_canonical_key_sorts_query_but_request_form_keeps_order():
    a, b = normalize("http://h/p?b=2&a=1"), normalize("http://h/p?a=1&b=2")
    assert a != b
    assert canonical(a) == canonical(b)
    assert fingerprint(a) == fingerprint(b)
    assert len(fingerprint(a)) == FINGERPRINT_BYTES


def test_fingerprints_differ_for_different_pages():
    assert fingerprint("http://h/a") != fingerprint("http://h/b")
    assert fingerprint("http://h/a") != fingerprint("http://h/a?x=1")


def test_resolve_relative_links_and_skip_uncrawlable():
    page = "http://h/dir/page.html"
    assert resolve(page, "../other.html#frag") == "http://h/other.html"
    assert resolve(page, "sub.html") == "http://h/dir/sub.html"
    assert resolve(page, "//OTHER.example/x") == "http://other.example/x"
    for href in ("#top", "", "mailto:a@b.c", "javascript:void(0)", "ftp://h/f"):
        assert resolve(page, href) is None


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"same_domain": False},
        {"allow_domains": ("other.example",)},
        {"same_domain": False, "allow_domains": ("other.example",)},
        {"exclude": (r"/private/",)},
    ],
)
def test_scope_filter_keeps_what_allows_allows_in_order(options):
    from crawler.config import CrawlConfig
    from crawler.links.scope import Scope

    scope = Scope(CrawlConfig(**options))
    hosts = ["h.example", "www.h.example", "xh.example", "other.example", "a.other.example"]
    urls = [f"http://{hosts[i % 5]}/{'private/' if i % 3 else ''}{i}" for i in range(40)]
    urls += [f"http://fresh{i}.h.example/" for i in range(3)]  # hosts not in the cache yet
    for seed_host in ("h.example", "other.example"):
        want = [url for url in urls if scope.allows(url, seed_host)]
        assert scope.filter(urls, seed_host) == want
        assert scope.filter([], seed_host) == []
