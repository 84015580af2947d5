"""The raw HTTP exchange of one fetch, kept for a WARC archive (``--warc``).

The fetch core (``core.py``) builds an ``ExchangeRecorder`` only when the crawl archives
(``config.warc``), so a crawl without ``--warc`` pays nothing. The recorder is filled in at three
points of a fetch: ``sent`` (the request line and headers given to the connection: each
fetcher's ``send`` calls ``note_request``), ``received`` (status line,
headers and peer address, read before the body) and ``chunks`` (the body read *raw*, still
content-encoded, and decoded here a bounded piece at a time so the fetcher's byte cap still
counts decoded bytes, as urllib3 >= 2.6 does on its own). ``exchange`` then hands back an
``Exchange``: plain data that crosses a process boundary with the page's record.

What is and is not the wire: the body is what the server sent before content decoding, with the
transfer coding (chunked) already removed by ``http.client``; the response's
``Transfer-Encoding`` header is therefore kept as ``X-Archive-Orig-Transfer-Encoding`` (the
pywb convention), so the archived message parses as what it is. The request is rebuilt from the
headers given to the connection (``http.client`` sends no others but ``Host`` and
``Accept-Encoding``, both included); ``Authorization`` values are never archived.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from typing import Any, NamedTuple
from urllib.parse import urlsplit

# Decoding as urllib3 does it, urllib3 imported only once a body needs decoding: the curl
# fetcher records exchanges without it (``decoding.py``).
from crawler.http.decoding import CHUNK, decoded, decoder_for, flushed

__all__ = [
    "CHUNK",
    "RECORDER",
    "SECRET_HEADERS",
    "Exchange",
    "ExchangeRecorder",
    "decoded",
    "decoder_for",
    "flushed",
    "note_request",
    "warc_date",
]
# Header values that are secrets of the user's (-H), not of the page: archived as "[redacted]".
SECRET_HEADERS = frozenset({"authorization", "proxy-authorization"})
_VERSIONS = {9: "HTTP/0.9", 10: "HTTP/1.0", 11: "HTTP/1.1", 20: "HTTP/2"}


# The recorder of the fetch running in this thread or greenlet (set by ``FetchCore.fetch`` only
# with --warc), so that a fetcher's ``send`` can say what it sent without a new parameter.
RECORDER: ContextVar[ExchangeRecorder | None] = ContextVar("crawler_recorder", default=None)


def note_request(method: str, url: str, headers: Mapping[str, str]) -> None:
    """Tell the running fetch's recorder, if any, what request is sent (``headers``: all
    given to the connection)."""
    if (recorder := RECORDER.get()) is not None:
        recorder.sent(method, url, headers)


class Exchange(NamedTuple):
    """One request and its response as the archive keeps them. Plain data (bytes and str)."""

    url: str
    # WARC-Date: when the request was sent, ISO 8601 UTC with microseconds (WARC 1.1).
    date: str
    peer_ip: str | None
    request: bytes  # request line + headers + CRLF
    response_head: bytes  # status line + headers + CRLF
    body: bytes  # as received: content coding kept, transfer coding removed
    # Why the body is incomplete, in WARC-Truncated's words ("length", "time",
    # "unspecified"), or None when it was read to its end.
    truncated: str | None = None


class ExchangeRecorder:
    """Collects one fetch's raw exchange while the fetcher runs (one per fetch)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.date = warc_date()
        self._request = b""
        self._head: bytes | None = None
        self._peer_ip: str | None = None
        self._raw: list[bytes] = []
        self._complete = False

    def sent(self, method: str, url: str, headers: Mapping[str, str]) -> None:
        """The request as given to the connection (``headers`` without ``Host``)."""
        parts = urlsplit(url)
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        start = f"{method} {target} HTTP/1.1\r\nHost: {parts.netloc.rpartition('@')[2]}\r\n"
        self._request = start.encode("latin-1", "replace") + _header_lines(tuple(headers.items()))

    def received(self, resp: Any) -> None:
        """Status line, headers and peer address of a urllib3 response whose body is unread."""
        version = _VERSIONS.get(getattr(resp, "version", 11), "HTTP/1.1")
        lines = [f"{version} {resp.status} {resp.reason or ''}".rstrip()]
        for name, value in resp.headers.iteritems():
            if name.lower() == "transfer-encoding":
                name = "X-Archive-Orig-Transfer-Encoding"
            lines.append(f"{name}: {value}")
        self._head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace")
        self._peer_ip = _peer_ip(resp)

    def chunks(self, resp: Any) -> Iterator[bytes]:
        """The decoded body of urllib3 response ``resp``, at most ``CHUNK`` bytes a piece, as
        it arrives; the raw bytes are kept. Decode errors surface as urllib3's ``DecodeError``,
        as when urllib3 decodes."""
        decoder = decoder_for(resp.headers.get("content-encoding", ""))
        while raw := resp.read1(CHUNK, decode_content=False):
            self._raw.append(raw)
            yield from decoded(decoder, raw)
        self._complete = True
        if (tail := flushed(decoder)) is not None:
            yield tail

    def sent_head(self, head: bytes) -> None:
        """The request head exactly as a fetcher that sees its bytes sent it (the curl
        fetcher), secret header values (``SECRET_HEADERS``) replaced by ``[redacted]``."""
        lines = head.split(b"\r\n")
        for i, line in enumerate(lines):
            name, colon, _ = line.partition(b":")
            if colon and name.strip().lower().decode("latin-1") in SECRET_HEADERS:
                lines[i] = name + b": [redacted]"
        self._request = b"\r\n".join(lines)

    def received_lines(self, lines: list[bytes], peer_ip: str | None) -> None:
        """The status line and header lines of a response as they came (each with its line
        end), for a fetcher that reads them itself (the curl fetcher); ``peer_ip``: the
        address it came from, if known."""
        kept = []
        for line in lines:
            if line[:18].lower() == b"transfer-encoding:":
                line = b"X-Archive-Orig-" + line
            if line := line.rstrip(b"\r\n"):  # not the blank line that ends the head
                kept.append(line)
        self._head = b"\r\n".join(kept) + b"\r\n\r\n"
        self._peer_ip = peer_ip

    def keep(self, raw: bytes) -> None:
        """A piece of the body as received (content coding kept), for a fetcher that reads
        the body itself and decodes it with ``decoder_for``."""
        self._raw.append(raw)

    def finished(self) -> None:
        """The body was read to its end (else the archive marks it truncated)."""
        self._complete = True

    def exchange(self, error: str | None) -> Exchange | None:
        """The exchange, or None when no response arrived (nothing to archive). ``error`` is
        the fetch's error kind: it says why an unfinished body stopped."""
        if self._head is None:
            return None
        truncated = None
        if not self._complete:
            truncated = {"too_large": "length", "timeout": "time"}.get(error or "", "unspecified")
        return Exchange(
            url=self.url,
            date=self.date,
            peer_ip=self._peer_ip,
            request=self._request,
            response_head=self._head,
            body=b"".join(self._raw),
            truncated=truncated,
        )


