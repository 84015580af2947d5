"""The requests-based Fetcher: one exchange per call, failures classified, body capped.

One ``RequestsFetcher`` per worker loop: ``requests.Session`` is not promised to be thread-safe.
Redirects are not followed here; the worker schedules the target as a request of its own, so every
URL goes through the visited set and is fetched once.
"""

from __future__ import annotations

import time

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import DecodeError, ProtocolError, ReadTimeoutError

from crawler.base import Response
from crawler.config import CrawlConfig

CHUNK = 64 * 1024


class _TooLarge(Exception):
    pass


class _DeadlineExceeded(Exception):
    pass


class RequestsFetcher:
    """Fetch with ``requests``: connect/read timeouts, a page deadline and a byte cap."""

    def __init__(self, config: CrawlConfig, *, pool_size: int = 10) -> None:
        self.config = config
        self.session = requests.Session()
        adapter = HTTPAdapter(pool_connections=pool_size, pool_maxsize=pool_size, max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers["User-Agent"] = config.user_agent
        self.session.headers["Accept"] = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8"

    def fetch(self, url: str) -> Response:
        """GET ``url`` once; network failures come back as ``Response.error``, never raised."""
        config = self.config
        started = time.monotonic()
        deadline = started + config.page_deadline
        response = Response(url=url)
        try:
            with self.session.get(
                url, stream=True, allow_redirects=False, timeout=(config.timeout, config.timeout)
            ) as resp:
                response.status = resp.status_code
                response.headers = {k.lower(): v for k, v in resp.headers.items()}
                response.body = self._read_capped(resp, deadline)
        except _TooLarge:
            response.error, response.detail = "too_large", f"body over {config.max_bytes} bytes"
        except _DeadlineExceeded:
            response.error = "timeout"
            response.detail = f"page took over {config.page_deadline:g} s"
        except requests.exceptions.RequestException as exc:
            response.error, response.detail = classify(exc)
        except (ProtocolError, ReadTimeoutError, DecodeError, OSError) as exc:
            response.error, response.detail = classify(exc)
        response.elapsed_ms = round((time.monotonic() - started) * 1000, 1)
        return response

    def _read_capped(self, resp: requests.Response, deadline: float) -> bytes:
        limit = self.config.max_bytes
        declared = resp.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise _TooLarge
        chunks: list[bytes] = []
        size = 0
        # iter_content decodes gzip/deflate, so the cap applies to the decoded size.
        for chunk in resp.iter_content(CHUNK):
            size += len(chunk)
            if size > limit:
                raise _TooLarge
            chunks.append(chunk)
            if time.monotonic() > deadline:
                raise _DeadlineExceeded
        return b"".join(chunks)

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
