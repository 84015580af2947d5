"""The record's ``digest`` and the WARC digests: SHA-1 in base32, ``sha1:`` + 32 characters."""

from __future__ import annotations

import hashlib


def body_digest(body: bytes) -> str:
    """SHA-1 of ``body`` in base32, as WARC payload digests are written: ``sha1:`` + 32 chars."""
    return "sha1:" + base32_of_sha1(hashlib.sha1(body).digest())


_BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_PAIRS = [a + b for a in _BASE32 for b in _BASE32]


def base32_of_sha1(digest: bytes) -> str:
    """``base64.b32encode`` of a 20-byte digest (160 bits: 32 characters, no padding), ten bits
    at a time: half the cost of the general, pure-Python one, paid on every record."""
    n = int.from_bytes(digest, "big")
    return "".join([_PAIRS[(n >> shift) & 1023] for shift in range(150, -10, -10)])
