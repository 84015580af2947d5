"""The local test site: real HTTP against its subprocess, and its manifest checked independently.

The reference crawl here is deliberately separate from the crawler (``requests`` + ``lxml`` +
``w3lib``), so a mistake in the manifest cannot hide behind the same mistake in the crawler.
"""

from __future__ import annotations

import http.client
import re
import signal
import subprocess
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urljoin

import lxml.html
import pytest
import requests
from w3lib.url import canonicalize_url

from fixtures.content import build_routes
from fixtures.manifest import build_manifest
from fixtures.site import SiteProcess
from tests.support.cli import alive, run_python, start_python

pytestmark = pytest.mark.timeout(60)


def _session() -> requests.Session:
    s = requests.Session()
    s.trust_env = False  # loopback only: never through a proxy from the environment
    return s


def _links(url: str, body: bytes) -> list[tuple[str, bool]]:
    """(canonical http link, nofollow) for each ``<a href>``, resolved against ``<base>``."""
    doc = lxml.html.fromstring(body)
    base = urljoin(url, (doc.xpath("//base/@href") or [""])[0])
    out = []
    for a in doc.xpath("//a[@href]"):
        target = urljoin(base, a.get("href"))
        if target.lower().startswith("http://"):
            out.append((canonicalize_url(target), "nofollow" in (a.get("rel") or "").split()))
    return out


def _reference_crawl(site: SiteProcess) -> tuple[dict[str, dict], list[tuple[str, str, int]]]:
    """BFS from ``/`` with the manifest's rules; returns records and (src, dst, weight) edges."""
    http_ = _session()
    start = canonicalize_url(site.url)
    records, edges = {}, []
    depth, queue = {start: 0}, deque([(start, ())])
    while queue:
        url, chain = queue.popleft()
        r = http_.get(url, allow_redirects=False, timeout=10)
        rec = {"status": r.status_code, "error": None, "depth": depth[url]}
        rec["content_type"] = r.headers["Content-Type"]
        found: list[tuple[str, int]] = []
        if r.is_redirect:
            target = canonicalize_url(urljoin(url, r.headers["Location"]))
            if target in (*chain, url):
                rec["error"] = "redirect_loop"
            else:
                found, chain = [(target, 0)], (*chain, url)
        elif r.status_code >= 400:
            rec["error"] = "http_error"
        elif r.headers["Content-Type"] == "text/html":
            found = [(link, 1) for link, nofollow in _links(url, r.content) if not nofollow]
            chain = ()
        records[url] = rec
        for target, weight in found:
            edges.append((url, target, weight))
            if target not in depth:
                depth[target] = depth[url] + weight
                queue.append((target, chain if weight == 0 else ()))
    return records, edges


def test_reference_crawl_matches_the_manifest(site):
    records, _ = _reference_crawl(site)
    assert records == site.manifest()["pages"]


def test_depths_do_not_depend_on_fetch_order(site):
    """Every link goes to itself, one level down, or back to level 0-1 (all claimed by home)."""
    pages = site.manifest()["pages"]
    _, edges = _reference_crawl(site)
    for src, dst, weight in edges:
        d = pages[dst]["depth"]
        assert src == dst or d <= 1 or d == pages[src]["depth"] + weight, (src, dst)


def test_every_manifest_page_answers_as_stated(site):
    http_ = _session()
    for url, rec in site.manifest()["pages"].items():
        r = http_.get(url, allow_redirects=False, timeout=10)
        assert (r.status_code, r.headers["Content-Type"]) == (rec["status"], rec["content_type"])


def test_manifest_flags_and_special_outcomes(site):
    m, base = site.manifest(), site.base
    pages = m["pages"]
    assert m["start"] == site.url
    assert m["robots_disallowed"] == [f"{base}/private/secret.html"]
    assert m["nofollow"] == [f"{base}/nofollow-trap.html"]
    assert m["large"] == f"{base}/large.html" and pages[m["large"]]["status"] == 200
    assert f"{base}/nofollow-trap.html" not in pages
    assert pages[f"{base}/loop/a"] == {**pages[f"{base}/loop/b"], "error": None}
    assert pages[f"{base}/loop/b"]["error"] == "redirect_loop"
    assert pages[f"{base}/redirect/target.html"]["depth"] == pages[f"{base}/redirect/302"]["depth"]
    assert pages[f"{base}/page/7.html?a=1&b=2"]["status"] == 200
    assert {u for u, r in pages.items() if r["error"] == "http_error"} == {
        f"{base}/missing/{i}.html" for i in (1, 2, 3)
    }
    specials = [u for u in pages if "/page/" not in u and u != site.url]
    assert max(pages[u]["depth"] for u in specials) <= 2


