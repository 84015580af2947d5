"""Commands beside crawling: ``results`` (export a shared or resumable crawl), ``echo-server``
and ``health`` (the bundled health service and its probe)."""

from __future__ import annotations

import sys

import click

from crawler.cli.app import EXIT_FAILED, app, fail_usage


@app.command("results")
@click.option("--backend", default=None, metavar="URL", help="The Redis URL of the crawl.")
@click.option("--crawl-id", default="default", show_default=True, metavar="NAME")
@click.option("--state", default=None, metavar="FILE", help="A --state file instead.")
@click.option(
    "--backend-retry",
    type=click.FloatRange(min=0),
    default=30.0,
    show_default=True,
    metavar="SECONDS",
    help="Ride out a --backend outage this long before giving up.",
)
@click.option(
    "-o",
    "--output",
    default="-",
    show_default=True,
    metavar="FILE",
    help="JSON Lines, or CSV if FILE ends in .csv; - for stdout.",
)
def results_command(
    backend: str | None, crawl_id: str, state: str | None, backend_retry: float, output: str
) -> None:
    """Export every record of a shared (--backend) or resumable (--state) crawl."""
    from crawler.errors import CrawlerError
    from crawler.results import export

    if (backend is None) == (state is None):
        fail_usage("give either --backend URL (with --crawl-id) or --state FILE")
    try:
        from crawler.sinks import sink_for_path

        try:
            sink = sink_for_path(output)
        except OSError as exc:
            fail_usage(f"cannot write {output!r}: {exc.strerror or exc}")
        summary = export(sink, backend=backend, crawl_id=crawl_id, state=state, retry=backend_retry)
    except CrawlerError as exc:
        fail_usage(str(exc))
    click.echo(summary, err=True)


@app.command("echo-server")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", type=click.IntRange(0, 65535), default=9501, show_default=True)
def echo_server_command(host: str, port: int) -> None:
    """Run the health/echo service alone (echoes bytes; a `STATS` line gets JSON)."""
    from crawler.health.server import run_standalone

    try:
        run_standalone(host, port)
    except OSError as exc:
        click.echo(f"crawl: error: cannot listen on {host}:{port}: {exc.strerror or exc}", err=True)
        sys.exit(EXIT_FAILED)


@app.command("health")
@click.argument("address", metavar="HOST:PORT")
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=3.0,
    show_default=True,
    help="Seconds for the whole check.",
)
def health_command(address: str, timeout: float) -> None:
    """Check a health service: send a random token, expect it back, print the round trip.

    Exits 0 when healthy, 1 with a one-line reason otherwise (refused, timeout, wrong echo).
    """
    from crawler.health.server import HealthCheckError, parse_hostport, probe

    try:
        host, port = parse_hostport(address)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="HOST:PORT") from None
    try:
        rtt = probe(host, port, timeout=timeout)
    except HealthCheckError as exc:
        click.echo(f"unhealthy: {address}: {exc.reason}", err=True)
        sys.exit(EXIT_FAILED)
    click.echo(f"ok: {address} echoed in {rtt * 1000:.2f} ms")
