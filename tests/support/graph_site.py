"""A small threaded test site for multi-worker crawls: N linked pages, a per-page latency, and
server-side request counts and timestamps (the ground truth of "fetched once")."""

from __future__ import annotations

import subprocess
import threading
import time
from collections import Counter

from pytest_httpserver import URIPattern
from werkzeug import Request, Response

from tests.support.cli import start_cli
from tests.support.servers import HTTPServer

# The longest a held page waits for ``release`` (a test that never releases still ends).
HOLD_S = 60.0


class GraphSite:
    """``/p0`` .. ``/p{N-1}``; every page links to the next one and to a few others.

    With ``hold_after=n``, page requests after the first ``n`` wait until ``release()`` (or
    the site closes): a test that stops a crawl mid-way (a signal, an outage, a second worker)
    then stops it while it surely is still running, however slow the machine, and needs no
    latency long enough to outlast its own reaction time. ``release(more=k)`` lets k more
    through, then holds again."""

    def __init__(
        self, pages: int = 40, links: int = 4, latency: float = 0.0, hold_after: int | None = None
    ) -> None:
        self.pages, self.links, self.latency = pages, links, latency
        self._limit = hold_after  # page requests let through; None: all
        self._gate = threading.Condition()
        self._served = 0  # page requests received
        self.held = 0  # page requests waiting at the gate now
        self.server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self.spans: list[tuple[float, float]] = []  # (start, end) of every request
        self.robots_requests = 0

    def __enter__(self) -> GraphSite:
        self.server.expect_request("/robots.txt").respond_with_handler(self._robots)
        self.server.expect_request(_PagePath()).respond_with_handler(self._page)
        self.server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
        self.server.clear()
        self.server.stop()

    @property
    def seed(self) -> str:
        return self.url("/p0")

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.port}{path}"

    def all_urls(self) -> set[str]:
        return {self.url(f"/p{i}") for i in range(self.pages)}

    def release(self, more: int | None = None) -> None:
        """Let the held pages (``hold_after``) through: all of them and every page after them,
        or ``more`` of them (the earliest first), holding those after again."""
        with self._gate:
            if more is None:
                self._limit = None
            elif self._limit is not None:
                self._limit += more
            self._gate.notify_all()

    def counts(self) -> Counter[str]:
        """Requests served per page path."""
        with self._lock:
            return Counter(self._counts)

    def _robots(self, request: Request) -> Response:
        with self._lock:
            self.robots_requests += 1
        return Response("User-agent: *\nDisallow: /private/\n", content_type="text/plain")

    def _page(self, request: Request) -> Response:
        start = time.monotonic()
        i = int(request.path[2:])
        with self._gate:
            self._served += 1
            place = self._served

            def through() -> bool:
                return self._limit is None or place <= self._limit

            if not through():
                self.held += 1
                self._gate.wait_for(through, HOLD_S)
                self.held -= 1
        if self.latency:
            time.sleep(self.latency)  # the page's simulated latency, not synchronisation
        targets = {(i + 1) % self.pages} | {(i * 7 + 3 * k + 2) % self.pages for k in range(3)}
        body = "".join(f'<a href="/p{t}">{t}</a>' for t in sorted(targets)[: self.links])
        with self._lock:
            self._counts[request.path] += 1
            self.spans.append((start, time.monotonic()))
        return Response(
            f"<html><head><title>p{i}</title></head><body>{body}</body></html>",
            content_type="text/html",
        )


class _PagePath(URIPattern):
    """Matches ``/p<number>`` (pytest-httpserver accepts any object with ``match``)."""

    def match(self, path: str) -> bool:
        return path.startswith("/p") and path[2:].isdigit()


def start_worker(args: list[str], out: str) -> subprocess.Popen:
    """``python -m crawler ARGS -o OUT`` from this checkout, as its own process."""
    return start_cli(
        *args, "-q", "-o", out, module=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip


def wait_until(predicate, timeout: float = 30.0, what: str = "condition") -> None:
    """Poll ``predicate`` until true, or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)
