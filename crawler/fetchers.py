"""Fetchers by name (``CrawlConfig.fetcher``); each lives in its own module, imported when chosen.

``urllib3`` is the default: the same semantics as ``requests`` at about a third of the CPU per
page (measured in the README's Performance section). ``requests`` remains for users who want its
behaviour exactly (``.netrc`` auth, its proxy handling) or plug in requests adapters.
"""

from __future__ import annotations

from importlib import import_module

from crawler.base import Fetcher
from crawler.config import CrawlConfig

FETCHERS = {
    "urllib3": ("crawler.fetch_urllib3", "Urllib3Fetcher"),
    "requests": ("crawler.fetch", "RequestsFetcher"),
}


def open_fetcher(config: CrawlConfig, *, pool_size: int = 10) -> Fetcher:
    """A new fetcher of the configured kind; one per worker loop."""
    module, name = FETCHERS[config.fetcher]
    return getattr(import_module(module), name)(config, pool_size=pool_size)
