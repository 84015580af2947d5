"""One fetch as WARC 1.1 bytes: its ``response`` record, then its ``request`` record.

Called by the worker that fetched the page (``payload.py``), so that digests and compression,
the CPU of archiving, are spent where the page was fetched, in every process of the crawl, and
the one writer (``warc.py``) only appends bytes.

Why by hand and not with warcio's record builder, which writes the ``warcinfo`` record and
reads everything back (tests run every file through warcio's ``ArchiveIterator`` with digest
checks, and ``warcio check``/``warcio index``): per page, the builder's header handling cost
about as much CPU as the digests and compression together, and this runs once per page. A
WARC record is a header block, a blank line, the content and two CRLFs: the fields below are
the ones warcio writes, in its order.
"""

from __future__ import annotations

import hashlib
import uuid
import zlib
from typing import Any

from crawler.archive.digest import base32_of_sha1

WARC_VERSION = "1.1"
# zlib's fastest level: archiving costs CPU in the crawl's own processes, and what level 1
# saves there outweighs the slightly larger files (docs/archiving.md).
GZIP_LEVEL = 1
_HTTP_TYPES = {
    "response": "application/http; msgtype=response",
    "request": "application/http; msgtype=request",
}


def exchange_records(exchange: Any, *, gzip: bool) -> bytes:
    """The ``response`` record of ``exchange`` (a ``crawler.http.capture.Exchange``), then its
    ``request`` record pointing at it with ``WARC-Concurrent-To``; with ``gzip`` each is a gzip
    member of its own, so a reader can start at any record."""
    common = [("WARC-Date", exchange.date), ("WARC-Target-URI", _field(exchange.url))]
    if exchange.peer_ip:
        common.append(("WARC-IP-Address", exchange.peer_ip))
    response_id = _record_id()
    fields = [("WARC-Record-ID", response_id), *common]
    if exchange.truncated:
        fields.append(("WARC-Truncated", exchange.truncated))
    response = _record("response", fields, exchange.response_head, exchange.body)
    fields = [("WARC-Record-ID", _record_id()), *common, ("WARC-Concurrent-To", response_id)]
    # (A request record's own payload is empty: its block is the request line and headers.)
    request = _record("request", fields, exchange.request, b"")
    if not gzip:
        return response + request
    return _gzip_member(response) + _gzip_member(request)


# Re-crawl's seam (a 304 to a conditional request): ``payload.payload_for`` will call a
# ``revisit_records(exchange, refers_to_uri, refers_to_date, payload_digest)`` written next to
# ``exchange_records``: ``_record("revisit", ...)`` with ``WARC-Profile:
# http://netpreserve.org/warc/1.1/revisit/server-not-modified``, ``WARC-Refers-To-Target-URI``
# and ``WARC-Refers-To-Date`` of the earlier capture, the 304's head as the block, and the
# earlier capture's payload digest (``_record`` then takes the digest instead of computing it),
# followed by the request record as here.


def sha1_digest(data: bytes) -> str:
    """``sha1:`` and the base32 SHA-1 of ``data``: how WARC digests are written."""
    return "sha1:" + base32_of_sha1(hashlib.sha1(data).digest())


def _record(kind: str, fields: list[tuple[str, str]], head: bytes, payload: bytes) -> bytes:
    """One uncompressed record: HTTP ``head`` + ``payload`` is its block."""
    block = hashlib.sha1(head)
    block.update(payload)
    lines = [f"WARC/{WARC_VERSION}", f"WARC-Type: {kind}"]
    lines += [f"{name}: {value}" for name, value in fields]
    lines += [
        f"WARC-Payload-Digest: {sha1_digest(payload)}",
        f"WARC-Block-Digest: sha1:{base32_of_sha1(block.digest())}",
        f"Content-Type: {_HTTP_TYPES[kind]}",
        f"Content-Length: {len(head) + len(payload)}",
    ]
    header = ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")
    return b"".join((header, head, payload, b"\r\n\r\n"))


def _gzip_member(data: bytes) -> bytes:
    """``data`` as one gzip member. The window is no larger than ``data`` (the output is the
    same: no back-reference reaches further), because setting up zlib's default 32 KiB window
    and hash tables cost more than compressing a small request record."""
    window = min(zlib.MAX_WBITS, max(9, len(data).bit_length()))
    compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, window + 16, max(1, window - 6))
    return compressor.compress(data) + compressor.flush()


def _record_id() -> str:
    return f"<urn:uuid:{uuid.uuid4()}>"


def _field(value: str) -> str:
    """A header value on one line (a URL in normal form has no CR, LF or space already)."""
    return value.replace("\r", "%0D").replace("\n", "%0A").replace(" ", "%20")
