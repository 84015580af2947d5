"""--warc: a WARC 1.1 file of every exchange, read back with warcio (its ArchiveIterator with
digest checks, and the venv's `warcio check` and `warcio index`), for both fetchers and every
mode; the record's ``digest`` field."""

from __future__ import annotations

import base64
import contextlib
import gzip
import hashlib
import io
import json
import os
import subprocess
import sys
import time
import uuid
import zlib

import pytest
from warcio.archiveiterator import ArchiveIterator
from werkzeug import Response

from crawler.archive import compress, records
from crawler.config import CrawlConfig
from crawler.http.registry import FETCHERS, open_fetcher
from tests.support.cli import invoke_cli
from tests.support.helpers import by_url, run_crawl
from tests.support.paths import ROOT

pytestmark = pytest.mark.timeout(60)
HTML = b"<title>kept</title>" + b'<a href="/gz">gz</a> <a href="/old">old</a>' + b"x" * 2000


def read_warc(path: str) -> list:
    """Every record of ``path``, with its block and payload digests checked by warcio."""
    records = []
    with open(path, "rb") as stream:
        for record in ArchiveIterator(stream, check_digests="raise"):
            # The payload as archived (content_stream() would undo the content coding).
            record.payload = record.raw_stream.read()
            records.append(record)
    return records


def warcio_cli(*args: str) -> subprocess.CompletedProcess:
    """``warcio ARGS`` as the venv's ``warcio`` command runs it (``warcio.cli.main``: its
    argument parser, its checker and indexer, its exit code), in this process: the same
    verdict without an interpreter that starts and imports warcio (~0.13 s of CPU) per call."""
    from warcio.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(list(args))
            code = 0
        except SystemExit as exc:  # the checker's verdict, or argparse's usage error
            code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    return subprocess.CompletedProcess(["warcio", *args], code, out.getvalue(), err.getvalue())


