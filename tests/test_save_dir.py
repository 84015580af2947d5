"""--save-dir: the wget-like layout, and that nothing is ever written outside DIR or over another
URL's file (dot segments, absolute paths, symlinks and hard links already in DIR, over-long
names, reserved characters, file/directory collisions)."""

from __future__ import annotations

import json
import os

import pytest

from crawler.archive.mirror import NAME_MAX, mirror_parts
from crawler.archive.save import SaveSink
from crawler.config import CrawlConfig
from crawler.record import Record
from tests.support.cli import cli_records
from tests.support.helpers import by_url, run_crawl

pytestmark = pytest.mark.timeout(60)


@pytest.mark.parametrize(
    "url, parts",
    [
        ("http://example.com/", ["example.com", "index.html"]),
        ("http://example.com", ["example.com", "index.html"]),
        ("https://Example.com:443/a/b.html", ["example.com", "a", "b.html"]),
        ("http://example.com:8080/docs/", ["example.com:8080", "docs", "index.html"]),
        ("http://example.com/p?b=2&a=1", ["example.com", "p?b=2&a=1"]),
        ("http://example.com/?q=1", ["example.com", "index.html?q=1"]),
        ("http://example.com/caf%C3%A9", ["example.com", "caf%C3%A9"]),
    ],
)
def test_the_layout_is_wget_like(url, parts):
    assert mirror_parts(url) == parts


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/a/%2E%2E/%2E%2E/etc/passwd",
        "http://example.com/../../etc/passwd",
        "http://example.com//etc/passwd",
        "http://example.com/a%2F..%2F..%2Fb",
        "http://example.com/.",
        "http://example.com/x/..",
    ],
)
def test_dot_segments_and_absolute_paths_stay_inside(url):
    parts = mirror_parts(url)
    assert parts[0] == "example.com"
    assert all(p not in ("", ".", "..") and "/" not in p for p in parts)


@pytest.mark.parametrize(
    "path, char",
    [
        ("/a*b", "*"), ("/a:b", ":"), ("/a|b", "|"), ("/a\\b", "\\"), ('/a"b', '"'),
        ("/a<b>", "<"), ("/a%00b", "\0"), ("/a\tb", "\t"), ("/a b", " "), ("/é", "é"),
    ],
)  # fmt: skip
def test_reserved_characters_are_encoded(path, char):
    *_, name = mirror_parts("http://example.com" + path)
    assert char not in name and name.isascii() and "\0" not in name


def test_over_long_names_are_capped_and_stay_distinct():
    long_a = "http://example.com/" + "a" * 600
    long_b = long_a + "b"
    with_query = "http://example.com/p?" + "q" * 1000
    names = [mirror_parts(url)[-1] for url in (long_a, long_b, with_query)]
    assert all(len(n.encode()) <= NAME_MAX for n in names)
    assert len(set(names)) == 3


def sink(tmp_path) -> SaveSink:
    return SaveSink(CrawlConfig(save_dir=str(tmp_path / "mirror")))


def test_a_file_and_a_directory_of_one_name_both_survive(tmp_path):
    saver = sink(tmp_path)
    first = saver.save("http://h/a", b"file a")
    second = saver.save("http://h/a/b", b"file a/b")
    third = saver.save("http://h/a/b/c", b"file a/b/c")  # b is a file now: b.1/c
    assert first == ["h", "a"] and second == ["h", "a.1", "b"]
    assert third == ["h", "a.1", "b.1", "c"]
    root = tmp_path / "mirror"
    assert (root / "h" / "a").read_bytes() == b"file a"
    assert (root / "h" / "a.1" / "b").read_bytes() == b"file a/b"
    # The other order: the directory exists first, the file goes beside it.
    saver = SaveSink(CrawlConfig(save_dir=str(tmp_path / "other")))
    assert saver.save("http://h/x/y", b"x/y") == ["h", "x", "y"]
    assert saver.save("http://h/x", b"x") == ["h", "x.1"]
    assert (tmp_path / "other" / "h" / "x" / "y").read_bytes() == b"x/y"


def test_two_urls_of_one_name_never_overwrite_each_other(tmp_path):
    saver = sink(tmp_path)
    # Different URLs, one safe name: the literal "%3F" and a query.
    assert saver.save("http://h/p//q", b"one") == ["h", "p", "q"]
    assert saver.save("http://h/p/q", b"two") == ["h", "p", "q.1"]
    # The same URL again (a re-fetch) replaces its own file.
    assert saver.save("http://h/p/q", b"three") == ["h", "p", "q.1"]
    assert (tmp_path / "mirror" / "h" / "p" / "q").read_bytes() == b"one"
    assert (tmp_path / "mirror" / "h" / "p" / "q.1").read_bytes() == b"three"


