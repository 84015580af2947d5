"""The lean Fetcher: ``urllib3.PoolManager`` directly. One exchange, no redirects followed;
everything else (deadline, byte cap, connection hygiene, headers, error kinds) is the fetch core
both fetchers share (``crawler/http/core.py``): this module only sends the request, keeps
cookies and picks the proxy.

Why it exists: per page, ``requests.Session.get`` costs more than twice the CPU of the urllib3
request underneath it (it merges settings, re-reads proxy variables from the environment and
builds a second response object on every call). Once concurrency hides the latency, CPU per page
is the crawl's speed limit; docs/performance.md has the measurements.

Proxy variables from the environment are read once per fetcher and decided once per host.
"""

from __future__ import annotations

from collections.abc import Mapping
from http.cookiejar import CookieJar
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

import certifi
import urllib3

from crawler.base import Response
from crawler.config import CrawlConfig
from crawler.http.adapter import pool_classes
from crawler.http.capture import note_request
from crawler.http.core import FetchCore
from crawler.http.direct import DirectPools
from crawler.http.netguard import check_proxied_target
from crawler.http.proxies import bypass, proxies_of


def _cookies() -> Any:
    """``requests.cookies`` (its cookie-jar glue), imported by the first cookie a crawl meets:
    importing requests costs every crawl process start-up time, and most crawls get none."""
    import requests.cookies

    return requests.cookies


# Found once at import (before a processes parent forks): ``certifi.where`` is slow the first
# time in a process.
CA_BUNDLE = certifi.where()


def _options(config: CrawlConfig, *, num_pools: int, maxsize: int) -> dict[str, Any]:
    return {
        "num_pools": num_pools,
        "maxsize": maxsize,
        "retries": False,
        "timeout": urllib3.Timeout(connect=config.timeout, read=config.timeout),
        "ca_certs": CA_BUNDLE,  # the same trust store as requests
    }


class SharedPools:
    """The connection pools of every loop of one process: one pool per host, whichever loop
    fetches from it.

    Why: with a delay a host has one page out at a time and its next page goes to whichever
    loop is free a delay later. With pools per loop, that loop seldom held the host's
    connection, so most pages of a many-host crawl opened a new one (a connect, and under
    gevent a lookup on the resolver's thread pool, per page). Shared, a host keeps one open
    connection for the next loop. urllib3's pools are thread-safe; each holds up to ``loops``
    idle connections (every loop may be on one host), and the ``MAX_HOSTS`` hosts used last
    keep theirs (an older host's are closed, as one fd per host adds up).
    """

    MAX_HOSTS = 1024

    def __init__(self, config: CrawlConfig, *, loops: int) -> None:
        options = _options(config, num_pools=self.MAX_HOSTS, maxsize=max(1, loops))
        self.manager = urllib3.PoolManager(**options)
        self.manager.pool_classes_by_scheme = pool_classes(pin=config.block_private)
        self.proxies = proxies_of(config)  # read once for every loop

    def close(self) -> None:
        """Close every pooled connection (after the last loop is done)."""
        close_pools(self.manager)


class Urllib3Fetcher:
    """Fetch with a urllib3 connection pool. One per worker loop, like every Fetcher; the loops
    of a process share their pools when given ``connections``."""

    def __init__(
        self,
        config: CrawlConfig,
        *,
        pool_size: int = 10,
        cookies: CookieJar | None = None,
        connections: SharedPools | None = None,
    ) -> None:
        self.config = config
        self.core = FetchCore(config)
        self.cookies = cookies if cookies is not None else CookieJar()
        self._headers = self.core.every_request()
        self._options = _options(config, num_pools=64, maxsize=pool_size)
        self._shared = connections
        if connections is not None:
            self.pool = connections.manager
        else:
            self.pool = urllib3.PoolManager(**self._options)
            self.pool.pool_classes_by_scheme = pool_classes(pin=config.block_private)
        self._proxies = connections.proxies if connections is not None else proxies_of(config)
        self._proxy_pools: dict[str, urllib3.ProxyManager] = {}
        self._direct = DirectPools(self.pool)

    def fetch(
        self, url: str, *, user_headers: bool = True, headers: Mapping[str, str] | None = None
    ) -> Response:
        """GET ``url`` once; network failures come back as ``Response.error``, never raised.
        ``user_headers=False`` leaves out the ``-H`` headers (robots.txt off its origin);
        ``headers``: this request's own (``If-None-Match`` ...)."""
        own = headers

        def send() -> urllib3.BaseHTTPResponse:
            extra = self.core.headers(url, user_headers=user_headers, own=own)
            headers = {**self._headers, **extra}
            jar = self.cookies
            if len(jar):
                probe = SimpleNamespace(url=url, headers={})
                if cookie := _cookies().get_cookie_header(jar, probe):
                    headers["Cookie"] = cookie
            note_request("GET", url, headers)  # --warc's request record; else nothing
            options = {"headers": headers, "redirect": False, "preload_content": False}
            if self._proxies:
                resp = self._pool_for(url).urlopen("GET", url, **options)
            else:  # the usual URL straight to its host's pool (crawler/http/direct.py)
                resp = self._direct.urlopen(url, **options)
            if "set-cookie" in resp.headers:
                request = SimpleNamespace(url=url, headers={})
                _cookies().extract_cookies_to_jar(self.cookies, request, resp)
            return resp

        return self.core.fetch(url, send)

    def _pool_for(self, url: str) -> urllib3.PoolManager:
        parts = urlsplit(url)
        proxy = self._proxies.get(parts.scheme)
        if proxy is None or (not self.config.proxy and bypass(parts.hostname or "")):
            return self.pool
        if self.config.block_private:
            check_proxied_target(url)  # the proxy resolves the name: check it here first
        if proxy not in self._proxy_pools:
            manager = urllib3.ProxyManager(proxy, **self._options)
            manager.pool_classes_by_scheme = pool_classes(pin=False)  # a proxy is never pinned
            self._proxy_pools[proxy] = manager
        return self._proxy_pools[proxy]

    def close(self) -> None:
        """Release pooled connections (shared ones stay, for their owner to close)."""
        if self._shared is None:
            close_pools(self.pool)
        for pool in self._proxy_pools.values():
            close_pools(pool)


def close_pools(manager: urllib3.PoolManager) -> None:
    """Close every pool of ``manager`` and forget them. ``PoolManager.clear`` only forgets
    them: each pool's connections are then closed when it is collected, by urllib3's
    finaliser, one ``get`` and lock per slot of its queue (64 per host with 64 loops); a pool
    closed first gives up its slots in one step (``crawler/http/adapter.py``)."""
    pools = manager.pools
    for key in pools.keys():  # noqa: SIM118 (a copy taken under its lock; it cannot iterate)
        pool = pools.get(key)
        if pool is not None:
            pool.close()
    manager.clear()
