"""The requests-based Fetcher: one exchange per call, failures classified, body capped.

One ``RequestsFetcher`` per worker loop: ``requests.Session`` is not promised to be thread-safe.
Redirects are not followed here; the worker schedules the target as a request of its own, so every
URL goes through the visited set and is fetched once.

Every read of the exchange (status line, headers, body) is bounded by the page deadline
(``crawler/http/adapter.py``), so a server that trickles a byte a second is cut at the deadline. The
body is read with ``read1``, which returns whatever has arrived (``iter_content`` would wait for a
whole chunk). Content-Encoding (gzip, deflate, br) is decoded a bounded piece at a time (urllib3
>= 2.6 caps each decompression step) and the byte cap counts decoded bytes, so a gzip bomb ends as
``too_large`` with flat memory.
"""

from __future__ import annotations

import contextlib
import socket
import time
from http.cookiejar import CookieJar

import requests
from urllib3.exceptions import DecodeError, ProtocolError, ReadTimeoutError

from crawler.base import Response
from crawler.config import CrawlConfig
from crawler.http.adapter import PAGE_DEADLINE, CrawlAdapter
from crawler.http.netguard import BlockedAddress, checked_addresses

CHUNK = 64 * 1024


class _TooLarge(Exception):
    pass


class RequestsFetcher:
    """Fetch with ``requests``: connect/read timeouts, a page deadline and a byte cap.

    ``cookies`` lets a strategy give all its loops one jar (``http.cookiejar.CookieJar`` locks
    itself, so threads may share it); by default each fetcher keeps its own, for the crawl.
    """

    def __init__(
        self, config: CrawlConfig, *, pool_size: int = 10, cookies: CookieJar | None = None
    ) -> None:
        self.config = config
        self.session = requests.Session()
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
        headers = self.session.headers
        headers["User-Agent"] = config.user_agent
        headers["Accept"] = ",".join((*config.accept, "*/*;q=0.8"))
        for name, value in config.headers:
            headers[name] = value
        # Given per request: requests lets HTTP_PROXY from the environment beat session.proxies.
        self.proxies = {"http": config.proxy, "https": config.proxy} if config.proxy else None

    def fetch(self, url: str) -> Response:
        """GET ``url`` once; network failures come back as ``Response.error``, never raised."""
        config = self.config
        started = time.monotonic()
        deadline = started + config.page_deadline
        wait = min(config.timeout, config.page_deadline)
        response = Response(url=url)
        token = PAGE_DEADLINE.set(deadline)
        try:
            if config.block_private and self._proxied(url):
                self._check_target(url)
            with self.session.get(
                url,
                stream=True,
                allow_redirects=False,
                timeout=(wait, wait),
                proxies=self.proxies,
            ) as resp:
                response.status = resp.status_code
                response.headers = {k.lower(): v for k, v in resp.headers.items()}
                response.body = self._read_capped(resp)
        except _TooLarge:
            response.error, response.detail = "too_large", f"body over {config.max_bytes} bytes"
        except BlockedAddress as exc:
            response.error, response.detail = "blocked_address", str(exc)
        except requests.exceptions.RequestException as exc:
            response.error, response.detail = classify(exc)
        except (ProtocolError, ReadTimeoutError, DecodeError, OSError) as exc:
            response.error, response.detail = classify(exc)
        finally:
            PAGE_DEADLINE.reset(token)
        if response.error == "timeout" and time.monotonic() >= deadline - 0.01:
            # The whole page deadline is spent: a retry would only be cut again.
            response.final = True
            response.detail = f"page took over {config.page_deadline:g} s"
        response.elapsed_ms = round((time.monotonic() - started) * 1000, 1)
        return response

    def _read_capped(self, resp: requests.Response) -> bytes:
        limit = self.config.max_bytes
        declared = resp.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise _TooLarge
        raw = resp.raw
        chunks: list[bytes] = []
        size = 0
        # read1: what has arrived, at most CHUNK decoded bytes (gzip, deflate, br); each
        # socket read stops at the page deadline (adapter.py).
        while chunk := raw.read1(CHUNK, decode_content=True):
            size += len(chunk)
            if size > limit:
                raise _TooLarge
            chunks.append(chunk)
        return b"".join(chunks)

    def _proxied(self, url: str) -> bool:
        if self.proxies:
            return True
        return self.session.trust_env and bool(requests.utils.get_environ_proxies(url))

    def _check_target(self, url: str) -> None:
        # Through a proxy the proxy resolves the name: check it here, unpinned (see netguard).
        parts = requests.utils.urlparse(url)
        with contextlib.suppress(socket.gaierror):  # the proxy will report it
            checked_addresses(parts.hostname or "", parts.port or 80)

    def close(self) -> None:
        """Release pooled connections."""
        self.session.close()


def classify(exc: BaseException) -> tuple[str, str]:
    """Map a requests/urllib3 exception to an error kind and a one-line detail."""
    detail = f"{type(exc).__name__}: {exc}"[:300]
    if isinstance(exc, (requests.exceptions.Timeout, ReadTimeoutError, TimeoutError)):
        return "timeout", detail
    if isinstance(exc, requests.exceptions.SSLError):
        return "tls", detail
    if isinstance(exc, requests.exceptions.ConnectionError):
        text = str(exc)
        if "Read timed out" in text:
            return "timeout", detail
        if "NameResolutionError" in text or "Name or service not known" in text:
            return "dns", detail
        if isinstance(exc.__context__, ProtocolError) or "RemoteDisconnected" in text:
            return "protocol", detail
        return "connect", detail
    if isinstance(exc, (requests.exceptions.ContentDecodingError, DecodeError)):
        return "decode", detail
    if isinstance(exc, (requests.exceptions.ChunkedEncodingError, ProtocolError)):
        return "protocol", detail
    if isinstance(exc, (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema)):
        return "invalid_url", detail
    return "fetch", detail
