"""``crawl compare``: the command line of ``crawler/compare/modes.py``, registered on ``app``.

Its crawl options are ``run``'s own (``crawl_options``), so an option added to ``run`` reaches
``compare`` by itself and is passed on to every mode's process (``options_to_args``).
"""

from __future__ import annotations

import os
import sys

import click

from crawler.cli.app import EXIT_FAILED, EXIT_OK, app, fail_usage
from crawler.cli.run import run_command

# Options of `run` that `compare` does not take: it sets them per mode itself, or they would
# make the modes share one crawl (a backend, a state file: the second mode would find every
# page already visited).
_PER_MODE = (
    *("source", "mode", "workers", "greenlets", "output", "quiet", "verbose", "stats_json"),
    *("health_port", "health_host", "items_output"),
    *("backend", "crawl_id", "state", "lease_seconds"),
)


def crawl_options(command: click.Command, skip: tuple[str, ...] = _PER_MODE):
    """Give the decorated command every option of ``command`` (except ``skip``), so crawl options
    are declared once, on ``run``, and a new one reaches ``compare`` by itself."""

    def decorate(f):
        params = getattr(f, "__click_params__", [])
        # click reverses __click_params__ when it builds the command: add ours reversed.
        params.extend(reversed([p for p in command.params if p.name not in skip]))
        f.__click_params__ = params
        return f

    return decorate


def options_to_args(command: click.Command, values: dict[str, object]) -> list[str]:
    """Turn option values back into ``command``'s argv: only those that differ from defaults."""
    args: list[str] = []
    for param in command.params:
        if not isinstance(param, click.Option) or param.name not in values:
            continue
        value = values[param.name]
        if value == param.default or (param.multiple and not value):
            continue
        name = max(param.opts, key=len)
        if param.is_flag and param.secondary_opts:
            args.append(name if value else max(param.secondary_opts, key=len))
        elif param.is_flag:
            args += [name] if value else []
        elif param.multiple:
            for item in value:  # type: ignore[union-attr]
                args += [name, str(item)]
        else:
            args += [name, str(value)]
    return args


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
@crawl_options(run_command)
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
    from crawler.errors import CrawlerError, SourceError
    from crawler.sources import read_source

    hybrid = any(p.name == "greenlets" for p in run_command.params)
    if modes is None:
        modes = "serial,threads,gevent,processes"
        cpus = os.cpu_count() or 1
        if hybrid and cpus > 1 and workers >= cpus:
            modes += f",processes:{cpus}x{workers // cpus}"
    try:
        specs = parse_modes(modes, workers, greenlets_supported=hybrid)
        seeds = list(read_source(source))  # fail once, here, for an unreadable source
    except (CrawlerError, SourceError) as exc:
        fail_usage(str(exc))
    crawl_args = options_to_args(run_command, options)
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
