"""Prometheus metrics of a running crawl (``--metrics-port``), with ``prometheus_client``.

Counters and the latency histogram are fed by ``MetricsSink``, one more sink in the pipeline's
single consumer. Every record of the crawl passes through that consumer, whichever loop,
greenlet or pool child produced it, so the figures are the whole crawl's (in processes mode
the parent's view is the crawl's view), and they agree with the summary printed at the end.
For a crawl shared through Redis each worker counts the records it wrote, and its gauges read
the shared frontier, so they are crawl-wide.

Gauges are read when Prometheus scrapes, from the engine's live stats (``Crawler.live_stats``:
the frontier's snapshot), so no loop pays anything for them between scrapes.

Names follow Prometheus conventions (``docs/health.md`` lists them with example queries):
``crawler_pages_total{status="200"}``, ``crawler_errors_total{kind="timeout"}``,
``crawler_response_bytes_total``, ``crawler_retries_total``, ``crawler_robots_denied_total``,
``crawler_items_total``, ``crawler_fetch_duration_seconds`` (histogram), ``crawler_queued``,
``crawler_in_flight``, ``crawler_hosts_ready``, ``crawler_hosts_waiting`` and ``crawler_info``.
"""

from __future__ import annotations

import socket
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

from prometheus_client import CollectorRegistry, Counter, Histogram, make_wsgi_app
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily
from prometheus_client.exposition import ThreadingWSGIServer

from crawler.health.forksafe import close_in_children
from crawler.record import EncodedRecord, Record
from crawler.version import __version__

# Seconds; from a fast loopback answer to a page that used most of a long deadline.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

# Live figures exposed as gauges: snapshot key -> (metric name, help). A frontier that does not
# report a figure (hosts ready and waiting exist only where the frontier schedules by host)
# leaves its gauge out rather than exposing a made-up zero.
_GAUGES = {
    "queued": ("crawler_queued", "Requests queued, not yet handed to a loop."),
    "in_flight": ("crawler_in_flight", "Requests handed to a loop and not yet done."),
    "hosts_ready": ("crawler_hosts_ready", "Hosts with queued work that may start now."),
    "hosts_waiting": (
        "crawler_hosts_waiting",
        "Hosts with queued work waiting for their politeness delay or per-host cap.",
    ),
}

LiveStats = Callable[[], Mapping[str, Any]]


