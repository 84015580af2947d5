"""``crawl run`` (the default command): options → CrawlConfig → Crawler.run → exit code."""

from __future__ import annotations

import os
import sys

import click

from crawler.cli.app import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_LOST,
    EXIT_OK,
    app,
    fail_usage,
)
from crawler.cli.options import crawl_options
from crawler.config import MODES

_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3}


class _Size(click.ParamType):
    """A byte count: digits, optionally followed by K, M or G (binary multiples)."""

    name = "size"
    examples = "1000000, 500M, 1G"

    def convert(self, value, param, ctx):  # noqa: D102 - click's API
        if isinstance(value, int):
            return value
        text = str(value).strip().upper().removesuffix("B")
        number, unit = (text[:-1], text[-1]) if text[-1:] in ("K", "M", "G") else (text, "")
        if not number.isdigit():
            self.fail(f"{value!r} is not a size (e.g. {self.examples})", param, ctx)
        return int(number) * _UNITS[unit]


SIZE = _Size()


class _Limit(_Size):
    """A byte count as ``_Size``, or ``0`` / ``none`` for no limit (None)."""

    name = "limit"
    examples = "512M, 1G, or none"

    def convert(self, value, param, ctx):  # noqa: D102 - click's API
        if value is None or str(value).strip().lower() == "none":
            return None
        return super().convert(value, param, ctx) or None


LIMIT = _Limit()


@app.command("run")
@click.argument("source")
@click.option(
    "--mode",
    type=click.Choice(list(MODES)),
    default="serial",
    show_default=True,
    help="How worker loops run.",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=16,
    show_default=True,
    help="Concurrent worker loops (ignored by serial and lookahead).",
)
@click.option(
    "--greenlets",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="With --mode processes: greenlets per process (0: one page at a time per process).",
)
@crawl_options
@click.option(
    "--backend",
    default=None,
    metavar="URL",
    help="Share the crawl through Redis (redis://HOST:PORT/DB) with every worker started "
    "with the same --crawl-id, on any machine.",
)
@click.option(
    "--crawl-id",
    default="default",
    show_default=True,
    metavar="NAME",
    help="Which crawl in the --backend this worker joins.",
)
@click.option(
    "--backend-retry",
    type=click.FloatRange(min=0),
    default=30.0,
    show_default=True,
    metavar="SECONDS",
    help="Ride out a --backend outage this long (retrying with backoff) before stopping "
    "with exit 3.",
)
@click.option(
    "--state",
    default=None,
    metavar="FILE",
    help="Keep the crawl's state in a SQLite file: running again resumes it.",
)
@click.option(
    "--memory-limit",
    type=LIMIT,
    default="1G",
    show_default=True,
    metavar="SIZE",
    help="In memory (no --state/--backend): past half of SIZE, queued URLs wait in temporary "
    "files (bytes, or with K, M, G; 0 or none: no limit).",
)
@click.option(
    "--recrawl",
    is_flag=True,
    help="Crawl a finished --state or --backend crawl again: every page it holds, asked "
    "with If-None-Match / If-Modified-Since; a 304's stored links are followed.",
)
@click.option(
    "--lease",
    "lease_seconds",
    type=click.FloatRange(min=0.5),
    default=30.0,
    show_default=True,
    help="Seconds before a dead worker's page is handed to another (--backend).",
)
@click.option(
    "--items-output",
    default=None,
    metavar="FILE",
    help="Where the callback's items go: JSON Lines, or CSV if FILE ends in .csv; - for stdout.",
)
@click.option(
    "-o",
    "--output",
    default="-",
    show_default=True,
    metavar="FILE",
    help="Where records go: JSON Lines, or CSV if FILE ends in .csv; - for stdout.",
)
@click.option(
    "--warc",
    default=None,
    metavar="FILE.warc.gz",
    help="Also archive every exchange (request and response as received) in a WARC file.",
)
@click.option(
    "--warc-max-size",
    type=SIZE,
    default="1G",
    show_default=True,
    metavar="SIZE",
    help="Start a new numbered WARC file past this size (bytes, or with K, M, G).",
)
@click.option(
    "--save-dir",
    default=None,
    metavar="DIR",
    help="Also save every page's body under DIR/host/path, as wget's mirror layout.",
)
@click.option(
    "--health-port",
    type=click.IntRange(0, 65535),
    default=None,
    metavar="PORT",
    help="Serve the echo/STATS health service on PORT while crawling.",
)
@click.option(
    "--health-host",
    default="127.0.0.1",
    show_default=True,
    metavar="HOST",
    help="Address the health service binds.",
)
@click.option(
    "--metrics-port",
    type=click.IntRange(0, 65535),
    default=None,
    metavar="PORT",
    help="Serve Prometheus metrics on http://HOST:PORT/metrics while crawling.",
)
@click.option(
    "--metrics-host",
    default="127.0.0.1",
    show_default=True,
    metavar="HOST",
    help="Address the metrics endpoint binds.",
)
@click.option("-q", "--quiet", is_flag=True, help="No summary or progress on stderr.")
@click.option("-v", "--verbose", is_flag=True, help="Also print one line per error to stderr.")
@click.option(
    "--stats-json",
    metavar="FILE",
    default=None,
    help="Also write the totals (pages, errors, wall and CPU seconds) as JSON to FILE.",
)
def run_command(
    source: str,
    output: str,
    parse_spec: str | None,
    quiet: bool,
    verbose: bool,
    health_port: int | None,
    health_host: str,
    metrics_port: int | None,
    metrics_host: str,
    stats_json: str | None,
    **options: object,
) -> None:
    """Crawl the URLs in SOURCE and write one JSON record per URL."""
    from crawler.errors import CrawlerError, CrawlLost, SourceError
    from crawler.strategies import get_strategy

    try:
        # First, before the HTTP stack is imported: choosing gevent patches the process.
        get_strategy(str(options["mode"]))
    except CrawlerError as exc:
        fail_usage(str(exc))
    from crawler.sources import read_source

    try:
        seeds = read_source(source)
    except SourceError as exc:
        fail_usage(str(exc))
    options["allow_domains"] = tuple(options["allow_domains"])
    options["exclude"] = tuple(options["exclude"])
    if output == "-" and options["items_output"] == "-":
        fail_usage("records (-o) and items (--items-output) cannot both go to stdout")
    options["robots"] = not options.pop("ignore_robots")
    options["headers"] = tuple(_parse_header(h) for h in options["headers"])
    accept = tuple(options.pop("accept"))
    if accept:
        options["accept"] = accept
    try:
        from crawler.config import CrawlConfig

        if parse_spec is not None:
            from crawler.scrape.callbacks import load_callable

            options["parse"] = load_callable(parse_spec)
        config = CrawlConfig(progress=not quiet, output=output, **options)
        stats, cpu_start = _crawl(
            config, seeds, verbose, (health_host, health_port), (metrics_host, metrics_port)
        )
    except CrawlLost as exc:
        # Loud, and not 0 (finished) or 2 (usage): the crawl's shared state went away.
        if not quiet and exc.stats is not None:
            click.echo(exc.stats.summary(), err=True)
        click.echo(f"crawl: error: {exc}", err=True)
        sys.exit(EXIT_LOST)
    except CrawlerError as exc:
        fail_usage(str(exc))
    if not quiet:
        click.echo(stats.summary(), err=True)
    if stats_json:
        _write_stats(stats_json, stats, config, cpu_start)
    if stats.interrupted:
        sys.exit(EXIT_INTERRUPTED)
    sys.exit(EXIT_OK if stats.failed == 0 else EXIT_FAILED)