def test_symlinks_already_in_dir_are_never_followed(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "victim.html").write_bytes(b"precious")
    root = tmp_path / "mirror"
    (root / "h" / "d").mkdir(parents=True)
    os.symlink(outside, root / "evil")  # a directory symlink where a host directory goes
    os.symlink(outside / "victim.html", root / "h" / "d" / "victim.html")  # a file symlink
    os.symlink(outside / "new.html", root / "h" / "d" / "dangling.html")  # to nothing yet
    saver = SaveSink(CrawlConfig(save_dir=str(root)))
    assert saver.save("http://evil/victim.html", b"pwned") == ["evil.1", "victim.html"]
    assert saver.save("http://h/d/victim.html", b"pwned") == ["h", "d", "victim.html.1"]
    assert saver.save("http://h/d/dangling.html", b"pwned") == ["h", "d", "dangling.html.1"]
    assert (outside / "victim.html").read_bytes() == b"precious"
    assert sorted(os.listdir(outside)) == ["victim.html"]


def test_a_hard_link_to_a_file_elsewhere_is_not_written_through(tmp_path):
    outside = tmp_path / "outside.html"
    outside.write_bytes(b"precious")
    root = tmp_path / "mirror"
    (root / "h").mkdir(parents=True)
    os.link(outside, root / "h" / "page.html")
    saver = SaveSink(CrawlConfig(save_dir=str(root)))
    assert saver.save("http://h/page.html", b"pwned") == ["h", "page.html.1"]
    assert outside.read_bytes() == b"precious"


def test_a_file_left_by_an_earlier_run_is_replaced(tmp_path):
    root = tmp_path / "mirror"
    (root / "h").mkdir(parents=True)
    (root / "h" / "index.html").write_bytes(b"old")
    assert SaveSink(CrawlConfig(save_dir=str(root))).save("http://h/", b"new") == [
        "h",
        "index.html",
    ]
    assert (root / "h" / "index.html").read_bytes() == b"new"


def test_a_crawl_saves_its_pages_and_says_where(httpserver, tmp_path):
    html = b'<title>home</title><a href="/docs/">docs</a><a href="/gone">gone</a>'
    httpserver.expect_request("/").respond_with_data(html, content_type="text/html")
    httpserver.expect_request("/docs/").respond_with_data(
        b"<title>d</title>", content_type="text/html"
    )
    root = str(tmp_path / "site")
    records, _ = run_crawl([httpserver.url_for("/")], depth=1, save_dir=root)
    pages = by_url(records)
    host = f"{httpserver.host}:{httpserver.port}"
    home = pages[httpserver.url_for("/")]
    assert home.saved_path == os.path.join(root, host, "index.html")
    with open(home.saved_path, "rb") as saved:
        assert saved.read() == html
    assert pages[httpserver.url_for("/docs/")].saved_path == os.path.join(
        root, host, "docs", "index.html"
    )
    assert pages[httpserver.url_for("/gone")].saved_path is None  # a 404 is not saved
    assert home.to_dict()["saved_path"] == home.saved_path


@pytest.mark.parametrize(
    "options",
    [{"mode": "processes", "workers": 2}, {"mode": "processes", "workers": 2, "greenlets": 4}],
    ids=["processes", "processes-greenlets"],
)
def test_pages_travel_from_pool_children_to_the_one_writer(site, tmp_path, options):
    root = str(tmp_path / "m")
    records, _ = run_crawl([site.url], depth=50, save_dir=root, **options)
    assert_every_page_saved(records)


def assert_every_page_saved(records: list[Record]) -> None:
    """Every 2xx page saved, each in a file of its own holding its bytes."""
    saved = [r for r in records if r.saved_path]
    assert len(saved) == sum(1 for r in records if r.ok and 200 <= r.status < 300) > 30
    assert len({r.saved_path for r in saved}) == len(saved)
    for record in saved:
        assert os.path.getsize(record.saved_path) == record.bytes


def test_saved_path_reaches_the_json_lines_of_a_processes_crawl(site, tmp_path):
    # The JSON Lines sink writes a child's encoded record as it came: a saved page's record must
    # be the parent's, with saved_path, not the child's JSON without it.
    out = tmp_path / "records.jsonl"
    root = str(tmp_path / "m")
    run_crawl([site.url], depth=1, save_dir=root, output=str(out), mode="processes", workers=2)
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    saved = [r for r in lines if r["status"] == 200]
    assert saved and all(r["saved_path"] and os.path.exists(r["saved_path"]) for r in saved)


def test_pages_from_threads_reach_the_one_writer(site, tmp_path):
    root = str(tmp_path / "m")
    records, _ = run_crawl([site.url], depth=50, save_dir=root, mode="threads", workers=4)
    assert_every_page_saved(records)


@pytest.mark.subprocess  # gevent patches the whole process: the crawl command, as a user runs it
def test_pages_from_greenlets_are_saved_from_the_cli(site, tmp_path):
    root = str(tmp_path / "m")
    options = ["--mode", "gevent", "--workers", "8", "--depth", "50", "--ignore-robots"]
    code, lines, stderr = cli_records(*options, "--save-dir", root, "-q", "-o", "-", site.url)
    assert code in (0, 1), stderr  # 1: the site has 404s on purpose
    records = [Record.from_dict(line) for line in lines]
    assert {r.mode for r in records} == {"gevent"}
    assert_every_page_saved(records)
