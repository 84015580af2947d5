"""The requests-based Fetcher: one exchange per call through a ``requests.Session``; the page
deadline, byte cap, connection hygiene, headers and error kinds are the fetch core both fetchers
share (``crawler/http/core.py``). This module only sends the request and maps requests'
exceptions back to the urllib3 ones underneath.

One ``RequestsFetcher`` per worker loop: ``requests.Session`` is not promised to be thread-safe.
Redirects are not followed here; the worker schedules the target as a request of its own, so every
URL goes through the visited set and is fetched once.
"""

from __future__ import annotations

from collections.abc import Mapping
from http.cookiejar import CookieJar

import requests
from urllib3.exceptions import LocationValueError

from crawler.base import Response
from crawler.config import CrawlConfig
from crawler.http.capture import note_request
from crawler.http.core import FetchCore
from crawler.http.netguard import check_proxied_target
from crawler.http.requests_adapter import CrawlAdapter

_BAD_URL = (
    requests.exceptions.InvalidURL,
    requests.exceptions.MissingSchema,
    requests.exceptions.InvalidSchema,
    requests.exceptions.URLRequired,
)


class _Session(requests.Session):
    """A session that never reads ``Location``. Redirects are the worker's to judge and follow;
    with ``allow_redirects=False`` requests still parses the header (to fill ``response.next``),
    and a malformed one (``http://[::1``) raised ``ValueError`` before the 3xx was returned."""

    def get_redirect_target(self, resp: requests.Response) -> None:
        return None


class RequestsFetcher:
    """Fetch with ``requests``: connect/read timeouts, a page deadline and a byte cap.

    ``cookies`` lets a strategy give all its loops one jar (``http.cookiejar.CookieJar`` locks
    itself, so threads may share it); by default each fetcher keeps its own, for the crawl.
    """

    def __init__(
        self, config: CrawlConfig, *, pool_size: int = 10, cookies: CookieJar | None = None
    ) -> None:
        self.config = config
        self.core = FetchCore(config)
        self.session = _Session()
        adapter = CrawlAdapter(
            pin=config.block_private,
            pool_connections=pool_size,
            pool_maxsize=pool_size,
            max_retries=0,
        )
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        if cookies is not None:
            self.session.cookies = cookies  # type: ignore[assignment]
        self.session.headers.update(self.core.fixed_headers)
        # Given per request: requests lets HTTP_PROXY from the environment beat session.proxies.
        self.proxies = {"http": config.proxy, "https": config.proxy} if config.proxy else None

    def fetch(
        self, url: str, *, user_headers: bool = True, headers: Mapping[str, str] | None = None
    ) -> Response:
        """GET ``url`` once; network failures come back as ``Response.error``, never raised.
        ``user_headers=False`` leaves out the ``-H`` headers (robots.txt off its origin);
        ``headers``: this request's own (``If-None-Match`` ...)."""
        own = headers
        wait = min(self.config.timeout, self.config.page_deadline)

        def send():
            if self.config.block_private and self._proxied(url):
                check_proxied_target(url)  # the proxy resolves the name: check it here first
            try:
                resp = self.session.get(
                    url,
                    headers=self.core.headers(url, user_headers=user_headers, own=own),
                    stream=True,
                    allow_redirects=False,
                    timeout=(wait, wait),
                    proxies=self.proxies,
                )
            except requests.exceptions.RequestException as exc:
                raise _unwrap(exc) from None
            note_request("GET", url, resp.request.headers)  # --warc's request record
            return resp.raw  # the core reads it, then releases or discards its connection

        return self.core.fetch(url, send)

    def _proxied(self, url: str) -> bool:
        if self.proxies:
            return True
        return self.session.trust_env and bool(requests.utils.get_environ_proxies(url))

    def close(self) -> None:
        """Release pooled connections."""
        self.session.close()


def _unwrap(exc: requests.exceptions.RequestException) -> BaseException:
    """The urllib3 or socket exception requests wrapped, for the core's classification."""
    inner = exc.args[0] if exc.args else None
    if isinstance(inner, BaseException):
        return inner
    if isinstance(exc, _BAD_URL):
        return LocationValueError(str(exc))
    return exc
