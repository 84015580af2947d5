"""The ``crawl`` entry point: registers every command on ``app`` and maps errors to exit codes.

Importing the command modules here (and only here) keeps the import graph a tree: each command
module imports ``app`` and the exit codes from ``crawler.cli.app``; nothing imports back.
"""

from __future__ import annotations

import sys

import click

from crawler.cli import compare, run, services  # noqa: F401  (they register on ``app``)
from crawler.cli.app import EXIT_INTERRUPTED, EXIT_USAGE, app


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: usage errors are one line on stderr and exit 2."""
    try:
        app.main(args=argv, prog_name="crawl", standalone_mode=False)
    except click.UsageError as exc:
        hint = f" (see 'crawl {exc.ctx.info_name} --help')" if exc.ctx and exc.ctx.parent else ""
        click.echo(f"crawl: error: {exc.format_message()}{hint}", err=True)
        sys.exit(EXIT_USAGE)
    except click.ClickException as exc:
        click.echo(f"crawl: error: {exc.format_message()}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("crawl: interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except KeyboardInterrupt:
        click.echo("crawl: interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