class CrawlMetrics:
    """One crawl's metrics in a registry of their own (not the process-global one, so two
    crawls in one process, or a user's own metrics, never mix)."""

    def __init__(self, live: LiveStats | None = None, *, mode: str = "serial") -> None:
        self.registry = CollectorRegistry()
        registry = self.registry
        self.pages = Counter(
            "crawler_pages",
            "Scheduled URLs that got their record, by HTTP status ('none': no response).",
            ["status"],
            registry=registry,
        )
        self.errors = Counter(
            "crawler_errors", "Records with an error, by error kind.", ["kind"], registry=registry
        )
        self.bytes = Counter(
            "crawler_response_bytes", "Body bytes read (after content decoding).", registry=registry
        )
        self.retries = Counter(
            "crawler_retries", "Extra attempts made after a failed one.", registry=registry
        )
        self.robots_denied = Counter(
            "crawler_robots_denied",
            "URLs not fetched because of robots.txt (disallowed or unreachable).",
            registry=registry,
        )
        self.items = Counter(
            "crawler_items", "Items produced by the parse callback.", registry=registry
        )
        self.latency = Histogram(
            "crawler_fetch_duration_seconds",
            "Time of a page's last fetch attempt, for pages that got a response.",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        registry.register(_LiveCollector(live, mode))

    def observe(self, record: Record | EncodedRecord) -> None:
        """Count one record (called from the pipeline's single consumer)."""
        self.pages.labels(status=str(record.status) if record.status is not None else "none").inc()
        if record.error is not None:
            self.errors.labels(kind=record.error).inc()
            if record.error == "robots":
                self.robots_denied.inc()
        if record.bytes:
            self.bytes.inc(record.bytes)
        if record.attempts > 1:
            self.retries.inc(record.attempts - 1)
        if record.item_count:
            self.items.inc(record.item_count)
        if record.status is not None:
            self.latency.observe(record.elapsed_ms / 1000.0)

    def sink(self) -> MetricsSink:
        """A ``Sink`` that feeds these metrics; add it to the crawl's sinks."""
        return MetricsSink(self)


class MetricsSink:
    """``Sink`` adapter: every record written is counted in a ``CrawlMetrics``."""

    def __init__(self, metrics: CrawlMetrics) -> None:
        self.metrics = metrics

    def write(self, record: Record | EncodedRecord) -> None:
        """Count the record."""
        self.metrics.observe(record)

    # Every field counted is one an encoded record carries: no decoding.
    write_encoded = write

    def close(self) -> None:
        """Nothing to release: the metrics stay readable after the crawl."""


class _LiveCollector:
    """Gauges computed at scrape time from the crawl's live stats."""

    def __init__(self, live: LiveStats | None, mode: str) -> None:
        self._live = live
        self._mode = mode

    def collect(self) -> Iterator[Any]:
        info = InfoMetricFamily("crawler", "The crawler's version and mode.")
        info.add_metric([], {"version": __version__, "mode": self._mode})
        yield info
        if self._live is None:
            return
        figures = self._live()
        for key, (name, text) in _GAUGES.items():
            value = figures.get(key)
            if isinstance(value, int | float):
                yield GaugeMetricFamily(name, text, value=value)
        spilled = figures.get("spilled")
        if isinstance(spilled, int):  # only ever grows: a counter, read from the frontier
            yield CounterMetricFamily(
                "crawler_spilled",
                "Queued requests written to disk past --memory-limit (memory backend).",
                value=spilled,
            )


# While the endpoint serves, the interpreter hands its lock between threads at least this
# often. Its thread competes with the crawl's (64 in threads mode) for that lock at every
# accept, read and write of a scrape; at Python's default 5 ms, one scrape in twenty took over
# 50 ms there (bench/metrics_scrape.py; docs/health.md), at 1 ms none in the runs measured, for
# a few percent of a threads crawl's pages/s, paid only while metrics are served.
SCRAPE_SWITCH_INTERVAL_S = 0.001
# How often the serving thread looks for ``close``: what closing waits at most. (prometheus
# client's own ``start_http_server`` serves with the standard 0.5 s, which every crawl run
# with ``--metrics-port`` paid at its exit.)
SHUTDOWN_POLL_S = 0.02


class _QuietHandler(WSGIRequestHandler):
    """A scrape is not written to stderr (the crawl's own output)."""

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
        pass


def _serve(registry: CollectorRegistry, host: str, port: int) -> ThreadingWSGIServer:
    """``/metrics`` of ``registry`` bound to ``host``:``port`` (IPv4 or IPv6), not yet serving."""
    family, _, _, _, sockaddr = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    server_class = type("MetricsHTTPServer", (ThreadingWSGIServer,), {"address_family": family})
    app = make_wsgi_app(registry)
    return make_server(sockaddr[0], port, app, server_class, handler_class=_QuietHandler)


class MetricsServer:
    """The HTTP exposition endpoint (``/metrics``) on its own thread (a greenlet once gevent
    has patched), for as long as the ``with`` block lasts.

    Binds in ``__init__``, so ``port=0`` works and ``address`` is known before the crawl; an
    address in use raises ``OSError`` there. While it serves, the process's thread switch
    interval is at most ``SCRAPE_SWITCH_INTERVAL_S`` (restored by ``close``).
    """

    def __init__(self, metrics: CrawlMetrics, host: str = "127.0.0.1", port: int = 0) -> None:
        self._server = _serve(metrics.registry, host, port)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": SHUTDOWN_POLL_S},
            name="metrics",
            daemon=True,
        )
        self._thread.start()
        self.address: tuple[str, int] = self._server.server_address[:2]
        # Pool children are forked while this serves: none of them may keep the port.
        close_in_children(self, lambda server: [server._server.socket])
        self._switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(min(self._switch_interval, SCRAPE_SWITCH_INTERVAL_S))

    def close(self) -> None:
        """Stop serving, release the port and restore the thread switch interval."""
        try:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)
        finally:
            sys.setswitchinterval(self._switch_interval)

    def __enter__(self) -> MetricsServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
