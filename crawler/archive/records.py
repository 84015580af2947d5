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
import os
import random
from collections.abc import Mapping
from typing import Any

from crawler.archive.compress import gzip_member
from crawler.archive.digest import base32_of_sha1

WARC_VERSION = "1.1"
_HTTP_TYPES = {
    "response": "application/http; msgtype=response",
    "revisit": "application/http; msgtype=response",
    "request": "application/http; msgtype=request",
}


def exchange_records(
    exchange: Any,
    *,
    gzip: bool,
    revisit_of: str | None = None,
    payload_digest: str | None = None,
) -> bytes:
    """The ``response`` record of ``exchange`` (a ``crawler.http.capture.Exchange``), then its
    ``request`` record pointing at it with ``WARC-Concurrent-To``; with ``gzip`` each is a gzip
    member of its own, so a reader can start at any record.

    ``revisit_of``: the payload digest of the URL's earlier capture, when the request was
    conditional; a 304 answer is then a ``revisit`` record (server-not-modified profile).
    ``payload_digest``: ``sha1_digest(exchange.body)`` when the caller has it already."""
    # The fields both records share, as header lines (formatted once for the two).
    common = f"WARC-Date: {exchange.date}\r\nWARC-Target-URI: {_field(exchange.url)}\r\n"
    if exchange.peer_ip:
        common += f"WARC-IP-Address: {exchange.peer_ip}\r\n"
    response_id = _record_id()
    fields = f"WARC-Record-ID: {response_id}\r\n{common}"
    if exchange.truncated:
        fields += f"WARC-Truncated: {exchange.truncated}\r\n"
    if revisit_of is not None and _status(exchange.response_head) == 304:
        fields += (
            f"WARC-Profile: {REVISIT_PROFILE}\r\n"
            f"WARC-Refers-To-Target-URI: {_field(exchange.url)}\r\n"
        )
        response = _record("revisit", fields, exchange.response_head, b"", payload=revisit_of)
    else:
        response = _record(
            "response", fields, exchange.response_head, exchange.body, payload=payload_digest
        )
    fields = f"WARC-Record-ID: {_record_id()}\r\n{common}WARC-Concurrent-To: {response_id}\r\n"
    # (A request record's own payload is empty: its block is the request line and headers.)
    request = _record("request", fields, exchange.request, b"", payload=_EMPTY_DIGEST)
    if not gzip:
        return response + request
    return gzip_member(response) + gzip_member(request)


def warcinfo_record(filename: str, info: Mapping[str, str], date: str, *, gzip: bool) -> bytes:
    """The ``warcinfo`` record that starts each file: ``info`` as ``name: value`` lines
    (``application/warc-fields``; empty values left out), as warcio writes it."""
    block = "".join(f"{name}: {value}\r\n" for name, value in info.items() if value).encode()
    lines = [
        f"WARC/{WARC_VERSION}",
        "WARC-Type: warcinfo",
        f"WARC-Record-ID: {_record_id()}",
        f"WARC-Filename: {_field(filename)}",
        f"WARC-Date: {date}",
        f"WARC-Block-Digest: {sha1_digest(block)}",
        "Content-Type: application/warc-fields",
        f"Content-Length: {len(block)}",
    ]
    record = ("\r\n".join(lines) + "\r\n\r\n").encode() + block + b"\r\n\r\n"
    return gzip_member(record) if gzip else record


# A 304 to a conditional request (a re-crawl) is a revisit of the earlier capture (WARC 1.1
# section 6.7.2): the 304's head is the block, and the payload digest is the earlier payload's.
REVISIT_PROFILE = "http://netpreserve.org/warc/1.1/revisit/server-not-modified"


def sha1_digest(data: bytes) -> str:
    """``sha1:`` and the base32 SHA-1 of ``data``: how WARC digests are written."""
    return "sha1:" + base32_of_sha1(hashlib.sha1(data).digest())


# The payload digest of every request record (a GET has no body), computed once.
_EMPTY_DIGEST = sha1_digest(b"")


def _record(kind: str, fields: str, head: bytes, body: bytes, *, payload: str | None) -> bytes:
    """One uncompressed record: HTTP ``head`` + ``body`` is its block; ``fields``, its own
    header lines (``Name: value`` and CRLF each), in warcio's order; ``payload``, a payload digest
    given rather than computed (a revisit names the earlier capture's; a request's is of no
    bytes; a response's may be the record's own ``digest``, of the same bytes). One format
    string: building the header from a list of lines cost more than its digest."""
    block = hashlib.sha1(head)
    block.update(body)
    header = (
        f"WARC/{WARC_VERSION}\r\nWARC-Type: {kind}\r\n{fields}"
        f"WARC-Payload-Digest: {payload or sha1_digest(body)}\r\n"
        f"WARC-Block-Digest: sha1:{base32_of_sha1(block.digest())}\r\n"
        f"Content-Type: {_HTTP_TYPES[kind]}\r\n"
        f"Content-Length: {len(head) + len(body)}\r\n\r\n"
    )
    return b"".join((header.encode(), head, body, b"\r\n\r\n"))


def _status(head: bytes) -> int | None:
    """The status code of an HTTP response head (``HTTP/1.1 304 Not Modified``)."""
    parts = head.split(b" ", 2)
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None


def _record_id() -> str:
    """A random (version 4) UUID URN, as ``uuid.uuid4`` makes, from a seeded generator: two a
    page, and ``uuid.uuid4`` (a ``UUID`` built from ``os.urandom``, a system call) cost more
    than the rest of the record's header. Record IDs must be unique, not secret."""
    n = _getrandbits(128) & _UUID4_CLEAR | _UUID4_SET
    h = f"{n:032x}"
    return f"<urn:uuid:{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}>"


# A generator of its own, seeded by the OS (a program's ``random.seed(0)`` must not make two
# crawls' record IDs alike), and again in a forked child (else it would repeat its parent's).
_random = random.Random()
_getrandbits = _random.getrandbits
os.register_at_fork(after_in_child=_random.seed)
# The version (4) and variant (RFC 4122) bits of a UUID4, as a mask and the bits to set.
_UUID4_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
_UUID4_SET = (0x4000 << 64) | (0x8000 << 48)


def _field(value: str) -> str:
    """A header value on one line (a URL in normal form has no CR, LF or space already)."""
    return value.replace("\r", "%0D").replace("\n", "%0A").replace(" ", "%20")
