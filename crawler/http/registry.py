"""Fetchers by name (``CrawlConfig.fetcher``); each lives in its own module, imported when chosen.

``urllib3`` is the default: the same semantics as ``requests`` (timeouts, page deadline, decoded
byte cap, error kinds, cookies, headers, proxies, ``--block-private``) at less than half the CPU
per page (docs/performance.md). ``requests`` remains for users who want its behaviour exactly
(``.netrc`` auth, its environment handling) or plug in requests adapters.

A fetcher module may offer ``SharedPools``: connection pools the loops of one process share
(``open_connections``), so a host's open connection serves whichever loop fetches it next; and
``warm_up``: its one-time set-up, done before a process forks (``prepare_to_fork``).
"""

from __future__ import annotations

from http.cookiejar import CookieJar
from importlib import import_module
from types import ModuleType
from typing import Any

from crawler.base import Fetcher
from crawler.config import FETCHERS, CrawlConfig


def open_fetcher(
    config: CrawlConfig,
    *,
    pool_size: int = 10,
    cookies: CookieJar | None = None,
    connections: Any | None = None,
) -> Fetcher:
    """A new fetcher of the configured kind; one per worker loop (``cookies``: a jar shared
    by the loops of a strategy; by default each fetcher keeps its own; ``connections``: from
    ``open_connections``, by default the fetcher's own pools)."""
    name = FETCHERS[config.fetcher].partition(":")[2]
    extra = {} if connections is None else {"connections": connections}
    return getattr(_fetcher_module(config), name)(
        config, pool_size=pool_size, cookies=cookies, **extra
    )


def load_fetcher(config: CrawlConfig) -> None:
    """Import the configured fetcher's module (and with it the HTTP stack) now, in this
    process."""
    _fetcher_module(config)


def prepare_to_fork(config: CrawlConfig) -> None:
    """``load_fetcher``, and the module's one-time set-up (its ``warm_up``): a process about to
    fork children calls it so that each child starts with both done instead of doing them again
    (urllib3 and ssl, libcurl's first share)."""
    warm_up = getattr(_fetcher_module(config), "warm_up", None)
    if warm_up is not None:
        warm_up()


def open_connections(config: CrawlConfig, *, loops: int) -> Any | None:
    """Connection pools for the ``loops`` loops of one process to share (the caller closes
    them once every loop is done), or None when the configured fetcher keeps its own per loop
    (``requests``: a session is not promised to be thread-safe)."""
    shared = getattr(_fetcher_module(config), "SharedPools", None)
    return None if shared is None else shared(config, loops=loops)


def _fetcher_module(config: CrawlConfig) -> ModuleType:
    """The configured fetcher's module, imported."""
    return import_module(FETCHERS[config.fetcher].partition(":")[0])
