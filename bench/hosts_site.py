"""The many-host site: one server process, N loopback hosts, every request's start time logged.

Run it: ``python -m bench.hosts_site --hosts 20 --pages 5 --latency-ms 20``; it prints one line,
``SITE http://127.1.0.1:PORT/``, then serves until SIGTERM or SIGINT. Each host is its own
address, ``127.1.X.Y`` (``host_addresses``: Linux routes all of 127.0.0.0/8 to ``lo``), with a
listening socket of its own on the one shared port; nothing binds 0.0.0.0.

A host has ``pages`` pages: ``/`` and ``/p/1.html`` .. ``/p/{pages-1}.html``. Page ``k`` links to
the ``links`` pages after it on the same host (wrapping round to ``/``), so a crawl from a
host's ``/`` finds them all within ``discovery_depth`` hops. ``/robots.txt`` allows everything
and, with ``--crawl-delay``, asks for that delay.

The accounting is the point: for every host the server records when each request started
(its own monotonic clock; only differences matter) and how many were in flight at once. The
control endpoints, on any host, are not logged and not delayed: ``/__log`` (JSON:
``{host: {"starts": [[t, path], ...], "peak": n}}``) and ``/__reset``.
"""

from __future__ import annotations

import json
import math
import os
import random
import signal
import sys
import time
from collections import Counter, defaultdict

import click

from fixtures.site import SiteProcess

ROBOTS = "/robots.txt"


def host_addresses(n: int) -> list[str]:
    """The ``n`` host addresses: ``127.1.0.1`` .. ``127.1.0.254``, ``127.1.1.1`` .."""
    if n > 254 * 255:
        raise ValueError(f"at most {254 * 255} hosts, got {n}")
    return [f"127.1.{i // 254}.{i % 254 + 1}" for i in range(n)]


def page_paths(pages: int) -> list[str]:
    """A host's page paths in link order: ``/`` first."""
    return ["/"] + [f"/p/{k}.html" for k in range(1, pages)]


def discovery_depth(pages: int, links: int) -> int:
    """Link hops from ``/`` to the farthest page of a host."""
    return math.ceil((pages - 1) / links) if pages > 1 else 0


class HostsSite(SiteProcess):
    """The many-host site in a child process: ``with HostsSite(hosts=20, pages=5) as site:``.

    ``site.url`` is the first host's ``/``; ``site.hosts`` every host's origin.
    """

    module = "bench.hosts_site"

    def __init__(
        self,
        *,
        hosts: int,
        pages: int,
        latency_ms: float = 0,
        links: int = 10,
        page_bytes: int = 2000,
        crawl_delay: float | None = None,
        startup_timeout: float = 60.0,
    ) -> None:
        super().__init__(startup_timeout=startup_timeout)
        self.n_hosts, self.pages = hosts, pages
        self.args = [
            *("--hosts", str(hosts), "--pages", str(pages), "--latency-ms", str(latency_ms)),
            *("--links", str(links), "--page-bytes", str(page_bytes), "--exit-with-parent"),
        ]
        if crawl_delay is not None:
            self.args += ["--crawl-delay", str(crawl_delay)]

    @property
    def hosts(self) -> list[str]:
        """Every host's origin, ``http://127.1.0.1:PORT`` .., in address order."""
        return [f"http://{a}:{self.port}" for a in host_addresses(self.n_hosts)]

    def log(self) -> dict[str, dict]:
        """Per host address: ``starts`` ([seconds, path] in arrival order) and ``peak``."""
        return json.loads(self._get("/__log"))

    def reset_log(self) -> None:
        self._get("/__reset")


class HostsApp:
    """WSGI app shared by every host's server: logs, waits the latency, answers from a dict."""

    def __init__(self, pages: dict[str, bytes], robots: bytes, latency_ms: float) -> None:
        from fixtures.render import not_found, response

        self.routes = {path: response(200, "text/html", body) for path, body in pages.items()}
        self.routes[ROBOTS] = response(200, "text/plain", robots)
        self.missing = not_found()
        self.latency = latency_ms / 1000.0
        self.starts: dict[str, list[tuple[float, str]]] = defaultdict(list)
        self.active: Counter[str] = Counter()
        self.peak: Counter[str] = Counter()

    def for_host(self, host: str):
        """The WSGI callable of one host's server."""
        return lambda environ, start_response: self(host, environ, start_response)

    def __call__(self, host: str, environ: dict, start_response):
        import gevent

        from fixtures.render import response

        path = environ["PATH_INFO"]
        if path == "/__log":
            log = {h: {"starts": s, "peak": self.peak[h]} for h, s in self.starts.items()}
            r = response(200, "application/json", json.dumps(log).encode())
        elif path == "/__reset":
            self.starts.clear()
            self.peak.clear()  # ``active`` is left alone: requests may still be in flight
            r = response(200, "application/json", b'{"ok": true}')
        else:
            # Logged on arrival, before the latency: the gap between two starts is what a
            # crawl delay governs.
            self.starts[host].append((time.monotonic(), environ.get("RAW_URI") or path))
            self.active[host] += 1
            self.peak[host] = max(self.peak[host], self.active[host])
            try:
                if self.latency:
                    gevent.sleep(self.latency)
            finally:
                self.active[host] -= 1
            r = self.routes.get(path) or self.missing
        start_response(r.status_line, list(r.headers))
        return [r.body]


