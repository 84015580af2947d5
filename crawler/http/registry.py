"""Fetchers by name (``CrawlConfig.fetcher``); each lives in its own module, imported when chosen.

``urllib3`` is the default: the same semantics as ``requests`` (timeouts, page deadline, decoded
byte cap, error kinds, cookies, headers, proxies, ``--block-private``) at less than half the CPU
per page (docs/performance.md). ``requests`` remains for users who want its behaviour exactly
(``.netrc`` auth, its environment handling) or plug in requests adapters.
"""

from __future__ import annotations

from http.cookiejar import CookieJar
from importlib import import_module

from crawler.base import Fetcher
from crawler.config import FETCHERS, CrawlConfig


def open_fetcher(
    config: CrawlConfig, *, pool_size: int = 10, cookies: CookieJar | None = None
) -> Fetcher:
    """A new fetcher of the configured kind; one per worker loop (``cookies``: a jar shared
    by the loops of a strategy; by default each fetcher keeps its own)."""
    module, _, name = FETCHERS[config.fetcher].partition(":")
    return getattr(import_module(module), name)(config, pool_size=pool_size, cookies=cookies)
