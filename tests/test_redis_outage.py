"""A Redis outage mid-crawl: ridden out when the server comes back with the crawl, a loud stop
(exit 3, records kept) when it comes back without it. A real redis-server, stopped and started
again on its port; each test has its own server, and its own site whose pages are held while
the outage begins (GraphSite's ``hold_after``)."""

from __future__ import annotations

import json
import socket
import subprocess
import time
import uuid

import pytest
import redis

from tests.support.cli import start_cli
from tests.support.graph_site import GraphSite, wait_until
from tests.support.redis_restart import RestartableRedis
from tests.support.redis_server import redis_executable

pytestmark = [pytest.mark.timeout(120), pytest.mark.subprocess]  # redis-server, the CLI


@pytest.fixture
def server():
    with RestartableRedis(redis_executable()) as running:
        yield running


def start_crawl(
    server: RestartableRedis, site: GraphSite, out, crawl_id: str, mode: str = "serial"
) -> subprocess.Popen:
    args = ["--backend", server.url, "--crawl-id", crawl_id, "--backend-retry", "30"]
    args += ["--mode", mode] + (["--workers", "2"] if mode != "serial" else [])
    args += ["--depth", "50", "--ignore-robots", "-o", str(out), "--health-port", "0", site.seed]
    return start_cli(
        *args, module=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )


def site() -> GraphSite:
    """30 pages; those after the fifth held until the test lets them through: the outage comes
    while the crawl surely runs, with 25 pages left."""
    return GraphSite(pages=30, hold_after=5)


def read_until(proc: subprocess.Popen, text: str) -> list[str]:
    """The crawl's stderr lines up to the first that holds ``text`` (bounded: the crawl exits,
    ending stderr, or the test's timeout)."""
    lines = []
    while not lines or text not in lines[-1]:
        line = proc.stderr.readline()
        assert line, f"stderr ended before {text!r}: {''.join(lines)}"
        lines.append(line)
    return lines


def health_port(proc: subprocess.Popen) -> int:
    """The port of the crawl's health service, from its first stderr line."""
    line = proc.stderr.readline()
    assert line.startswith("health service on "), line
    return int(line.rsplit(":", 1)[1])


def stats_during_outage(port: int) -> tuple[dict, float]:
    """One STATS answer from the health service, and how long it took."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        sock.sendall(b"STATS\n")
        data = b""
        while not data.endswith(b"\n"):
            chunk = sock.recv(4096)
            assert chunk, "closed without an answer"
            data += chunk
    return json.loads(data), time.monotonic() - started


def recorded(server: RestartableRedis, crawl_id: str) -> int:
    try:
        return redis.Redis.from_url(server.url).hlen(f"crawl:{{{crawl_id}}}:records")
    except redis.ConnectionError:
        return 0


def lines(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.parametrize("mode", ["serial", "processes"])
def test_an_outage_shorter_than_backend_retry_is_ridden_out(mode, server, tmp_path):
    crawl_id, out = uuid.uuid4().hex, tmp_path / "out.jsonl"
    with site() as pages:
        proc = start_crawl(server, pages, out, crawl_id, mode)
        try:
            port = health_port(proc)
            wait_until(lambda: recorded(server, crawl_id) >= 5, what="records before the outage")
            server.stop(save=True)  # down, data on disk
            # The health service still answers at once: figures unavailable, not a 30 s wait.
            reply, took = stats_during_outage(port)
            pages.release()
            # Down until the crawl has met the outage and is retrying.
            seen = read_until(proc, "retrying for up to 30 s")
            server.start()  # back, with the crawl's keys
            _, err = proc.communicate(timeout=90)
        finally:
            proc.kill()
    err = "".join(seen) + err
    assert reply["error"] == "stats unavailable" and took < 5, (reply, took)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    records = lines(out)
    urls = [r["url"] for r in records]
    assert len(urls) == len(set(urls)), "a URL recorded twice"
    assert set(urls) == pages.all_urls()
    assert recorded(server, crawl_id) == len(records)


@pytest.mark.parametrize("mode", ["serial", "threads", "gevent", "processes"])
def test_a_restart_that_lost_the_crawl_stops_loudly_with_exit_3(mode, server, tmp_path):
    crawl_id, out = uuid.uuid4().hex, tmp_path / "out.jsonl"
    with site() as pages:
        proc = start_crawl(server, pages, out, crawl_id, mode)
        try:
            wait_until(lambda: recorded(server, crawl_id) >= 5, what="records before the outage")
            server.stop(save=False)  # the crawl's keys are gone with it
            server.start()
            pages.release()
            _, err = proc.communicate(timeout=90)
        finally:
            proc.kill()
    assert proc.returncode == 3, err
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("crawl: error: crawl ") and "is gone from redis" in last, err
    # Every record written before the loss is in the file, whole.
    records = lines(out)
    assert len(records) >= 5
    assert len(records) < pages.pages
