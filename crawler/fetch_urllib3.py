"""The lean Fetcher: ``urllib3.PoolManager`` directly, with the same semantics as the requests
fetcher (one exchange, no redirects followed, connect/read timeouts, a page deadline, a cap on
the decoded body, failures classified into error kinds).

Why it exists: per page, ``requests.Session.get`` costs several times the CPU of the urllib3
request underneath it (it merges settings, re-reads proxy variables from the environment and
builds a second response object on every call). Once concurrency hides the latency, CPU per page
is the crawl's speed limit; see the README's Performance section for the measurements.

Proxy variables (``http_proxy``, ``https_proxy``, ``no_proxy``) are honoured like requests does,
but read once per fetcher and decided once per host rather than on every request.
"""

from __future__ import annotations

import time
import urllib.request
from functools import lru_cache
from urllib.parse import urlsplit

import certifi
import urllib3

from crawler.base import Response
from crawler.config import CrawlConfig
from crawler.fetch_common import (
    ACCEPT,
    CHUNK,
    DeadlineExceeded,
    TooLarge,
    check_declared_length,
    classify_urllib3,
    read_capped,
)


class Urllib3Fetcher:
    """Fetch with a urllib3 connection pool. One per worker loop, like every Fetcher."""

    def __init__(self, config: CrawlConfig, *, pool_size: int = 10) -> None:
        self.config = config
        self._options = {
            "num_pools": 64,
            "maxsize": pool_size,
            "retries": False,
            "timeout": urllib3.Timeout(connect=config.timeout, read=config.timeout),
            "headers": {
                "User-Agent": config.user_agent,
                "Accept": ACCEPT,
                "Accept-Encoding": "gzip, deflate",
            },
            "ca_certs": certifi.where(),  # the same trust store as requests
        }
        self.pool = urllib3.PoolManager(**self._options)
        self._proxies = {
            scheme: url
            for scheme, url in urllib.request.getproxies().items()
            if scheme in ("http", "https")
        }
        self._proxy_pools: dict[str, urllib3.ProxyManager] = {}

    def fetch(self, url: str) -> Response:
        """GET ``url`` once; network failures come back as ``Response.error``, never raised."""
        config = self.config
        started = time.monotonic()
        response = Response(url=url)
        resp = None
        try:
            pool = self._pool_for(url) if self._proxies else self.pool
            resp = pool.request("GET", url, redirect=False, preload_content=False)
            response.status = resp.status
            response.headers = {k.lower(): v for k, v in resp.headers.itermerged()}
            check_declared_length(response.headers, config.max_bytes)
            response.body = read_capped(
                _chunks(resp), config.max_bytes, started + config.page_deadline
            )
        except TooLarge:
            response.error, response.detail = "too_large", f"body over {config.max_bytes} bytes"
        except DeadlineExceeded:
            response.error = "timeout"
            response.detail = f"page took over {config.page_deadline:g} s"
        except (urllib3.exceptions.HTTPError, OSError, ValueError) as exc:
            response.error, response.detail = classify_urllib3(exc)
        finally:
            if resp is not None:
                if response.error:
                    resp.close()  # unread bytes: the connection cannot be reused
                resp.release_conn()
        response.elapsed_ms = round((time.monotonic() - started) * 1000, 1)
        return response

    def _pool_for(self, url: str) -> urllib3.PoolManager:
        parts = urlsplit(url)
        proxy = self._proxies.get(parts.scheme)
        if proxy is None or _bypass(parts.hostname or ""):
            return self.pool
        if proxy not in self._proxy_pools:
            self._proxy_pools[proxy] = urllib3.ProxyManager(proxy, **self._options)
        return self._proxy_pools[proxy]

    def close(self) -> None:
        """Release pooled connections."""
        self.pool.clear()
        for pool in self._proxy_pools.values():
            pool.clear()


def _chunks(resp: urllib3.BaseHTTPResponse):
    """Decoded body chunks as they arrive: ``read1`` returns after one socket read, so a
    trickling body still meets the deadline check (``stream()`` waits for full chunks); and
    decoding gzip/deflate here makes the byte cap apply to the decoded size."""
    while chunk := resp.read1(CHUNK):
        yield chunk


@lru_cache(maxsize=4096)
def _bypass(host: str) -> bool:
    """True when ``no_proxy`` says ``host`` is reached directly (decided once per host)."""
    return bool(urllib.request.proxy_bypass(host))