def assert_valid(path: str) -> None:
    checked = warcio_cli("check", "-v", path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "digest pass" in checked.stdout and "fail" not in checked.stdout
    index = warcio_cli("index", "-f", "warc-type,warc-target-uri,length", path)
    assert index.returncode == 0, index.stderr
    assert json.loads(index.stdout.splitlines()[0])["warc-type"] == "warcinfo"


@pytest.fixture
def archived_site(httpserver, tmp_path):
    gz = gzip.compress(HTML.replace(b"kept", b"squeezed"))
    httpserver.expect_request("/").respond_with_data(HTML, content_type="text/html")
    httpserver.expect_request("/gz").respond_with_data(
        gz, content_type="text/html", headers={"Content-Encoding": "gzip"}
    )
    httpserver.expect_request("/old").respond_with_data(
        "", status=301, headers={"Location": httpserver.url_for("/new")}
    )
    httpserver.expect_request("/new").respond_with_data(
        "<title>new</title>", content_type="text/html"
    )
    return httpserver, gz, str(tmp_path / "crawl.warc.gz")


@pytest.mark.parametrize("fetcher", sorted(FETCHERS))
def test_every_exchange_is_archived_with_its_bytes_and_links(archived_site, fetcher):
    server, gz, path = archived_site
    records, _ = run_crawl([server.url_for("/")], depth=2, warc=path, fetcher=fetcher)
    pages = by_url(records)
    warc = read_warc(path)
    assert warc[0].rec_type == "warcinfo"
    info = warc[0].payload.decode()
    assert "software: crawler/" in info and '"depth": 2' in info
    responses = {r.rec_headers["WARC-Target-URI"]: r for r in warc if r.rec_type == "response"}
    requests = [r for r in warc if r.rec_type == "request"]
    # One response and one request per fetch, no more (the redirect is a fetch of its own).
    assert set(responses) == set(pages) and len(requests) == len(pages) == 4
    ids = {r.rec_headers["WARC-Record-ID"]: r for r in responses.values()}
    for request in requests:
        response = ids[request.rec_headers["WARC-Concurrent-To"]]
        assert request.rec_headers["WARC-Target-URI"] == response.rec_headers["WARC-Target-URI"]
        assert request.http_headers.protocol == "GET"
        assert request.rec_headers["WARC-Date"] == response.rec_headers["WARC-Date"]
    for record in responses.values():
        assert record.rec_headers["WARC-IP-Address"] == "127.0.0.1"
        assert record.rec_headers["WARC-Payload-Digest"].startswith("sha1:")
        assert record.rec_headers["WARC-Block-Digest"].startswith("sha1:")
        assert record.rec_headers["WARC-Date"].endswith("Z")
        assert "WARC-Truncated" not in record.rec_headers
    # The gzip page: the payload as it came over the wire, byte for byte, still encoded...
    gz_url = server.url_for("/gz")
    assert responses[gz_url].payload == gz
    assert responses[gz_url].http_headers.get_header("Content-Encoding") == "gzip"
    # ...and its payload digest is of those bytes; the record's digest is of the decoded body.
    raw_digest = "sha1:" + base64.b32encode(hashlib.sha1(gz).digest()).decode()
    assert responses[gz_url].rec_headers["WARC-Payload-Digest"] == raw_digest
    assert pages[gz_url].digest == _digest(gzip.decompress(gz)) != raw_digest
    assert pages[gz_url].title == "squeezed"  # decoding for the crawl still works
    # The redirect is archived as itself.
    old = responses[server.url_for("/old")]
    assert old.http_headers.get_statuscode() == "301"
    assert old.http_headers.get_header("Location") == server.url_for("/new")
    assert responses[server.url_for("/")].payload == HTML
    assert_valid(path)


def test_digest_is_on_every_record_with_a_body(httpserver):
    httpserver.expect_request("/").respond_with_data(HTML, content_type="text/html")
    httpserver.expect_request("/same").respond_with_data(HTML, content_type="text/plain")
    httpserver.expect_request("/empty").respond_with_data(b"", status=204)
    records, _ = run_crawl([httpserver.url_for(p) for p in ("/", "/same", "/empty", "/404")])
    pages = {r.url.rsplit("/", 1)[1]: r for r in records}
    assert pages[""].digest == pages["same"].digest == _digest(HTML)  # duplicates spotted
    assert len(pages[""].digest) == len("sha1:") + 32
    assert pages["empty"].digest is None
    assert pages["404"].digest is not None  # the 404 page's own body
    assert "digest" in pages[""].to_dict() and "archive" not in pages[""].to_dict()


@pytest.mark.parametrize("fetcher", sorted(FETCHERS))
def test_a_body_cut_by_max_bytes_is_marked_truncated(threaded_server, tmp_path, fetcher):
    httpserver = threaded_server  # HTTP/1.1, so a streamed body goes chunked
    big = b"<title>big</title>" + b"y" * 500_000

    def stream(request):  # chunked: no Content-Length, so the cap cuts the read itself
        return Response(big[i : i + 10_000] for i in range(0, len(big), 10_000))

    httpserver.expect_request("/big").respond_with_handler(stream)
    httpserver.expect_request("/declared").respond_with_data(big, content_type="text/html")
    path = str(tmp_path / "cut.warc.gz")
    urls = [httpserver.url_for("/big"), httpserver.url_for("/declared")]
    records, _ = run_crawl(urls, warc=path, max_bytes=20_000, fetcher=fetcher)
    assert {r.error for r in records} == {"too_large"}
    responses = {
        r.rec_headers["WARC-Target-URI"]: r for r in read_warc(path)[1:] if r.rec_type == "response"
    }
    cut = responses[urls[0]]
    assert cut.rec_headers["WARC-Truncated"] == "length"
    assert 0 < len(cut.payload) < len(big) and big.startswith(cut.payload)
    # Chunked on the wire, archived de-chunked: the header says so under its archived name.
    assert cut.http_headers.get_header("X-Archive-Orig-Transfer-Encoding") == "chunked"
    assert cut.http_headers.get_header("Transfer-Encoding") is None
    declared = responses[urls[1]]  # refused from its Content-Length: headers only
    assert declared.rec_headers["WARC-Truncated"] == "length" and declared.payload == b""
    assert_valid(path)


@pytest.mark.parametrize("fetcher", sorted(FETCHERS))
def test_a_body_cut_by_the_deadline_is_marked_time(httpserver, tmp_path, fetcher):
    def trickle():
        yield b"<title>slow</title>"
        for _ in range(40):
            time.sleep(0.05)  # the server's pace, not a synchronisation
            yield b"." * 100

    httpserver.expect_request("/slow").respond_with_handler(lambda request: Response(trickle()))
    path = str(tmp_path / "slow.warc.gz")
    records, _ = run_crawl(
        [httpserver.url_for("/slow")], warc=path, timeout=1, deadline=0.5, fetcher=fetcher
    )
    assert records[0].error == "timeout"
    response = [r for r in read_warc(path) if r.rec_type == "response"][0]
    assert response.rec_headers["WARC-Truncated"] == "time"
    assert response.payload.startswith(b"<title>slow</title>")


@pytest.mark.parametrize("fetcher", sorted(FETCHERS))
def test_user_secrets_are_not_archived(httpserver, tmp_path, fetcher):
    httpserver.expect_request("/").respond_with_data("ok")
    path = str(tmp_path / "s.warc.gz")
    headers = (("Authorization", "Bearer s3cr3t"), ("X-Trace", "visible"))
    run_crawl([httpserver.url_for("/")], warc=path, headers=headers, proxy=None, fetcher=fetcher)
    with gzip.open(path) as archive:
        data = archive.read()
    assert b"s3cr3t" not in data
    assert b"Authorization: [redacted]" in data and b"X-Trace: visible" in data


@pytest.mark.parametrize(
    "options",
    [
        pytest.param({}, id="serial"),
        # the writer's batches; records serialised in pool children
        pytest.param(
            {"mode": "processes", "workers": 2}, id="processes", marks=pytest.mark.subprocess
        ),
    ],
)
def test_rotation_writes_numbered_files_each_valid(httpserver, tmp_path, options):
    blob = os.urandom(400_000)  # incompressible, so each record is ~400 KB in the file
    for n in range(6):
        httpserver.expect_request(f"/{n}").respond_with_data(blob, content_type="application/x")
    path = str(tmp_path / "rot.warc.gz")
    urls = [httpserver.url_for(f"/{n}") for n in range(6)]
    run_crawl(urls, warc=path, warc_max_size=1024 * 1024, **options)
    files = sorted(p for p in os.listdir(tmp_path) if p.endswith(".warc.gz"))
    assert files == ["rot-00001.warc.gz", "rot.warc.gz"]
    seen = []
    for name in files:
        full = str(tmp_path / name)
        warc = read_warc(full)
        assert warc[0].rec_type == "warcinfo" and warc[0].rec_headers["WARC-Filename"] == name
        seen += [r.rec_headers["WARC-Target-URI"] for r in warc if r.rec_type == "response"]
        assert_valid(full)
        assert os.path.getsize(full) < 2 * 1024 * 1024  # a pair never straddles files
    assert sorted(seen) == sorted(urls)


def test_without_warc_the_fetchers_keep_nothing(httpserver):
    httpserver.expect_request("/").respond_with_data("ok")
    for name in FETCHERS:
        fetcher = open_fetcher(CrawlConfig(fetcher=name))
        try:
            assert fetcher.fetch(httpserver.url_for("/")).exchanges == ()
        finally:
            fetcher.close()


IN_PROCESS = [
    pytest.param({"mode": "serial"}, id="serial"),
    pytest.param({"mode": "threads", "workers": 4}, id="threads"),
    pytest.param({"mode": "processes", "workers": 2}, id="processes"),
    pytest.param({"mode": "processes", "workers": 2, "greenlets": 4}, id="processes-greenlets"),
]


def assert_site_archive(path: str, records: list[dict]) -> None:
    """One response (and one request) per fetched record, none interleaved or lost."""
    warc = read_warc(path)
    fetched = sorted(r["url"] for r in records if r["status"] is not None)
    responses = sorted(r.rec_headers["WARC-Target-URI"] for r in warc if r.rec_type == "response")
    assert responses == fetched and len(fetched) > 40
    assert sum(r.rec_type == "request" for r in warc) == len(fetched)
    digests = {r["url"]: r["digest"] for r in records}
    for record in warc:
        if record.rec_type == "response" and record.payload:
            assert record.http_headers.get_header("Content-Encoding") is None
            assert _digest(record.payload) == digests[record.rec_headers["WARC-Target-URI"]]
    assert_valid(path)


@pytest.mark.parametrize("options", IN_PROCESS)
def test_every_mode_writes_one_valid_warc(site, tmp_path, options):
    path = str(tmp_path / "site.warc.gz")
    records, _ = run_crawl([site.url], depth=50, warc=path, **options)
    assert_site_archive(path, [r.to_dict() for r in records])


def test_a_redis_crawl_writes_one_valid_warc(site, tmp_path, redis_url):
    # A crawl whose state is in Redis (each machine writing its own file) archives the same.
    path = str(tmp_path / "redis.warc.gz")
    options = {"backend": redis_url, "crawl_id": uuid.uuid4().hex}
    records, _ = run_crawl([site.url], depth=50, warc=path, mode="threads", workers=4, **options)
    assert_site_archive(path, [r.to_dict() for r in records])


def test_gevent_mode_writes_a_valid_warc_from_the_cli(site, tmp_path):
    path = str(tmp_path / "g.warc.gz")
    args = ["--mode", "gevent", "--workers", "8", "--depth", "50", "--ignore-robots", "-q"]
    out = subprocess.run(
        [sys.executable, os.path.join(ROOT, "cli.py"), *args, "--warc", path, site.url],
        capture_output=True,
        text=True,
        timeout=90,
        cwd=ROOT,
    )
    assert out.returncode in (0, 1), out.stderr  # 1: the site has 404s on purpose
    assert_site_archive(path, [json.loads(line) for line in out.stdout.splitlines()])


def test_cli_refuses_an_unwritable_warc_and_a_bad_size(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    missing = str(tmp_path / "no" / "such" / "dir" / "x.warc.gz")
    out = invoke_cli("--warc", missing, "http://127.0.0.1:9/")
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "cannot write" in out.stderr and len(out.stderr.strip().splitlines()) == 1
    out = invoke_cli("--warc", "x.warc.gz", "--warc-max-size", "lots", "http://127.0.0.1:9/")
    assert out.returncode == 2 and "is not a size" in out.stderr
    assert list(tmp_path.iterdir()) == []


def _digest(body: bytes) -> str:
    return "sha1:" + base64.b32encode(hashlib.sha1(body).digest()).decode()


@pytest.mark.parametrize("fetcher", sorted(FETCHERS))
def test_a_gzip_bomb_is_still_too_large_with_warc(httpserver, tmp_path, fetcher):
    bomb = gzip.compress(b"\0" * (20 * 1024 * 1024), compresslevel=9)
    httpserver.expect_request("/").respond_with_data(
        bomb, content_type="text/html", headers={"Content-Encoding": "gzip"}
    )
    path = str(tmp_path / "bomb.warc.gz")
    records, _ = run_crawl(
        [httpserver.url_for("/")], warc=path, max_bytes=1024 * 1024, fetcher=fetcher
    )
    assert records[0].error == "too_large"
    response = [r for r in read_warc(path) if r.rec_type == "response"][0]
    assert response.rec_headers["WARC-Truncated"] == "length"
    assert bomb.startswith(response.payload)  # the raw bytes read, not what they expand to


@pytest.mark.parametrize("fetcher", sorted(FETCHERS))
def test_every_attempt_of_a_retried_page_is_archived(httpserver, tmp_path, fetcher):
    httpserver.expect_ordered_request("/flaky").respond_with_data("busy", status=503)
    httpserver.expect_ordered_request("/flaky").respond_with_data("<title>up</title>")
    path = str(tmp_path / "retry.warc.gz")
    records, _ = run_crawl(
        [httpserver.url_for("/flaky")], warc=path, retry_backoff=0, fetcher=fetcher
    )
    assert records[0].status == 200 and records[0].attempts == 2
    responses = [r for r in read_warc(path) if r.rec_type == "response"]
    assert [r.http_headers.get_statuscode() for r in responses] == ["503", "200"]
    assert [r.payload for r in responses] == [b"busy", b"<title>up</title>"]


@pytest.mark.parametrize("fetcher", sorted(FETCHERS))
def test_url_credentials_are_not_archived(httpserver, tmp_path, fetcher):
    httpserver.expect_request("/").respond_with_data("ok")
    path = str(tmp_path / "c.warc.gz")
    url = httpserver.url_for("/").replace("http://", "http://alice:hunter2@")
    records, _ = run_crawl([url], warc=path, fetcher=fetcher)
    assert records[0].status == 200
    with gzip.open(path) as archive:
        data = archive.read()
    assert b"hunter2" not in data and base64.b64encode(b"alice:hunter2") not in data
    assert b"Authorization: [redacted]" in data


def gzip_members(path: str) -> list[bytes]:
    """The decompressed gzip members of ``path``, one by one."""
    with open(path, "rb") as f:
        data = f.read()
    members = []
    while data:
        inflater = zlib.decompressobj(31)
        members.append(inflater.decompress(data))
        assert inflater.eof, "a member ends early"
        data = inflater.unused_data
    return members


COMPRESSORS = [
    pytest.param(compress.zlib_member, id="zlib"),
    pytest.param(
        compress.igzip_member,
        id="igzip",
        marks=pytest.mark.skipif(compress.igzip_member is None, reason="isal not installed"),
    ),
]


@pytest.mark.parametrize("member", COMPRESSORS)
def test_each_record_is_a_gzip_member_of_its_own_with_either_compressor(
    archived_site, monkeypatch, member
):
    # With igzip (installed with the package) or zlib (an install without it), the same file.
    monkeypatch.setattr(records, "gzip_member", member)
    server, gz, path = archived_site
    run_crawl([server.url_for("/")], depth=2, warc=path)
    warc = read_warc(path)
    assert [r.rec_type for r in warc][:3] == ["warcinfo", "response", "request"]
    members = gzip_members(path)
    assert len(members) == len(warc) == 1 + 2 * 4
    assert all(m.startswith(b"WARC/1.1\r\n") and m.endswith(b"\r\n\r\n") for m in members)
    payloads = {
        r.rec_headers["WARC-Target-URI"]: r.payload for r in warc if r.rec_type == "response"
    }
    assert payloads[server.url_for("/gz")] == gz and payloads[server.url_for("/")] == HTML
    ids = [r.rec_headers["WARC-Record-ID"] for r in warc]
    assert len(set(ids)) == len(ids)
    for record_id in ids:  # <urn:uuid:...>, random (version 4) UUIDs in their canonical form
        assert record_id.startswith("<urn:uuid:") and record_id.endswith(">")
        parsed = uuid.UUID(record_id[len("<urn:uuid:") : -1])
        assert parsed.version == 4 and str(parsed) == record_id[len("<urn:uuid:") : -1]
    assert_valid(path)


@pytest.mark.subprocess  # a fresh interpreter, to see what a crawl imports
def test_a_crawl_with_warc_does_not_import_warcio(httpserver, tmp_path):
    # Its writer cost more to import (CPU, and wall time before the first page) than
    # archiving hundreds of pages: the records, warcinfo included, are written by hand.
    httpserver.expect_request("/").respond_with_data(HTML, content_type="text/html")
    path = str(tmp_path / "w.warc.gz")
    code = (
        "import sys\n"
        "from crawler.config import CrawlConfig\n"
        "from crawler.engine import Crawler\n"
        f"Crawler(CrawlConfig(warc={path!r}, robots=False)).run([sys.argv[1]])\n"
        "print(sorted(m for m in sys.modules if m.startswith('warcio')))\n"
    )
    url = httpserver.url_for("/")
    out = subprocess.run(
        [sys.executable, "-c", code, url], capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
    assert [r.rec_type for r in read_warc(path)] == ["warcinfo", "response", "request"]


def test_record_ids_do_not_follow_the_programs_random_seed():
    # Record IDs come from a generator of the archive's own, seeded by the OS: a program that
    # seeds ``random`` for its own reasons must not get the same IDs in two crawls.
    import random

    random.seed(7)
    first = [records._record_id() for _ in range(4)]
    random.seed(7)
    assert not set(first) & {records._record_id() for _ in range(4)}


@pytest.mark.subprocess  # a forked child
@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_makes_record_ids_of_its_own():
    # Children forked with the generator's state must not repeat their parent's IDs.
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next IDs, then out without running the test's teardown
        os.write(write, "\n".join(records._record_id() for _ in range(4)).encode())
        os._exit(0)
    os.close(write)
    parent = {records._record_id() for _ in range(4)}
    with os.fdopen(read) as child:
        assert not parent & set(child.read().split())
    assert os.waitpid(pid, 0)[1] == 0


def test_warc_date_is_utc_to_the_microsecond():
    from datetime import UTC, datetime

    from crawler.http.capture import warc_date

    before = datetime.now(UTC)
    date = warc_date()
    after = datetime.now(UTC)
    assert len(date) == len("2026-12-02T00:46:00.123456Z") and date.endswith("Z")
    parsed = datetime.strptime(date, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    assert before <= parsed <= after


def test_request_records_follow_each_requests_headers():
    # The formatted header lines are kept for the next request with the same headers; a
    # request with others (a validator, a cookie) gets its own, and the kept ones stay few.
    from crawler.http import capture

    def sent(headers: dict[str, str]) -> bytes:
        recorder = capture.ExchangeRecorder("http://h.test/p?q=1")
        recorder.sent("GET", "http://user:pw@h.test/p?q=1", headers)
        return recorder._request

    plain = {"User-Agent": "ua", "Authorization": "Basic c2VjcmV0"}
    assert sent(plain) == (
        b"GET /p?q=1 HTTP/1.1\r\nHost: h.test\r\nUser-Agent: ua\r\n"
        b"Authorization: [redacted]\r\n\r\n"
    )
    assert sent(plain) == sent(dict(plain))
    for n in range(200):
        assert sent({**plain, "If-None-Match": f'"{n}"'}).endswith(f'"{n}"\r\n\r\n'.encode())
    assert len(capture._HEADER_LINES) <= capture._HEADER_LINES_KEPT
