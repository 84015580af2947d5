"""The health service beside a real crawl, and the `crawl health` / `echo-server` commands."""

import json
import os
import re
import signal
import socket
import subprocess
import time

import pytest

from tests.support.cli import invoke_cli, start_cli
from tests.support.graph_site import GraphSite


def stats_of(port: int) -> dict:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"STATS\n")
        data = b""
        while not data.endswith(b"\n"):
            chunk = sock.recv(4096)
            assert chunk, "service closed before answering STATS"
            data += chunk
    return json.loads(data)


def wait_for_line(stream, pattern: str, deadline: float) -> re.Match:
    while time.monotonic() < deadline:
        line = stream.readline()
        if not line:
            break
        if match := re.search(pattern, line):
            return match
    raise AssertionError(f"no line matching {pattern!r}")


MODES = {
    "serial": ["--mode", "serial"],
    "threads": ["--mode", "threads", "--workers", "2"],
    "gevent": ["--mode", "gevent", "--workers", "2"],
    "processes": ["--mode", "processes", "--workers", "2"],
}


@pytest.mark.timeout(90)
@pytest.mark.parametrize("mode", list(MODES))
def test_stats_during_a_crawl_and_probe_exit_codes(mode):
    # Pages are held at the site and let through a few at a time: the crawl is running at
    # every step below, however slow the machine, and then ends at once.
    with GraphSite(pages=30, hold_after=1) as site:
        proc = start_cli(
            *MODES[mode], "--depth", "50", "--ignore-robots", "--health-port", "0",
            "-o", os.devnull, site.seed, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            match = wait_for_line(
                proc.stderr, r"health service on [\d.]+:(\d+)", time.monotonic() + 30
            )
            port = int(match.group(1))
            first = stats_of(port)
            assert first["pid"] == proc.pid and first["mode"] == mode and first["running"]
            site.release(more=2)
            deadline = time.monotonic() + 30
            while (later := stats_of(port))["pages"] <= first["pages"]:
                assert time.monotonic() < deadline, "pages never increased"
            assert later["uptime_s"] >= first["uptime_s"]
            assert later["in_flight"] >= 0 and later["queued"] >= 0
            assert set(later) >= {"pages", "ok", "errors", "pages_per_s", "mode", "pid"}
            probe = invoke_cli("health", f"127.0.0.1:{port}")
            assert probe.returncode == 0, probe.stderr
            assert re.match(r"ok: 127\.0\.0\.1:\d+ echoed in [\d.]+ ms", probe.stdout)
            site.release()
            proc.stderr.read()
            assert proc.wait(timeout=60) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    # The service stopped with the crawl: the port is closed now.
    closed = invoke_cli("health", f"127.0.0.1:{port}", "--timeout", "2")
    assert closed.returncode == 1
    assert closed.stderr.strip() == f"unhealthy: 127.0.0.1:{port}: refused"


@pytest.mark.timeout(60)
def test_echo_server_command_serves_and_stops_on_sigint():
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    proc = start_cli("echo-server", "--port", str(port), stderr=subprocess.PIPE, text=True)
    try:
        wait_for_line(proc.stderr, rf"listening on 127\.0\.0\.1:{port}", time.monotonic() + 30)
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(b"hello\n")
            assert sock.recv(100) == b"hello\n"
        assert stats_of(port)["crawl"] is None
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
        assert "Traceback" not in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_health_usage_errors():
    out = invoke_cli("health", "no-port")
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1