def test_links_come_in_every_equivalent_form(site):
    http_ = _session()
    hrefs = set()
    for path in ["/", *(f"/page/{i}.html" for i in range(1, 51))]:
        doc = lxml.html.fromstring(http_.get(site.base + path, timeout=10).content)
        hrefs.update(doc.xpath("//a/@href"))
    port = site.port
    expected = [
        r"^\d+\.html$",  # relative
        r"^\.\./page/\d+\.html$",
        r"^/page/\d+\.html$",  # root-relative
        rf"^http://127\.0\.0\.1:{port}/page/\d+\.html$",  # absolute
        r"^/page/\d+\.html#section-2$",  # fragment
        rf"^HTTP://127\.0\.0\.1:{port}/",  # upper-case scheme
        r"^/page/\.\./page/\d+\.html$",  # dot-segments
        r"^/page/\d+\.html\?$",  # empty query
        r"^/page/7\.html\?b=2&a=1$",
        r"^7\.html\?a=1&b=2$",
        r"^mailto:",
        r"^javascript:",
        r"^ftp://",
        r"^/nofollow-trap\.html$",
    ]
    for pattern in expected:
        assert any(re.search(pattern, h) for h in hrefs), pattern
    base_page = http_.get(site.base + "/base/index.html", timeout=10).content
    assert b'<base href="/page/">' in base_page and b'href="4.html"' in base_page


