"""What every Fetcher shares, whichever HTTP library it drives: the body cap, the page deadline
and the classification of urllib3-level failures into record error kinds.

Error kinds (the ``error`` field of a record): ``timeout``, ``dns``, ``connect``, ``tls``,
``protocol``, ``decode``, ``invalid_url``, ``too_large``, ``fetch`` (anything else).
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from urllib3 import exceptions as u3

CHUNK = 64 * 1024
ACCEPT = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8"


class TooLarge(Exception):
    """The decoded body is over the byte cap."""


class DeadlineExceeded(Exception):
    """The page took longer than its overall deadline."""


def check_declared_length(headers: object, limit: int) -> None:
    """Refuse early when Content-Length already says the body is over ``limit``."""
    declared = headers.get("content-length")  # type: ignore[attr-defined]
    if declared and declared.isdigit() and int(declared) > limit:
        raise TooLarge


def read_capped(chunks: Iterable[bytes], limit: int, deadline: float) -> bytes:
    """Join decoded ``chunks``; raise ``TooLarge`` past ``limit`` bytes and ``DeadlineExceeded``
    once ``time.monotonic()`` passes ``deadline`` (checked between chunks: the read timeout
    bounds each one)."""
    parts: list[bytes] = []
    size = 0
    for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise TooLarge
        parts.append(chunk)
        if time.monotonic() > deadline:
            raise DeadlineExceeded
    return parts[0] if len(parts) == 1 else b"".join(parts)


def classify_urllib3(exc: BaseException) -> tuple[str, str]:
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
