"""Which proxy a request goes through: ``--proxy``, else the environment's (``http_proxy``,
``https_proxy``, with ``no_proxy``'s exceptions), read once per fetcher and decided once per
host. Every fetcher that does not leave this to its HTTP library reads it here (the urllib3
and curl fetchers), so they agree on it."""

from __future__ import annotations

import urllib.request
from functools import lru_cache

from crawler.config import CrawlConfig


def proxies_of(config: CrawlConfig) -> dict[str, str]:
    """The proxy per scheme: ``--proxy``, else the environment's (``http_proxy`` ...). Reading
    the environment walks all of it (~2 ms): a process's loops share one reading."""
    if config.proxy:
        return {"http": config.proxy, "https": config.proxy}
    env = urllib.request.getproxies()
    return {s: env[s] for s in ("http", "https") if s in env}


@lru_cache(maxsize=4096)
def bypass(host: str) -> bool:
    """True when ``no_proxy`` says ``host`` is reached directly (decided once per host)."""
    return bool(urllib.request.proxy_bypass(host))