def test_special_paths(site):
    http_ = _session()

    def get(path: str) -> requests.Response:
        return http_.get(site.base + path, allow_redirects=False, timeout=10)

    assert get("/redirect/301").headers["Location"] == f"{site.base}/page/2.html"
    assert get("/redirect/302").headers["Location"] == "/redirect/target.html"
    assert get("/loop/a").headers["Location"] == "/loop/b"
    pdf = get("/files/data.pdf")
    assert pdf.headers["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    assert len(get("/large.html").content) == 200_000
    assert get("/robots.txt").text == "User-agent: *\nDisallow: /private/\n"
    assert get("/no/such/page.html").status_code == 404
    assert get("/page/3.html?anything=1").content == get("/page/3.html").content
    listed = get("/urls.txt").text.split()
    assert listed == [site.url, *(f"{site.base}/page/{i}.html" for i in range(1, 51))]


def test_counts_per_raw_path_and_reset(fresh_site):
    http_ = _session()
    for path in ["/page/3.html", "/page/3.html", "/page/3.html?x=1", "/missing/9.html"]:
        http_.get(fresh_site.base + path, timeout=10)
    conn = http.client.HTTPConnection("127.0.0.1", fresh_site.port, timeout=10)
    conn.request("GET", "/page/3.html?")  # requests would drop the empty query
    conn.getresponse().read()
    expected = {"/page/3.html": 2, "/page/3.html?x=1": 1, "/missing/9.html": 1, "/page/3.html?": 1}
    assert fresh_site.counts() == expected  # the /__ control calls are not counted
    fresh_site.reset_counts()
    assert fresh_site.counts() == {}


def test_hold_lets_n_requests_through_and_holds_the_rest_until_release(fresh_site):
    http_ = _session()
    fresh_site.hold(after=1)
    try:
        assert http_.get(fresh_site.base + "/page/1.html", timeout=10).status_code == 200
        with ThreadPoolExecutor(2) as pool:
            held = [  # a session each: a Session is not promised to be thread-safe
                pool.submit(_session().get, fresh_site.base + f"/page/{i}.html", timeout=30)
                for i in (2, 3)
            ]
            deadline = time.monotonic() + 10
            while fresh_site.held() < 2:  # both requests arrived and wait at the gate
                assert time.monotonic() < deadline, fresh_site.held()
            assert not any(f.done() for f in held)
            fresh_site.release()
            assert [f.result().status_code for f in held] == [200, 200]
    finally:
        fresh_site.release()
    assert fresh_site.held() == 0
    assert http_.get(fresh_site.base + "/page/4.html", timeout=10).status_code == 200
    assert sum(fresh_site.counts().values()) == 4


def test_keep_alive_reuses_one_connection(site):
    conn = http.client.HTTPConnection("127.0.0.1", site.port, timeout=10)
    ports = set()
    for i in range(1, 11):
        conn.request("GET", f"/page/{i}.html")
        r = conn.getresponse()
        assert r.status == 200 and r.read() and r.getheader("Connection") != "close"
        ports.add(conn.sock.getsockname()[1])
    assert len(ports) == 1


def test_concurrent_clients_all_succeed(fresh_site):
    routes = build_routes(fresh_site.base, pages=50, links=10, page_bytes=3000)
    expected = {f"/page/{i}.html": routes[f"/page/{i}.html"].body for i in range(1, 21)}

    def client(_: int) -> list[bool]:
        http_ = _session()
        return [
            http_.get(fresh_site.base + p, timeout=10).content == b for p, b in expected.items()
        ]

    with ThreadPoolExecutor(50) as pool:
        results = [ok for batch in pool.map(client, range(50)) for ok in batch]
    assert len(results) == 1000 and all(results)
    assert fresh_site.counts() == dict.fromkeys(expected, 50)


def test_served_bytes_and_manifest_equal_a_local_build(site):
    routes = build_routes(site.base, pages=50, links=10, page_bytes=3000)
    http_ = _session()
    for path in ["/", "/page/1.html", "/page/50.html", "/base/index.html"]:
        assert http_.get(site.base + path, timeout=10).content == routes[path].body
    assert build_manifest(site.base, routes) == site.manifest()


def test_content_is_deterministic_per_seed():
    origin = "http://127.0.0.1:1"
    assert build_routes(origin) == build_routes(origin)
    assert build_routes(origin)["/"].body != build_routes(origin, seed=7)["/"].body


def test_latency_delays_every_counted_response():
    with SiteProcess(pages=3, latency_ms=300) as site:
        http_ = _session()
        started = time.monotonic()
        assert http_.get(site.url, timeout=10).status_code == 200
        assert time.monotonic() - started >= 0.3
        # Concurrent requests wait side by side, not in turn: 20 x 300 ms would be 6 s.
        started = time.monotonic()
        with ThreadPoolExecutor(20) as pool:
            statuses = list(
                pool.map(lambda _: _session().get(site.url, timeout=10).status_code, range(20))
            )
        elapsed = time.monotonic() - started
        assert statuses == [200] * 20 and 0.3 <= elapsed < 3.0


def test_pages_links_and_page_bytes_options():
    with SiteProcess(pages=7, links=4, page_bytes=5000) as site:
        http_ = _session()
        for i in range(2, 8):  # pages 2..7 carry no special links
            r = http_.get(f"{site.base}/page/{i}.html", timeout=10)
            assert len(r.content) == 5000
            anchors = lxml.html.fromstring(r.content).xpath("//ul/li/a/@href")
            assert len(anchors) == 4 + 1  # the page links, plus "#top"
            targets = {canonicalize_url(urljoin(r.url, href)) for href in anchors}
            assert all(re.fullmatch(rf"{site.base}/(page/\d\.html)?", t) for t in targets)
        assert http_.get(f"{site.base}/page/8.html", timeout=10).status_code == 404
        assert sum("/page/" in u for u in site.manifest()["pages"]) == 7 + 1  # + ?a=1&b=2


def _spawn_site(*args: str) -> subprocess.Popen:
    return start_python(
        module="fixtures.site", args=["--pages", "5", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


@pytest.mark.subprocess
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_cli_prints_site_line_and_exits_cleanly_on_signal(signum):
    proc = _spawn_site("--port", "0")
    try:
        line = proc.stdout.readline()
        assert re.fullmatch(r"SITE http://127\.0\.0\.1:\d+/\n", line)
        url = line.split()[1]
        assert _session().get(url, timeout=10).status_code == 200
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=10)
    finally:
        proc.kill()
        proc.wait()
    assert (proc.returncode, out, err) == (0, "", "")


@pytest.mark.subprocess
def test_cli_rejects_bad_options_in_one_line():
    proc = _spawn_site("--pages", "0")
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 2 and "Traceback" not in err and "--pages" in err


def test_site_process_reports_a_failed_start():
    with pytest.raises(RuntimeError, match="did not start"), SiteProcess(links=0):
        pass


def test_site_process_reaps_its_child_cleanly():
    with SiteProcess(pages=3) as site:
        proc = site.proc
        assert site.url.startswith("http://127.0.0.1:") and site.base + "/" == site.url
    assert proc.returncode == 0 and site.stderr_text() == ""


def test_server_exits_when_its_parent_dies():
    code = (
        "import os, sys; from fixtures.site import SiteProcess\n"
        "site = SiteProcess(pages=3).start()\n"
        "print(site.proc.pid, flush=True); os._exit(0)\n"
    )
    out = run_python(code, timeout=30)
    pid = int(out.stdout.split()[0])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and alive(pid):
        time.sleep(0.1)  # polling a process we cannot wait() on: it is not our child
    assert not alive(pid)