def _parse_header(text: str) -> tuple[str, str]:
    name, sep, value = text.partition(":")
    name = name.strip()
    if not sep or not name or any(c in name for c in " \t\r\n") or "\n" in value:
        fail_usage(f"-H/--header wants 'Name: value', got {text!r}")
    return name, value.strip()


def _crawl(
    config,
    seeds,
    verbose: bool,
    health: tuple[str, int | None],
    metrics: tuple[str, int | None],
):
    """Run the crawl; its stats, and the CPU clock (``_cpu_seconds``) at its start."""
    from contextlib import ExitStack

    from crawler.engine import Crawler
    from crawler.http.registry import load_fetcher
    from crawler.sinks import CallbackSink

    sinks = []  # the -o and --items-output files are opened by the Crawler, from the config
    if verbose:
        sinks.append(CallbackSink(_echo_error))
    crawler = Crawler(config, sinks)
    # The crawl's CPU, children included, from here: not the start-up imports, the fetcher's
    # among them (its HTTP stack is imported once the strategy has prepared: gevent patches
    # first), so that CPU per page is the pages' own.
    load_fetcher(config)
    cpu_start = _cpu_seconds()
    with ExitStack() as services:
        host, port = health
        if port is not None:
            from crawler.health.server import HealthServer

            try:
                service = services.enter_context(HealthServer(host, port, stats=crawler.live_stats))
            except OSError as exc:
                fail_usage(f"cannot serve health on {host}:{port}: {exc.strerror or exc}")
            click.echo(f"health service on {host}:{service.address[1]}", err=True)
        host, port = metrics
        if port is not None:
            # Imported only when asked for: prometheus_client imports ssl, and by now the
            # strategy has been chosen (gevent has patched).
            from crawler.health.metrics import CrawlMetrics, MetricsServer

            counted = CrawlMetrics(crawler.live_stats, mode=config.mode)
            crawler.sinks.append(counted.sink())
            try:
                exporter = services.enter_context(MetricsServer(counted, host, port))
            except OSError as exc:
                fail_usage(f"cannot serve metrics on {host}:{port}: {exc.strerror or exc}")
            click.echo(f"metrics on http://{host}:{exporter.address[1]}/metrics", err=True)
        try:
            return crawler.run(seeds), cpu_start
        finally:
            if "multiprocessing.forkserver" in sys.modules:
                from crawler.strategies.processes.strategy import stop_forkserver

                stop_forkserver()


def _write_stats(path: str, stats, config, cpu_start) -> None:
    """Totals for scripts (``crawl compare``, the benchmark): CPU includes reaped children."""
    import json

    cpu = _cpu_seconds() - cpu_start
    data = {**stats.to_dict(), "workers": config.workers, "cpu_s": round(cpu, 3)}
    try:
        with open(path, "w", encoding="utf-8") as out:
            json.dump(data, out)
    except OSError as exc:
        fail_usage(f"cannot write {path!r}: {exc.strerror or exc}")


def _cpu_seconds() -> float:
    """User and system CPU seconds of this process and its reaped children, to the
    microsecond (``getrusage``; ``os.times`` counts in clock ticks, 10 ms: a tenth of a
    short benchmark crawl's CPU)."""
    try:
        import resource
    except ImportError:  # pragma: no cover - not on Unix
        return sum(os.times()[:4])
    own, children = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _echo_error(record) -> None:
    if record.error:
        click.echo(f"{record.error}: {record.url} ({record.detail or record.status})", err=True)