def warc_date() -> str:
    """Now, as WARC-Date: ISO 8601 in UTC to the microsecond (``2026-12-02T00:46:00.123456Z``).

    The date and time to the second are formatted once a second and kept: formatting a
    ``datetime`` cost several microseconds on every page, more than the rest of this."""
    global _second
    seconds, nanoseconds = divmod(time.time_ns(), 1_000_000_000)
    second = _second  # one read: another thread may replace it meanwhile
    if second[0] != seconds:
        second = _second = (seconds, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)))
    return f"{second[1]}.{nanoseconds // 1000:06d}Z"


_second: tuple[int, str] = (-1, "")


def _header_lines(headers: tuple[tuple[str, str], ...]) -> bytes:
    """The request's header lines after ``Host``, and the blank line that ends them; kept for
    the next request with the same headers (most are: a crawl sends the same few to every
    page), as a page's cost otherwise."""
    lines = _HEADER_LINES.get(headers)
    if lines is None:
        text = "".join(
            f"{name}: {'[redacted]' if name.lower() in SECRET_HEADERS else value}\r\n"
            for name, value in headers
            if name.lower() != "host"
        )
        lines = (text + "\r\n").encode("latin-1", "replace")
        if len(_HEADER_LINES) >= _HEADER_LINES_KEPT:
            _HEADER_LINES.clear()  # per-page headers (cookies, validators) must not pile up
        _HEADER_LINES[headers] = lines
    return lines


_HEADER_LINES: dict[tuple[tuple[str, str], ...], bytes] = {}
_HEADER_LINES_KEPT = 64


def _peer_ip(resp: Any) -> str | None:
    """The address the response came from, or None (WARC-IP-Address is optional): kept by the
    adapter's response class when the socket was opened (``adapter.DeadlineResponse``), else
    the connection's socket if it is still open."""
    peer = getattr(getattr(resp, "_fp", None), "peer_ip", None)
    if peer is not None:
        return peer
    try:
        return resp.connection.sock.getpeername()[0]
    except (AttributeError, OSError, IndexError, TypeError):
        return None
