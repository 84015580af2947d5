"""``crawl compare``: the command line of ``crawler/compare/modes.py``, registered on ``app``.

Its crawl options are ``run``'s own (``crawl/cli/options.py``), passed on to every mode's process.
"""

from __future__ import annotations

import os
import sys

import click

from crawler.cli.app import EXIT_FAILED, EXIT_OK, app, fail_usage
from crawler.cli.options import crawl_options, options_to_args


@app.command("compare")
@click.argument("source")
@click.option(
    "--modes",
    default=None,
    metavar="LIST",
    help="Modes to run, in order, comma-separated: MODE or MODE:N (N loops), and "
    "processes:PxG for P processes of G greenlets.  [default: serial,threads,gevent,processes"
    " and processes:CPUSxWORKERS/CPUS when available]",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=16,
    show_default=True,
    help="Loops for modes given without :N.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON, not a table.")
@click.option(
    "-o",
    "--output",
    default=None,
    metavar="FILE",
    help="Keep each mode's records: FILE with the mode before the extension "
    "(records.jsonl -> records.gevent.jsonl). Default: records are discarded.",
)
@crawl_options
def compare_command(
    source: str, modes: str | None, workers: int, as_json: bool, output: str | None, **options
) -> None:
    """Crawl SOURCE once per mode, each in a fresh process, and compare their speed.

    Every mode gets the same URL list and crawl options (depth, max-pages, timeout...).
    The table shows pages ok, errors, wall seconds, pages/s, the speedup over serial, CPU
    per page and peak memory (every process of the mode together).
    """
    import json
    import tempfile

    from crawler.compare.modes import compare, parse_modes, render_table
    from crawler.config import MODES
    from crawler.errors import CrawlerError, SourceError
    from crawler.sources import read_source

    if modes is None:
        modes = ",".join(MODES)
        cpus = os.cpu_count() or 1
        if cpus > 1 and workers >= cpus:
            modes += f",processes:{cpus}x{workers // cpus}"
    try:
        specs = parse_modes(modes, workers)
        seeds = list(read_source(source))  # fail once, here, for an unreadable source
    except (CrawlerError, SourceError) as exc:
        fail_usage(str(exc))
    crawl_args = options_to_args(options)
    tmp = None
    if source == "-":  # stdin can be read once: every mode gets a copy in a file
        fd, tmp = tempfile.mkstemp(prefix="crawl-compare-", suffix=".txt")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.writelines(f"{seed.text}\n" for seed in seeds)
        source = tmp
    try:
        results = compare(specs, source, crawl_args, output=output)
    finally:
        if tmp:
            os.unlink(tmp)
    if as_json:
        click.echo(json.dumps([r.to_dict() for r in results], indent=2))
    else:
        click.echo(render_table(results))
    sys.exit(EXIT_OK if all(not r.failure for r in results) else EXIT_FAILED)
