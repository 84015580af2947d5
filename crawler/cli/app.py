"""The ``crawl`` command line: options → CrawlConfig → Crawler.run → exit code.

This module holds the command group and the exit codes; each command lives in a module of its
own (``run``, ``compare``, ``services``) that registers itself on ``app``, and ``main.py`` (the
entry point) imports them all.

Exit codes: 0 every URL fetched; 1 the crawl finished but some URLs failed; 2 usage error
(bad option, unreadable source, a backend that cannot be used); 3 the crawl's backend went away
mid-crawl (unreachable past --backend-retry, or its keys vanished; records written so far are
kept); 130 interrupted by Ctrl-C.

Heavy imports (requests, lxml, the strategies) happen inside the command, after the mode is
known, so that gevent can patch before anything imports ``ssl`` or ``socket``.
"""

from __future__ import annotations

import sys
from typing import NoReturn

import click

from crawler.version import __version__

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_LOST, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


class DefaultCommandGroup(click.Group):
    """A group whose first argument, when it is not a subcommand name, starts the default
    ``run`` command: ``crawl --mode gevent urls.txt`` means ``crawl run --mode gevent urls.txt``.
    A URL file named like a subcommand is crawled as ``./NAME``."""

    default_command = "run"

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h", "--version"):
            args = [self.default_command, *args]
        elif not args:
            args = ["--help"]
        return super().parse_args(ctx, args)


@click.group(
    cls=DefaultCommandGroup,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.version_option(__version__, prog_name="crawl")
def app() -> None:
    """Crawl the web serially, on threads, on processes or on gevent, from one switch.

    \b
    crawl [OPTIONS] SOURCE          crawl (same as `crawl run ...`); see `crawl run --help`
    SOURCE is a file of URLs (one a line, # comments), - for stdin, or one http(s):// URL.
    A URL file named like a subcommand can be crawled as ./NAME.
    """


def fail_usage(message: str) -> NoReturn:
    """Report a usage error as one line on stderr and exit 2 (``EXIT_USAGE``)."""
    click.echo(f"crawl: error: {message}", err=True)
    sys.exit(EXIT_USAGE)
