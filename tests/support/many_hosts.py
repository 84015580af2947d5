"""Many web hosts on loopback for politeness tests: one server process bound separately to N
addresses 127.1.x.y (Linux routes all of 127.0.0.0/8 to lo), the same port on each.

Each host serves ``/`` linking to ``/p1`` ... ``/p{P-1}``, and those pages (no links), after
``latency`` seconds; ``/robots.txt`` is 404 unless a ``Crawl-delay`` is asked for. The server
keeps, per host, every request's path and arrival time, the most requests in progress at
once and the connections opened; ``ManyHosts.stats()`` reads them (``GET /__stats``) and
``ManyHosts.reset()`` forgets them (``GET /__reset``). Run alone:
``python -m tests.support.many_hosts --hosts 200 --pages 20 --latency-ms 20``.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import urllib.request
from collections import defaultdict
from typing import Any

from tests.support.paths import ROOT
from tests.support.spacing import behind_schedule

_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def address(i: int) -> str:
    """The loopback address of host ``i`` (0-based)."""
    return f"127.1.{i // 250}.{i % 250 + 1}"


class _Server:
    def __init__(self, pages: int, latency: float, crawl_delay: float | None) -> None:
        self.pages = pages
        self.latency = latency
        self.crawl_delay = crawl_delay
        self.arrivals: dict[str, list[tuple[float, str]]] = defaultdict(list)
        self.active: dict[str, int] = defaultdict(int)
        self.peak: dict[str, int] = defaultdict(int)
        self.connections: dict[str, int] = defaultdict(int)  # opened per host (not /__stats)

    def body(self, path: str) -> tuple[int, bytes, str]:
        if path == "/robots.txt":
            if self.crawl_delay is None:
                return 404, b"none", "text/plain"
            text = f"User-agent: *\nCrawl-delay: {self.crawl_delay:g}\n"
            return 200, text.encode(), "text/plain"
        if path == "/":
            links = "".join(f'<a href="/p{i}">p{i}</a>' for i in range(1, self.pages))
            return 200, f"<title>home</title>{links}".encode(), "text/html"
        if path.startswith("/p") and path[2:].isdigit() and 0 < int(path[2:]) < self.pages:
            return 200, f"<title>{path}</title>".encode(), "text/html"
        return 404, b"missing", "text/plain"

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        host = writer.get_extra_info("sockname")[0]
        first = True
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                path = head.split(b" ", 2)[1].decode()
                if first and not path.startswith("/__"):
                    self.connections[host] += 1
                first = False
                if path == "/__stats":
                    stats = {"arrivals": self.arrivals, "peak": self.peak}
                    stats |= {"connections": self.connections, "pid": os.getpid()}
                    data = json.dumps(stats).encode()
                    status, ctype = 200, "application/json"
                elif path == "/__reset":
                    for table in (self.arrivals, self.peak, self.connections):
                        table.clear()
                    status, data, ctype = 200, b"reset", "text/plain"
                else:
                    self.arrivals[host].append((time.monotonic(), path))
                    self.active[host] += 1
                    self.peak[host] = max(self.peak[host], self.active[host])
                    try:
                        if self.latency:
                            await asyncio.sleep(self.latency)  # the simulated server's latency
                        status, data, ctype = self.body(path)
                    finally:
                        self.active[host] -= 1
                writer.write(
                    f"HTTP/1.1 {status} X\r\nContent-Type: {ctype}\r\n"
                    f"Content-Length: {len(data)}\r\n\r\n".encode()
                    + data
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, IndexError):
            pass
        finally:
            writer.close()


async def _serve(hosts: int, pages: int, latency: float, crawl_delay: float | None) -> None:
    server = _Server(pages, latency, crawl_delay)
    first = await asyncio.start_server(server.handle, address(0), 0, backlog=512)
    port = first.sockets[0].getsockname()[1]
    for i in range(1, hosts):
        await asyncio.start_server(server.handle, address(i), port, backlog=512)
    print(f"HOSTS {port}", flush=True)
    parent = os.getppid()
    while os.getppid() == parent:  # exit with the test that started us
        await asyncio.sleep(0.5)


class ManyHosts:
    """The server in a child process; a context manager that starts and always reaps it."""

    def __init__(
        self, hosts: int, pages: int, *, latency: float = 0.0, crawl_delay: float | None = None
    ) -> None:
        self.hosts, self.pages = hosts, pages
        self.args = ["--hosts", str(hosts), "--pages", str(pages), "--latency", str(latency)]
        if crawl_delay is not None:
            self.args += ["--crawl-delay", str(crawl_delay)]
        self.port = 0
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> ManyHosts:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.support.many_hosts", *self.args],
            stdout=subprocess.PIPE,
            cwd=ROOT,
            text=True,
        )
        line = self.proc.stdout.readline()  # bounded: the server prints it at once or dies
        if not line.startswith("HOSTS "):
            self.proc.kill()
            raise RuntimeError(f"many-hosts server did not start: {line!r}")
        self.port = int(line.split()[1])
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(10)
        self.proc.stdout.close()

    def origin(self, i: int) -> str:
        """``http://127.1.x.y:PORT`` of host ``i``."""
        return f"http://{address(i)}:{self.port}"

    def urls(self, order: str = "sorted") -> list[str]:
        """Every page of every host: ``sorted`` by host, ``interleaved`` (host by host in
        turn), or ``discovered`` (each host's ``/`` only: the rest is found by crawling)."""
        if order == "discovered":
            return [self.origin(h) + "/" for h in range(self.hosts)]
        paths = ["/"] + [f"/p{i}" for i in range(1, self.pages)]
        if order == "sorted":
            return [self.origin(h) + p for h in range(self.hosts) for p in paths]
        return [self.origin(h) + p for p in paths for h in range(self.hosts)]

    def reset(self) -> None:
        """Forget every request seen so far (one server for several crawls, one after another;
        a crawl's connections must be closed by then, or their next requests count as none)."""
        with _OPENER.open(self.origin(0) + "/__reset", timeout=10) as response:
            response.read()

    def stats(self) -> dict[str, Any]:
        """``arrivals`` (host -> [[time, path], ...]), ``peak`` (host -> most at once) and
        ``connections`` (host -> connections opened)."""
        with _OPENER.open(self.origin(0) + "/__stats", timeout=10) as response:
            return json.loads(response.read())


