"""The fetch core both fetchers share, whichever HTTP library sends the request: the page
deadline (connect, headers and body), the decoded-body cap, what happens to the connection
afterwards, the headers a request carries, and the classification of failures into error kinds.

A fetcher only says how to send one GET (a callable returning a urllib3 response that has not
read its body: urllib3's own, or ``requests.Response.raw``); ``FetchCore.fetch`` does the rest.

Error kinds (the ``error`` field of a record): ``timeout``, ``dns``, ``connect``, ``tls``,
``protocol``, ``decode``, ``invalid_url``, ``too_large``, ``blocked_address``, ``fetch``
(anything else).

Invariant: a connection goes back to its pool only after its response was read to the end.
Any other ending (deadline, cap, broken body) closes it, so no later request on it can read
what is left of this one.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from types import BuiltinFunctionType
from typing import Any

from urllib3 import exceptions as u3

from crawler.base import Response
from crawler.http.capture import RECORDER, ExchangeRecorder
from crawler.http.connect import PAGE_DEADLINE
from crawler.http.netguard import BlockedAddress
from crawler.http.request_headers import RequestHeaders

CHUNK = 64 * 1024
# The largest body read in one call (a whole page of most sites, the bench's 100 KB ones too):
# longer ones are read a CHUNK at a time, letting other loops run between pieces
# (``yield_now``), so no loop reads more than two pieces' worth without giving a turn.
WHOLE = 2 * CHUNK


class TooLarge(Exception):
    """The decoded body is over the byte cap; ``parts`` holds what was read before it."""

    def __init__(self, parts: tuple[bytes, ...] = ()) -> None:
        super().__init__()
        self.parts = parts


class DeadlineExceeded(Exception):
    """The page took longer than its overall deadline."""


class FetchCore(RequestHeaders):
    """One fetcher's settings turned into exchanges: ``headers`` for a request
    (``RequestHeaders``), ``fetch`` to run one."""

    def fetch(self, url: str, send: Callable[[], Any]) -> Response:
        """Run ``send`` (one GET of ``url``, body unread) under the page deadline and read the
        body; failures come back as ``Response.error``, never raised."""
        config = self.config
        started = time.monotonic()
        deadline = started + config.page_deadline
        response = Response(url=url)
        token = PAGE_DEADLINE.set(deadline)
        # --warc: keep the raw exchange (crawler/http/capture.py); nothing is kept otherwise.
        recorder = recording = None
        if config.warc:
            recorder = ExchangeRecorder(url)
            recording = RECORDER.set(recorder)
        raw = None
        complete = False
        try:
            raw = send()
            response.status = raw.status
            response.headers = {k.lower(): v for k, v in raw.headers.itermerged()}
            if recorder is not None:
                recorder.received(raw)
            check_declared_length(response.headers, config.max_bytes)
            response.body = read_body(raw, config.max_bytes, deadline, recorder)
            complete = True
        except TooLarge as exc:
            response.error, response.detail = "too_large", f"body over {config.max_bytes} bytes"
            response.partial = exc.parts
        except DeadlineExceeded:
            response.error = "timeout"
        except BlockedAddress as exc:
            response.error, response.detail = "blocked_address", str(exc)
        except (u3.HTTPError, OSError, ValueError) as exc:
            response.error, response.detail = classify(exc)
        finally:
            PAGE_DEADLINE.reset(token)
            if recording is not None:
                RECORDER.reset(recording)
            if raw is not None:
                if not complete:
                    raw.close()  # unread bytes: this connection must never serve another page
                raw.release_conn()
        if response.error == "timeout" and time.monotonic() >= deadline - 0.01:
            # The whole page deadline is spent: a retry would only be cut again.
            response.final = True
            response.detail = f"page took over {config.page_deadline:g} s"
        if recorder is not None and (exchange := recorder.exchange(response.error)):
            response.exchanges = (exchange,)
        response.elapsed_ms = round((time.monotonic() - started) * 1000, 1)
        return response


def check_declared_length(headers: Mapping[str, str], limit: int) -> None:
    """Refuse early when Content-Length already says the body is over ``limit``."""
    declared = headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise TooLarge


def read_body(
    raw: Any, limit: int, deadline: float, recorder: ExchangeRecorder | None = None
) -> bytes:
    """The decoded body of urllib3 response ``raw``; ``TooLarge`` past ``limit`` bytes,
    ``DeadlineExceeded`` once ``time.monotonic()`` passes ``deadline``.

    ``read1`` returns what has arrived (at most ``CHUNK`` decoded bytes: gzip, deflate, br are
    decoded a bounded piece at a time), so the cap counts decoded bytes with flat memory, and
    a trickling body still meets the deadline (each socket read is bounded by it too:
    ``crawler/http/adapter.py``). Other loops get a turn after every piece but the first
    (``yield_now``). A body of known length up to ``WHOLE`` bytes, not content-encoded, is
    read in one call instead. With a ``recorder`` (--warc) the body is read raw and decoded
    the same bounded way by the recorder, which keeps the raw bytes."""
    parts: list[bytes] = []
    size = 0
    if recorder is not None:
        chunks = recorder.chunks(raw)
    else:
        # A small body of known length, not content-encoded: one read (each socket read
        # still bounded by the deadline), where a piece at a time cost two or three calls
        # through urllib3's reader. The byte cap holds: the length is under it.
        length = getattr(raw, "length_remaining", None)  # None: unknown, or chunked
        if length and length <= min(limit, WHOLE) and not raw.headers.get("content-encoding"):
            body = raw.read(length, decode_content=False)
            if len(body) == length:
                return body
            parts, size = [body], len(body)  # cut short: the loop below hears why from urllib3
        chunks = iter(lambda: raw.read1(CHUNK, decode_content=True), b"")
    for chunk in chunks:
        size += len(chunk)
        if size > limit:
            parts.append(chunk[: limit - (size - len(chunk))])
            raise TooLarge(tuple(parts))
        parts.append(chunk)
        if time.monotonic() > deadline:
            raise DeadlineExceeded
        if len(parts) > 1:
            # Not after the first piece: usually the whole body, and a turn here would make
            # the page (and its host's next start) wait for every other runnable loop.
            yield_now()
    return parts[0] if len(parts) == 1 else b"".join(parts)


def yield_now() -> None:
    """Let other loops run. A body that keeps arriving (a fast server, a stream of tiny chunks)
    makes every socket read return at once, and under gevent a greenlet that never waits never
    switches: without this, one such page starves every other greenlet of the process until
    its deadline, and their own timeouts fire. ``time.sleep`` is gevent's once patched (a
    switch through the hub, which also polls the sockets); on threads it lets the others have
    the interpreter lock.

    Alone in its process (serial, a processes-mode child without greenlets) there is no one to
    let run, and ``sleep(0)`` is a trip through the kernel's scheduler that, on a busy machine,
    gives the core away: it cost a serial crawl of 100 KB pages a sixth of its wall time."""
    sleep = time.sleep
    if type(sleep) is not BuiltinFunctionType or threading.active_count() > 1:
        sleep(0)


def classify(exc: BaseException) -> tuple[str, str]:
    """Map a urllib3 or socket exception to an error kind and a one-line detail."""
    if isinstance(exc, u3.MaxRetryError) and exc.reason is not None:
        exc = exc.reason
    detail = f"{type(exc).__name__}: {exc}"[:300]
    # NewConnectionError subclasses ConnectTimeoutError in urllib3 2: test it before timeouts.
    if isinstance(exc, u3.NameResolutionError):
        return "dns", detail
    if isinstance(exc, (u3.NewConnectionError, u3.ProxyError, ConnectionRefusedError)):
        return "connect", detail
    if isinstance(exc, (u3.TimeoutError, TimeoutError)):  # connect and read timeouts
        return "timeout", detail
    if isinstance(exc, u3.SSLError):
        return "tls", detail
    if isinstance(exc, u3.DecodeError):
        return "decode", detail
    if isinstance(exc, (u3.ProtocolError, u3.IncompleteRead, u3.InvalidChunkLength)):
        return "protocol", detail
    if isinstance(exc, (u3.LocationValueError, u3.URLSchemeUnknown)):
        return "invalid_url", detail
    if isinstance(exc, OSError):
        return "connect", detail
    return "fetch", detail
