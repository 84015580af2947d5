"""The lean Fetcher: ``urllib3.PoolManager`` directly, with the semantics of the requests fetcher
(``crawler/http/requests_fetcher.py``): one exchange, no redirects followed, connect/read
timeouts, every read bounded by the page deadline, a cap on the decoded body, failures
classified into error kinds, cookies kept, extra headers, ``--proxy`` and proxy variables,
``--block-private``.

Why it exists: per page, ``requests.Session.get`` costs more than twice the CPU of the urllib3
request underneath it (it merges settings, re-reads proxy variables from the environment and
builds a second response object on every call). Once concurrency hides the latency, CPU per page
is the crawl's speed limit; docs/performance.md has the measurements.

What is shared rather than copied: the deadline-bounded and pinned connection pools
(``crawler/http/adapter.py``), the address check (``crawler/http/netguard.py``), the body cap
and error kinds (``crawler/http/core.py``), the cookie glue (``requests.cookies``). Proxy variables
from the environment are read once per fetcher and decided once per host.
"""

from __future__ import annotations

import contextlib
import socket
import time
import urllib.request
from functools import lru_cache
from http.cookiejar import CookieJar
from types import SimpleNamespace
from urllib.parse import urlsplit

import certifi
import urllib3
from requests.cookies import extract_cookies_to_jar, get_cookie_header

from crawler.base import Response
from crawler.config import CrawlConfig
from crawler.http.adapter import PAGE_DEADLINE, pool_classes
from crawler.http.core import (
    CHUNK,
    TooLarge,
    check_declared_length,
    classify_urllib3,
    read_capped,
)
from crawler.http.netguard import BlockedAddress, checked_addresses


class Urllib3Fetcher:
    """Fetch with a urllib3 connection pool. One per worker loop, like every Fetcher."""

    def __init__(
        self, config: CrawlConfig, *, pool_size: int = 10, cookies: CookieJar | None = None
    ) -> None:
        self.config = config
        self.cookies = cookies if cookies is not None else CookieJar()
        headers = {
            "User-Agent": config.user_agent,
            "Accept": ",".join((*config.accept, "*/*;q=0.8")),
            # gzip, deflate, and br / zstd when their decoders are installed (as requests).
            "Accept-Encoding": urllib3.util.make_headers(accept_encoding=True)["accept-encoding"],
        }
        headers.update(config.headers)
        self._options = {
            "num_pools": 64,
            "maxsize": pool_size,
            "retries": False,
            "timeout": urllib3.Timeout(connect=config.timeout, read=config.timeout),
            "headers": headers,
            "ca_certs": certifi.where(),  # the same trust store as requests
        }
        self.pool = urllib3.PoolManager(**self._options)
        self.pool.pool_classes_by_scheme = pool_classes(pin=config.block_private)
        if config.proxy:
            self._proxies = {"http": config.proxy, "https": config.proxy}
        else:
            env = urllib.request.getproxies()
            self._proxies = {s: env[s] for s in ("http", "https") if s in env}
        self._proxy_pools: dict[str, urllib3.ProxyManager] = {}

    def fetch(self, url: str) -> Response:
        """GET ``url`` once; network failures come back as ``Response.error``, never raised."""
        config = self.config
        started = time.monotonic()
        deadline = started + config.page_deadline
        response = Response(url=url)
        token = PAGE_DEADLINE.set(deadline)
        resp = None
        try:
            pool = self._pool_for(url) if self._proxies else self.pool
            headers = None
            if len(self.cookies):
                headers = {**self._options["headers"]}
                if cookie := get_cookie_header(self.cookies, SimpleNamespace(url=url, headers={})):
                    headers["Cookie"] = cookie
            resp = pool.request("GET", url, headers=headers, redirect=False, preload_content=False)
            response.status = resp.status
            response.headers = {k.lower(): v for k, v in resp.headers.itermerged()}
            if "set-cookie" in response.headers:
                extract_cookies_to_jar(self.cookies, SimpleNamespace(url=url, headers={}), resp)
            check_declared_length(response.headers, config.max_bytes)
            response.body = read_capped(_chunks(resp), config.max_bytes, deadline)
        except TooLarge:
            response.error, response.detail = "too_large", f"body over {config.max_bytes} bytes"
        except BlockedAddress as exc:
            response.error, response.detail = "blocked_address", str(exc)
        except (urllib3.exceptions.HTTPError, OSError, ValueError) as exc:
            response.error, response.detail = classify_urllib3(exc)
        finally:
            PAGE_DEADLINE.reset(token)
            if resp is not None:
                if response.error:
                    resp.close()  # unread bytes: the connection cannot be reused
                resp.release_conn()
        if response.error == "timeout" and time.monotonic() >= deadline - 0.01:
            # The whole page deadline is spent: a retry would only be cut again.
            response.final = True
            response.detail = f"page took over {config.page_deadline:g} s"
        response.elapsed_ms = round((time.monotonic() - started) * 1000, 1)
        return response

    def _pool_for(self, url: str) -> urllib3.PoolManager:
        parts = urlsplit(url)
        proxy = self._proxies.get(parts.scheme)
        if proxy is None or (not self.config.proxy and _bypass(parts.hostname or "")):
            return self.pool
        if self.config.block_private:
            # Through a proxy the proxy resolves the name: check it here, unpinned (netguard).
            with contextlib.suppress(socket.gaierror):  # the proxy will report it
                checked_addresses(parts.hostname or "", parts.port or 80)
        if proxy not in self._proxy_pools:
            manager = urllib3.ProxyManager(proxy, **self._options)
            manager.pool_classes_by_scheme = pool_classes(pin=False)  # a proxy is never pinned
            self._proxy_pools[proxy] = manager
        return self._proxy_pools[proxy]

    def close(self) -> None:
        """Release pooled connections."""
        self.pool.clear()
        for pool in self._proxy_pools.values():
            pool.clear()


def _chunks(resp: urllib3.BaseHTTPResponse):
    """Decoded body chunks as they arrive: ``read1`` returns after one socket read, so a
    trickling body still meets the deadline; decoding here (gzip, deflate) a bounded piece at a
    time makes the byte cap count decoded bytes."""
    while chunk := resp.read1(CHUNK):
        yield chunk


@lru_cache(maxsize=4096)
def _bypass(host: str) -> bool:
    """True when ``no_proxy`` says ``host`` is reached directly (decided once per host)."""
    return bool(urllib.request.proxy_bypass(host))