def politeness_report(stats: dict[str, Any], delay: float) -> dict[str, Any]:
    """What the server saw: how far the hosts fell behind the schedule ``delay`` sets
    (``behind``, the worst host, tests/support/spacing.py; the smallest gap between two starts
    on one host, ``min_gap``, only says more when it fails), hosts whose robots.txt came other
    than first and once, requests made twice, the peak concurrency."""
    min_gap = float("inf")
    behind = float("-inf")
    robots_wrong: list[str] = []
    duplicates = 0
    for host, hits in stats["arrivals"].items():
        times = sorted(t for t, _ in hits)
        for a, b in zip(times, times[1:], strict=False):
            min_gap = min(min_gap, b - a)
        behind = max(behind, behind_schedule(times, delay))
        ordered = [p for _, p in sorted(hits)]
        robots = ordered.count("/robots.txt")
        if robots > 1 or (robots == 1 and ordered[0] != "/robots.txt"):
            robots_wrong.append(host)
        pages = [p for p in ordered if p != "/robots.txt"]
        duplicates += len(pages) - len(set(pages))
    return {
        "behind": behind,
        "min_gap": min_gap,
        "robots_wrong": robots_wrong,
        "duplicates": duplicates,
        "peak": max(stats["peak"].values(), default=0),
        "requests": sum(len(h) for h in stats["arrivals"].values()),
    }


def main() -> None:
    """``--hosts N --pages P --latency S [--crawl-delay S]``."""
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--hosts", type=int, default=10)
    parser.add_argument("--pages", type=int, default=5)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--crawl-delay", type=float, default=None)
    args = parser.parse_args()
    asyncio.run(_serve(args.hosts, args.pages, args.latency, args.crawl_delay))


if __name__ == "__main__":
    main()