def render_pages(pages: int, links: int, page_bytes: int) -> dict[str, bytes]:
    """Every host's pages (the same on each host): path → HTML with same-host relative links."""
    from fixtures.render import filler, html_page

    paths = page_paths(pages)
    paras = filler(random.Random(12), 8)
    out = {}
    for k, path in enumerate(paths):
        targets = [paths[(k + j) % pages] for j in range(1, min(links, pages - 1) + 1)]
        items = [f'<a href="{t}">page {t}</a>' for t in targets]
        out[path] = html_page(f"Page {k}", items, page_bytes, paras)
    return out


def _listeners(addresses: list[str], attempts: int = 5) -> list:
    """One listening gevent socket per address, all on one port (free on the first address)."""
    from gevent import socket

    for _ in range(attempts):
        socks: list = []
        try:
            port = 0
            for address in addresses:
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                socks.append(sock)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind((address, port))
                sock.listen(1024)
                port = sock.getsockname()[1]
            return socks
        except OSError:  # that port is taken on another address: try another one
            for sock in socks:
                sock.close()
    raise OSError(f"no port free on all of {len(addresses)} addresses")


def serve(
    *,
    hosts: int,
    pages: int,
    latency_ms: float,
    links: int,
    page_bytes: int,
    crawl_delay: float | None,
    exit_with_parent: bool,
) -> int:
    """Bind every host, print ``SITE <first host's url>``, serve until SIGTERM/SIGINT."""
    import resource

    import gevent
    from gevent.event import Event
    from gevent.pywsgi import WSGIServer

    from fixtures.server import _Handler, _watch_parent

    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # a socket per host, and clients
    robots = "User-agent: *\nAllow: /\n"
    if crawl_delay is not None:
        robots += f"Crawl-delay: {crawl_delay:g}\n"
    app = HostsApp(render_pages(pages, links, page_bytes), robots.encode(), latency_ms)
    addresses = host_addresses(hosts)
    # SERVER_NAME given: else each server looks its address up in DNS (getfqdn) at start.
    servers = [
        WSGIServer(
            sock, app.for_host(a), log=None, handler_class=_Handler, environ={"SERVER_NAME": a}
        )
        for a, sock in zip(addresses, _listeners(addresses), strict=True)
    ]
    stop = Event()
    gevent.signal_handler(signal.SIGTERM, stop.set)
    gevent.signal_handler(signal.SIGINT, stop.set)
    if exit_with_parent:
        gevent.spawn(_watch_parent, os.getppid(), stop)
    for server in servers:
        server.start()
    sys.stdout.write(f"SITE http://{addresses[0]}:{servers[0].server_port}/\n")
    sys.stdout.flush()
    stop.wait()
    for server in servers:
        server.stop(timeout=0.1)
    return 0


@click.command(context_settings={"show_default": True})
@click.option("--hosts", default=20, type=click.IntRange(min=1), help="Loopback hosts.")
@click.option("--pages", default=5, type=click.IntRange(min=1), help="Pages per host, / included.")
@click.option("--latency-ms", default=20.0, type=click.FloatRange(min=0), help="Per response.")
@click.option("--links", default=10, type=click.IntRange(min=1), help="Links per page.")
@click.option("--page-bytes", default=2000, type=click.IntRange(min=0), help="Size of a page.")
@click.option("--crawl-delay", default=None, type=click.FloatRange(min=0), help="In robots.txt.")
@click.option("--exit-with-parent", is_flag=True, help="Stop when the parent process dies.")
def main(**options: object) -> None:
    """Serve the many-host benchmark site until SIGTERM or SIGINT."""
    sys.exit(serve(**options))


if __name__ == "__main__":
    main()
