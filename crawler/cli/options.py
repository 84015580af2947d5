"""The crawl options, declared once: ``run`` and ``compare`` both take them (``crawl_options``),
and ``compare`` passes the values it was given on to every mode's process (``options_to_args``).

What is not here belongs to one command: how a crawl runs (``--mode``, ``--workers``), where
its state and output go, the health service; ``compare`` sets those per mode itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from crawler.config import DEFAULT_USER_AGENT, FETCHERS

F = TypeVar("F", bound=Callable[..., Any])

_OPTIONS = (
    click.option(
        "--depth",
        type=click.IntRange(min=0),
        default=0,
        show_default=True,
        help="Link hops to follow from each seed; 0 fetches only the listed URLs.",
    ),
    click.option(
        "--max-pages",
        type=click.IntRange(min=1),
        default=None,
        help="Stop scheduling after this many URLs.",
    ),
    click.option(
        "--same-domain/--any-domain",
        default=True,
        show_default=True,
        help="Follow links only to the host of the page's seed (and its subdomains).",
    ),
    click.option(
        "--allow-domain",
        "allow_domains",
        multiple=True,
        metavar="DOMAIN",
        help="Also follow links to DOMAIN and its subdomains (repeatable).",
    ),
    click.option(
        "--exclude",
        multiple=True,
        metavar="REGEX",
        help="Do not follow links matching REGEX (repeatable).",
    ),
    click.option("--follow-nofollow", is_flag=True, help='Follow rel="nofollow" links too.'),
    click.option(
        "--timeout",
        type=click.FloatRange(min=0, min_open=True),
        default=10.0,
        show_default=True,
        help="Connect and read timeout, seconds.",
    ),
    click.option(
        "--deadline",
        type=click.FloatRange(min=0, min_open=True),
        default=None,
        help="Overall seconds per page  [default: 3 x timeout]",
    ),
    click.option(
        "--max-bytes",
        type=click.IntRange(min=1),
        default=10 * 1024 * 1024,
        show_default=True,
        help="Largest body read; bigger pages are `too_large` errors.",
    ),
    click.option(
        "--max-redirects",
        type=click.IntRange(min=0),
        default=10,
        show_default=True,
        help="Longest redirect chain followed.",
    ),
    click.option("--user-agent", default=DEFAULT_USER_AGENT, show_default=True),
    click.option(
        "--fetcher",
        type=click.Choice(list(FETCHERS)),
        default="urllib3",
        show_default=True,
        help="HTTP client: urllib3 (lean, default), requests, or curl (least CPU per page; "
        "pip install 'crawler[curl]'; not with gevent or --greenlets).",
    ),
    click.option(
        "--parse",
        "parse_spec",
        default=None,
        metavar="MODULE:FUNCTION",
        help="Scraper callback: FUNCTION(page) returns or yields items (dicts) and Follow(url)s; "
        "MODULE may be a dotted name (importable from here) or a path/to/file.py.",
    ),
    click.option(
        "--ignore-robots", is_flag=True, help="Do not fetch or obey robots.txt (obeyed by default)."
    ),
    click.option(
        "--delay",
        type=click.FloatRange(min=0),
        default=0.0,
        show_default=True,
        help="Seconds between two requests to one host (raised by its robots.txt Crawl-delay).",
    ),
    click.option(
        "--per-host",
        type=click.IntRange(min=1),
        default=None,
        help="Concurrent requests to one host  [default: no cap below --workers]",
    ),
    click.option(
        "--max-crawl-delay",
        type=click.FloatRange(min=0),
        default=30.0,
        show_default=True,
        help="Longest robots.txt Crawl-delay obeyed; a host asking more is crawled at this.",
    ),
    click.option(
        "--auto-throttle",
        is_flag=True,
        help="Each host's delay follows its response time (never below --delay); "
        "429/503 and Retry-After slow the whole host.",
    ),
    click.option(
        "--throttle-target",
        type=click.FloatRange(min=0.01),
        default=1.0,
        show_default=True,
        help="--auto-throttle's aim: requests in flight per host.",
    ),
    click.option(
        "--max-pages-per-host",
        type=click.IntRange(min=1),
        default=None,
        help="Queue at most N pages per host; the rest are skipped (counted in the summary).",
    ),
    click.option(
        "--retries",
        type=click.IntRange(min=0),
        default=2,
        show_default=True,
        help="Extra attempts after a connect error, timeout, 429 or 5xx (backoff with jitter).",
    ),
    click.option(
        "--max-retry-wait",
        type=click.FloatRange(min=0),
        default=60.0,
        show_default=True,
        help="Longest wait before a retry, Retry-After included, seconds.",
    ),
    click.option(
        "--accept",
        multiple=True,
        metavar="TYPE",
        help="Content type parsed for links (repeatable)  "
        "[default: text/html, application/xhtml+xml]",
    ),
    click.option(
        "-H",
        "--header",
        "headers",
        multiple=True,
        metavar="'NAME: VALUE'",
        help="Extra request header (repeatable).",
    ),
    click.option("--proxy", metavar="URL", default=None, help="HTTP(S) proxy for every request."),
    click.option(
        "--block-private",
        is_flag=True,
        help="Refuse hosts that resolve to loopback, private, link-local or reserved addresses.",
    ),
    click.option(
        "--sitemaps",
        is_flag=True,
        help="Also crawl the URLs in each seed origin's sitemaps (robots.txt Sitemap lines, "
        "else /sitemap.xml).",
    ),
    click.option(
        "--sitemap-since",
        metavar="DATE",
        default=None,
        help="With --sitemaps: only URLs whose lastmod is on or after DATE (YYYY-MM-DD).",
    ),
)


def crawl_options(f: F) -> F:
    """Give the decorated command every crawl option, in the order above."""
    for option in reversed(_OPTIONS):
        f = option(f)
    return f


# The options as click objects, to turn values back into argv.
_PARAMS: list[click.Parameter] = crawl_options(click.Command("crawl-options")).params


def options_to_args(values: dict[str, object]) -> list[str]:
    """The argv of the crawl options in ``values`` that differ from their defaults."""
    args: list[str] = []
    for param in reversed(_PARAMS):  # a Command collects decorators last-first
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
