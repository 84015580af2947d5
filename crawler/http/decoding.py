"""Content decoding as urllib3 does it, for a fetcher that reads bodies itself (the curl
fetcher): the same encodings asked for (``ACCEPT_ENCODING``) and the same decoders and errors,
with urllib3 imported only when a body actually needs decoding. Importing urllib3 costs a crawl
more CPU than a hundred 100 KB pages (docs/performance.md), and a site that serves its pages
as they are never needs it.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from typing import Any

CHUNK = 64 * 1024


def _importable(*names: str) -> bool:
    """Whether one of ``names`` is installed: found, not run (importing zstd would cost every
    crawl at its start, for bodies few sites send)."""
    for name in names:
        try:
            if importlib.util.find_spec(name) is not None:
                return True
        except (ImportError, ValueError):  # a parent package missing, a module without spec
            continue
    return False


def _accept_encoding() -> str:
    """What urllib3 asks for (``urllib3.util.request.ACCEPT_ENCODING``), by urllib3's own test:
    br when a brotli module imports, zstd when the zstd module urllib3 uses imports (the tests
    hold this to urllib3's value)."""
    encodings = "gzip,deflate"
    if _importable("brotlicffi", "brotli"):
        encodings += ",br"
    if _importable("compression.zstd" if sys.version_info >= (3, 14) else "backports.zstd"):
        encodings += ",zstd"
    return encodings


ACCEPT_ENCODING = _accept_encoding()


def _response_class() -> Any:
    from urllib3.response import HTTPResponse

    return HTTPResponse


def decoder_for(encoding: str) -> Any:
    """The decoder urllib3 itself would use for a body of this ``Content-Encoding``
    (``HTTPResponse._init_decoder``), or None (not encoded, or by nothing urllib3 decodes)."""
    encoding = encoding.lower()
    if not encoding or encoding == "identity":
        return None
    from urllib3.response import _get_decoder

    known = _response_class().CONTENT_DECODERS
    if encoding in known:
        return _get_decoder(encoding)
    if "," in encoding and any(e.strip() in known for e in encoding.split(",")):
        return _get_decoder(encoding)
    return None


def decoded(decoder: Any, raw: bytes) -> Iterator[bytes]:
    """``raw`` decoded by ``decoder`` (from ``decoder_for``; None: as it is), at most
    ``CHUNK`` bytes a piece, so a bomb never sits whole in memory. Decode errors surface as
    urllib3's ``DecodeError``, as when urllib3 decodes."""
    if decoder is None:
        yield raw
        return
    errors = _response_class().DECODER_ERROR_CLASSES
    try:
        piece = decoder.decompress(raw, max_length=CHUNK)
        while piece:
            yield piece
            if not decoder.has_unconsumed_tail:
                break
            piece = decoder.decompress(b"", max_length=CHUNK)
    except errors as exc:
        from urllib3.exceptions import DecodeError

        raise DecodeError(f"content decoding failed: {exc}") from exc


def flushed(decoder: Any) -> bytes | None:
    """What ``decoder`` still holds once the body has ended (None: nothing)."""
    if decoder is None:
        return None
    try:
        return decoder.flush() or None
    except _response_class().DECODER_ERROR_CLASSES as exc:
        from urllib3.exceptions import DecodeError

        raise DecodeError(f"content decoding failed: {exc}") from exc
