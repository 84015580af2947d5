"""Incremental re-crawls (``--recrawl``): validators, digests and stored links, kept in the
``--state`` file or in Redis, against a loopback site that changes between two crawls."""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections import Counter

import pytest
import redis
from werkzeug import Request, Response

from crawler.archive.digest import body_digest
from crawler.errors import BackendError, ConfigError
from crawler.links.urls import fingerprint
from tests.support.cli import invoke_cli, run_cli
from tests.support.helpers import by_url, run_crawl

pytestmark = pytest.mark.timeout(60)

LAST_MODIFIED = "Wed, 21 Oct 2026 07:28:00 GMT"


class ChangingSite:
    """A small site on pytest-httpserver; ``generation`` 2 is the same site a while later.

    ``/`` has an ETag, ``/a`` a Last-Modified (both honoured: 304), ``/b`` and ``/e`` have no
    validators and never change, ``/c`` changes (new ETag, and a link to a new page ``/n``),
    ``/d`` disappears (404), ``/g`` is
    a 404 linked only from ``/a``: the second crawl reaches it only through ``/a``'s stored
    links, since ``/a`` answers 304.
    """

    def __init__(self, server) -> None:
        self.server = server
        self.generation = 1
        self.hits: Counter[str] = Counter()
        self.conditional: dict[str, dict[str, str]] = {}
        for path in ("/", "/a", "/b", "/c", "/d", "/e", "/g", "/n"):
            server.expect_request(path).respond_with_handler(self.handle)

    def url(self, path: str = "/") -> str:
        return self.server.url_for(path)

    def handle(self, request: Request) -> Response:
        path = request.path
        self.hits[path] += 1
        asked = {
            name: request.headers[name]
            for name in ("If-None-Match", "If-Modified-Since")
            if name in request.headers
        }
        if asked:
            self.conditional[path] = asked
        if path == "/":
            etag = '"index-1"'
            if request.headers.get("If-None-Match") == etag:
                return Response(status=304, headers={"ETag": etag})
            links = "".join(f'<a href="{p}">{p}</a>' for p in ("/a", "/b", "/c", "/d"))
            return page("Index", links, ETag=etag)
        if path == "/a":
            if request.headers.get("If-Modified-Since") == LAST_MODIFIED:
                return Response(status=304)
            return page(
                "A", '<a href="/e">e</a><a href="/g">g</a>', **{"Last-Modified": LAST_MODIFIED}
            )
        if path == "/c":
            version = self.generation
            new = '<a href="/n">n</a>' if version == 2 else ""
            return page(f"C{version}", f"version {version}{new}", ETag=f'"c-{version}"')
        if path == "/d" and self.generation == 1:
            return page("D", "here for now")
        if path in ("/b", "/e") or (path == "/n" and self.generation == 2):
            return page(path, "always the same")
        return Response("not found", status=404)


def page(title: str, body: str, **headers: str) -> Response:
    html = f"<html><head><title>{title}</title></head><body>{body}</body></html>"
    return Response(html, content_type="text/html", headers=headers)


@pytest.fixture
def changing_site(httpserver):
    return ChangingSite(httpserver)


def crawl_twice(site: ChangingSite, **options):
    """The first crawl, then the site's second generation re-crawled."""
    first, stats1 = run_crawl([site.url()], depth=5, **options)
    site.generation = 2
    site.hits.clear()
    second, stats2 = run_crawl([site.url()], depth=5, recrawl=True, **options)
    return by_url(first), stats1, by_url(second), stats2


