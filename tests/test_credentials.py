"""Credentials in seed URLs (``http://user:pass@host/``): both fetchers send them as Basic auth to
that origin only, and no output (records, files, a shared backend's state, -v lines) holds them.
Issue 13 item 8; real servers on two loopback addresses."""

from __future__ import annotations

import base64
import json

import pytest
import redis
from click.testing import CliRunner
from werkzeug import Response

from crawler.cli.main import app
from crawler.http.registry import FETCHERS
from tests.support.helpers import by_url, run_crawl
from tests.support.servers import HTTPServer

pytestmark = pytest.mark.timeout(60)

PASSWORD = "pa$$-w0rd-xyz"  # written %-encoded in the seed, as a URL must
SECRET = "w0rd-xyz"
BASIC = "Basic " + base64.b64encode(f"alice:{PASSWORD}".encode()).decode()


@pytest.fixture
def hosts():
    """A site (127.1.8.1) whose home links to a page of its own, a redirect and another host
    (127.1.8.2); every server records the requests it got."""
    site, other = servers = [HTTPServer(host=f"127.1.8.{n}", port=0) for n in (1, 2)]
    for server in servers:
        server.no_handler_status_code = 404
        server.start()
    links = ["/child", "/moved", other.url_for("/elsewhere")]
    html = "<title>home</title>" + "".join(f'<a href="{h}">x</a>' for h in links)
    site.expect_request("/").respond_with_data(html, content_type="text/html")
    site.expect_request("/child").respond_with_data("<title>c</title>", content_type="text/html")
    site.expect_request("/moved").respond_with_response(
        Response(status=302, headers={"Location": "/landed"})
    )
    site.expect_request("/landed").respond_with_data("<title>l</title>", content_type="text/html")
    other.expect_request("/elsewhere").respond_with_data(
        "<title>e</title>", content_type="text/html"
    )
    try:
        yield site, other
    finally:
        for server in servers:
            server.clear()
            server.stop()


def seed_of(site: HTTPServer) -> str:
    return f"http://alice:pa%24%24-{SECRET}@127.1.8.1:{site.port}/"


def assert_sent_to_the_seed_origin_only(site: HTTPServer, other: HTTPServer) -> None:
    sent = {req.path: req.headers.get("Authorization") for req, _ in site.log}
    assert sent == dict.fromkeys(["/", "/child", "/moved", "/landed"], BASIC)
    assert [(req.path, req.headers.get("Authorization")) for req, _ in other.log] == [
        ("/elsewhere", None)
    ]


@pytest.mark.parametrize("fetcher", sorted(FETCHERS))
def test_seed_credentials_are_sent_to_their_origin_and_never_recorded(hosts, fetcher, tmp_path):
    site, other = hosts
    out, state = tmp_path / "out.jsonl", tmp_path / "state.sqlite"
    records, _ = run_crawl(
        [seed_of(site), f"http://alice:{SECRET}@/no-host"],
        fetcher=fetcher,
        depth=2,
        same_domain=False,
        output=str(out),
        state=str(state),
    )
    assert_sent_to_the_seed_origin_only(site, other)
    home = f"http://127.1.8.1:{site.port}/"
    table = by_url(records)
    assert table[home].status == 200 and table[home].title == "home"
    assert table[home + "landed"].redirects == [home + "moved"]
    assert table[home + "child"].parent == home
    assert [r.error for r in records].count("invalid_url") == 1
    written = [json.dumps(r.to_dict()) for r in records] + [out.read_text()]
    written += [p.read_bytes().decode("latin-1") for p in tmp_path.iterdir()]  # SQLite, WAL
    for text in written:
        assert SECRET not in text and "alice" not in text


def test_a_shared_crawl_keeps_no_credentials_in_redis(hosts, redis_url):
    site, other = hosts
    records, _ = run_crawl(
        [seed_of(site)], backend=redis_url, crawl_id="creds", depth=2, same_domain=False
    )
    assert len(records) == 5 and all(r.ok for r in records)
    assert_sent_to_the_seed_origin_only(site, other)
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter("*creds*"))
    assert keys  # the crawl's state is there to look at
    read = {
        "string": client.get,
        "hash": client.hgetall,
        "list": lambda key: client.lrange(key, 0, -1),
        "set": client.smembers,
        "zset": lambda key: client.zrange(key, 0, -1),
    }
    for key in keys:
        dump = repr(key) + repr(read.get(client.type(key).decode(), lambda key: b"")(key))
        assert SECRET not in dump and "alice" not in dump
    client.close()


def test_verbose_lines_and_records_of_the_cli_hold_no_credentials(hosts, tmp_path):
    site, _ = hosts
    urls = tmp_path / "urls.txt"
    urls.write_text(f"{seed_of(site)}\nhttp://alice:{SECRET}@/no-host\n")
    result = CliRunner().invoke(
        app, ["run", "-v", "--depth", "1", "--ignore-robots", "-o", "-", str(urls)]
    )
    shown = result.output + (result.stderr if result.stderr_bytes is not None else "")
    assert '"title": "home"' in shown and "invalid_url" in shown  # records and -v lines
    assert SECRET not in shown and "alice" not in shown


@pytest.mark.parametrize(
    "mode", ["threads", pytest.param("processes", marks=pytest.mark.subprocess)]
)
def test_worker_loops_in_threads_and_processes_get_the_credentials(hosts, mode):
    site, other = hosts
    records, _ = run_crawl([seed_of(site)], mode=mode, workers=2, depth=2, same_domain=False)
    assert len(records) == 5 and all(r.ok for r in records)
    assert_sent_to_the_seed_origin_only(site, other)
    assert not any(SECRET in json.dumps(r.to_dict()) for r in records)
