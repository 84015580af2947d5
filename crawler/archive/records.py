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
    "revisit": "application/http; msgtype=response",
    "request": "application/http; msgtype=request",
}


def exchange_records(exchange: Any, *, gzip: bool, revisit_of: str | None = None) -> bytes:
    """The ``response`` record of ``exchange`` (a ``crawler.http.capture.Exchange``), then its
    ``request`` record pointing at it with ``WARC-Concurrent-To``; with ``gzip`` each is a gzip
    member of its own, so a reader can start at any record.

    ``revisit_of``: the payload digest of the URL's earlier capture, when the request was
    conditional; a 304 answer is then a ``revisit`` record (server-not-modified profile)."""
    common = [("WARC-Date", exchange.date), ("WARC-Target-URI", _field(exchange.url))]
    if exchange.peer_ip:
        common.append(("WARC-IP-Address", exchange.peer_ip))
    response_id = _record_id()
    fields = [("WARC-Record-ID", response_id), *common]
    if exchange.truncated:
        fields.append(("WARC-Truncated", exchange.truncated))
    if revisit_of is not None and _status(exchange.response_head) == 304:
        fields += [
            ("WARC-Profile", REVISIT_PROFILE),
            ("WARC-Refers-To-Target-URI", _field(exchange.url)),
        ]
        response = _record("revisit", fields, exchange.response_head, b"", payload=revisit_of)
    else:
        response = _record("response", fields, exchange.response_head, exchange.body)
    fields = [("WARC-Record-ID", _record_id()), *common, ("WARC-Concurrent-To", response_id)]
    # (A request record's own payload is empty: its block is the request line and headers.)
    request = _record("request", fields, exchange.request, b"")
    if not gzip:
        return response + request
    return _gzip_member(response) + _gzip_member(request)


# A 304 to a conditional request (a re-crawl) is a revisit of the earlier capture (WARC 1.1
# section 6.7.2): the 304's head is the block, and the payload digest is the earlier payload's.
REVISIT_PROFILE = "http://netpreserve.org/warc/1.1/revisit/server-not-modified"


def sha1_digest(data: bytes) -> str:
    """``sha1:`` and the base32 SHA-1 of ``data``: how WARC digests are written."""
    return "sha1:" + base32_of_sha1(hashlib.sha1(data).digest())


def _record(
    kind: str,
    fields: list[tuple[str, str]],
    head: bytes,
    body: bytes,
    *,
    payload: str | None = None,
) -> bytes:
    """One uncompressed record: HTTP ``head`` + ``body`` is its block; ``payload``, a payload
    digest given rather than computed (a revisit names the earlier capture's)."""
    block = hashlib.sha1(head)
    block.update(body)
    lines = [f"WARC/{WARC_VERSION}", f"WARC-Type: {kind}"]
    lines += [f"{name}: {value}" for name, value in fields]
    lines += [
        f"WARC-Payload-Digest: {payload or sha1_digest(body)}",
        f"WARC-Block-Digest: sha1:{base32_of_sha1(block.digest())}",
        f"Content-Type: {_HTTP_TYPES[kind]}",
        f"Content-Length: {len(head) + len(body)}",
    ]
    header = ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")
    return b"".join((header, head, body, b"\r\n\r\n"))


def _status(head: bytes) -> int | None:
    """The status code of an HTTP response head (``HTTP/1.1 304 Not Modified``)."""
    parts = head.split(b" ", 2)
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None


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