def check_second_crawl(site: ChangingSite, first, stats1, second, stats2) -> None:
    url = site.url
    assert all(r.changed is None and not r.not_modified for r in first.values())
    assert stats1.new == 6 and stats1.changed == stats1.unchanged == stats1.gone == 0
    # Every page answered 2xx was fetched again, conditionally where it had validators.
    assert site.conditional == {
        "/": {"If-None-Match": '"index-1"'},
        "/a": {"If-Modified-Since": LAST_MODIFIED},
        "/c": {"If-None-Match": '"c-1"'},
    }
    assert set(second) == {*first, url("/n")}
    assert second[url("/n")].changed is None and not second[url("/n")].not_modified
    index, a = second[url("/")], second[url("/a")]
    for record, was in ((index, first[url("/")]), (a, first[url("/a")])):
        assert record.status == 304 and record.not_modified and record.changed is False
        assert record.error is None and record.title == was.title and record.links == was.links
    # /g hangs only off /a, which was not read this time: its stored links were followed.
    assert second[url("/g")].status == 404 and second[url("/g")].parent == url("/a")
    assert site.hits["/g"] == 1
    assert second[url("/b")].changed is False and second[url("/e")].changed is False
    assert second[url("/c")].changed is True and second[url("/c")].title == "C2"
    assert second[url("/d")].status == 404 and second[url("/d")].changed is True
    assert second[url("/g")].changed is None  # a 404 both times: nothing stored to compare
    assert not any(r.not_modified for u, r in second.items() if u not in (url("/"), url("/a")))
    assert (stats2.new, stats2.changed, stats2.unchanged, stats2.gone) == (1, 1, 4, 1)
    assert "1 new, 1 changed, 4 unchanged, 1 gone" in stats2.summary()


@pytest.mark.parametrize(
    "mode, fetcher",
    [
        ("serial", "urllib3"),
        ("serial", "requests"),
        ("threads", "urllib3"),
        pytest.param("processes", "urllib3", marks=pytest.mark.subprocess),
    ],
)
def test_recrawl_with_a_state_file(changing_site, tmp_path, mode, fetcher):
    options = {"mode": mode, "fetcher": fetcher, "state": str(tmp_path / "crawl.db")}
    if mode != "serial":
        options["workers"] = 3
    check_second_crawl(changing_site, *crawl_twice(changing_site, **options))


@pytest.mark.parametrize(
    "options",
    [
        pytest.param({}, id="serial"),
        pytest.param({"mode": "threads", "workers": 3}, id="threads"),
        pytest.param(
            {"mode": "processes", "workers": 2}, id="processes", marks=pytest.mark.subprocess
        ),
        pytest.param(
            {"mode": "processes", "workers": 2, "greenlets": 2},
            id="processes-greenlets",
            marks=pytest.mark.subprocess,
        ),
    ],
)
def test_recrawl_with_redis(changing_site, redis_url, options):
    crawl_id = uuid.uuid4().hex
    check_second_crawl(
        changing_site,
        *crawl_twice(changing_site, backend=redis_url, crawl_id=crawl_id, **options),
    )


def test_the_state_keeps_validators_digest_and_links_in_a_table_of_its_own(changing_site, tmp_path):
    state = str(tmp_path / "crawl.db")
    run_crawl([changing_site.url()], depth=5, state=state)
    with sqlite3.connect(state) as db:
        rows = [json.loads(data) for (data,) in db.execute("SELECT data FROM pages")]
    pages = {row["request"][0]: row for row in rows}
    assert set(pages) == {changing_site.url(p) for p in ("/", "/a", "/b", "/c", "/d", "/e")}
    index = pages[changing_site.url("/")]
    assert index["etag"] == '"index-1"' and index["status"] == 200
    assert pages[changing_site.url("/a")]["last_modified"] == LAST_MODIFIED
    assert index["links"] == [changing_site.url(p) for p in ("/a", "/b", "/c", "/d")]
    body = b"<html><head><title>/b</title></head><body>always the same</body></html>"
    assert pages[changing_site.url("/b")]["digest"] == body_digest(body)


def test_a_resumed_crawl_asks_conditionally_without_recrawl(changing_site, tmp_path):
    # The validators are used whenever a stored page is fetched again, not only on --recrawl.
    state = str(tmp_path / "crawl.db")
    run_crawl([changing_site.url()], depth=5, state=state)
    index = fingerprint(changing_site.url())
    with sqlite3.connect(state) as db:  # as if the crawl had stopped before the index
        db.execute("DELETE FROM seen WHERE fp = ?", (index,))
        db.execute("DELETE FROM records WHERE fp = ?", (index,))
    records, _ = run_crawl([changing_site.url()], depth=5, state=state)
    assert [(r.status, r.not_modified) for r in records] == [(304, True)]


def test_gone_pages_lose_their_state_and_a_third_crawl_sees_no_change(changing_site, tmp_path):
    state = str(tmp_path / "crawl.db")
    crawl_twice(changing_site, state=state)
    third, stats = run_crawl([changing_site.url()], depth=5, state=state, recrawl=True)
    assert (stats.changed, stats.gone) == (0, 0)
    assert by_url(third)[changing_site.url("/d")].changed is None  # gone: nothing kept


