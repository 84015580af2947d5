"""What a worker attaches to a record for the archive sinks, and the record's ``digest``."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from crawler.base import Response
    from crawler.config import CrawlConfig


class ArchivePayload(NamedTuple):
    """The page data behind a record (``Record.archive``). Plain data, so it crosses a process
    boundary with the record (``EncodedRecord.archive`` in processes mode)."""

    # The fetch's WARC records, serialised (``crawler.archive.records.exchange_records``), with
    # --warc and a response.
    warc: bytes | None = None
    # The decoded body of a 2xx page without error, with --save-dir.
    body: bytes | None = None


def body_digest(body: bytes) -> str:
    """SHA-1 of ``body`` in base32, as WARC payload digests are written: ``sha1:`` + 32 chars."""
    return "sha1:" + base32_of_sha1(hashlib.sha1(body).digest())


_PAIRS = [
    a + b for a in "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567" for b in "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
]


def base32_of_sha1(digest: bytes) -> str:
    """``base64.b32encode`` of a 20-byte digest (160 bits: 32 characters, no padding), ten bits
    at a time: half the cost of the general, pure-Python one, paid on every record."""
    n = int.from_bytes(digest, "big")
    return "".join([_PAIRS[(n >> shift) & 1023] for shift in range(150, -10, -10)])


def payload_for(config: CrawlConfig, response: Response) -> ArchivePayload | None:
    """What the archive sinks of ``config`` need of ``response``; None when they need nothing."""
    warc = None
    if config.warc and response.exchanges:
        from crawler.archive.records import exchange_records
        from crawler.archive.warc import gzipped

        gzip = gzipped(config.warc)
        warc = b"".join(exchange_records(exchange, gzip=gzip) for exchange in response.exchanges)
    body = None
    if config.save_dir and response.error is None and 200 <= (response.status or 0) < 300:
        body = response.body
    if warc is None and body is None:
        return None
    return ArchivePayload(warc, body)