def test_recrawl_refuses_an_unfinished_state(changing_site, tmp_path):
    state = str(tmp_path / "crawl.db")
    run_crawl([changing_site.url()], depth=5, state=state)
    with sqlite3.connect(state) as db:  # one URL left queued, as after a crash
        db.execute("INSERT INTO queue (fp, item) VALUES (x'00', x'00')")
    with pytest.raises(BackendError, match="unfinished crawl"):
        run_crawl([changing_site.url()], depth=5, state=state, recrawl=True)
    with sqlite3.connect(state) as db:  # refused before anything was emptied
        assert db.execute("SELECT COUNT(*) FROM records").fetchone()[0] == 7


def test_recrawl_needs_a_durable_crawl():
    with pytest.raises(ConfigError, match="--recrawl needs"):
        run_crawl(["http://127.0.0.1:9/"], recrawl=True)


@pytest.mark.parametrize(
    "mode",
    [["--mode", "serial"], ["--mode", "gevent"], ["--mode", "processes", "--greenlets", "2"]],
)
def test_cli_recrawl_prints_the_counts(changing_site, tmp_path, mode):
    options = ["--state", str(tmp_path / "crawl.db"), "--depth", "5", "--ignore-robots"]
    options += [*mode, "--workers", "2", "-o", str(tmp_path / "out.jsonl")]
    # A serial crawl needs no process of its own (gevent patches, processes mode forks).
    run = invoke_cli if mode == ["--mode", "serial"] else run_cli
    assert run(*options, changing_site.url()).returncode == 1, "the 404 of /g"
    changing_site.generation = 2
    done = run(*options, "--recrawl", changing_site.url())
    assert "1 new, 1 changed, 4 unchanged, 1 gone" in done.stderr, done.stderr
    lines = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    index = next(r for r in lines if r["url"] == changing_site.url())
    assert index["not_modified"] is True and index["changed"] is False
    refused = invoke_cli("--recrawl", changing_site.url())
    assert refused.returncode == 2 and "--recrawl needs" in refused.stderr


def test_recrawl_refuses_an_unfinished_redis_crawl(changing_site, redis_url):
    crawl_id = uuid.uuid4().hex
    run_crawl([changing_site.url()], depth=5, backend=redis_url, crawl_id=crawl_id)
    client = redis.Redis.from_url(redis_url)
    # As if another worker still had work: an item in a host's list, counted as PUSH does.
    client.rpush(f"crawl:{{{crawl_id}}}:q:localhost", b"x")
    client.hincrby(f"crawl:{{{crawl_id}}}:stats", "queued", 1)
    with pytest.raises(BackendError, match="unfinished"):
        run_crawl(
            [changing_site.url()], depth=5, backend=redis_url, crawl_id=crawl_id, recrawl=True
        )
    assert client.hlen(f"crawl:{{{crawl_id}}}:records") == 7  # refused before anything went


def test_a_304_is_archived_as_a_revisit_of_the_payload_last_seen(changing_site, tmp_path):
    from warcio.archiveiterator import ArchiveIterator

    from tests.test_warc import assert_valid

    state, warc = str(tmp_path / "crawl.db"), str(tmp_path / "again.warc.gz")
    first, _ = run_crawl([changing_site.url()], depth=5, state=state)
    changing_site.generation = 2
    run_crawl([changing_site.url()], depth=5, state=state, recrawl=True, warc=warc)
    digests = {record.url: record.digest for record in first}
    with open(warc, "rb") as stream:
        kinds = {
            (r.rec_headers.get_header("WARC-Target-URI"), r.rec_type): r.rec_headers
            for r in ArchiveIterator(stream)
        }
    for path in ("/", "/a"):  # the two pages that answered 304
        headers = kinds[(changing_site.url(path), "revisit")]
        assert headers.get_header("WARC-Profile").endswith("/revisit/server-not-modified")
        assert headers.get_header("WARC-Refers-To-Target-URI") == changing_site.url(path)
        assert headers.get_header("WARC-Payload-Digest") == digests[changing_site.url(path)]
        assert (changing_site.url(path), "response") not in kinds
    assert (changing_site.url("/c"), "response") in kinds  # changed: archived in full
    assert_valid(warc)
