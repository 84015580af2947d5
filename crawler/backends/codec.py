"""Plain-data encodings shared by the durable backends (Redis, SQLite).

A queued request is stored as ``fingerprint (16 bytes) + JSON``: the fingerprint prefix lets a
Lua script or a SQL statement key leases and records without parsing JSON.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from crawler.base import Request
from crawler.config import CrawlConfig
from crawler.links.urls import FINGERPRINT_BYTES, fingerprint
from crawler.record import EncodedRecord, Record

# The options that decide *which* pages belong to a crawl. Workers joining one crawl must agree
# on them, or the crawl's result would depend on which worker happened to fetch a page.
SCOPE_OPTIONS = (
    "depth",
    "max_pages",
    "max_pages_per_host",
    "same_domain",
    "allow_domains",
    "exclude",
    "follow_nofollow",
    "max_redirects",
    "robots",
    "accept",
    "sitemap_since",
)


def encode_request(request: Request) -> bytes:
    """``fingerprint + JSON`` of a request."""
    fields = [request.url, request.depth, request.parent, request.seed_host, list(request.chain)]
    if request.via is not None or request.parse_as:
        # Optional trailing fields (sitemaps): absent, the encoding is the one before them.
        fields += [request.via, request.parse_as]
    body = json.dumps(fields, separators=(",", ":"))
    return fingerprint(request.url) + body.encode()


def decode_request(item: bytes) -> Request:
    """The request stored by ``encode_request`` (or by a version without the trailing fields)."""
    url, depth, parent, seed_host, chain, *sitemap = json.loads(item[FINGERPRINT_BYTES:])
    return Request(url, depth, parent, seed_host, tuple(chain), *sitemap)


def record_key(record: Record | EncodedRecord) -> bytes:
    """The key a record is stored under: its URL's fingerprint (the lease's key too).

    A seed that is not a URL at all (an ``invalid_url`` record) is keyed by its raw text, so the
    same bad line read by several workers is stored once.
    """
    if record.error != "invalid_url":
        try:
            return fingerprint(record.url)
        except ValueError:  # pragma: no cover - every fetched URL is in normal form
            pass
    raw = f"invalid\0{record.url}\0{record.detail}".encode()
    return hashlib.blake2b(raw, digest_size=FINGERPRINT_BYTES).digest()


def encode_record(record: Record | EncodedRecord) -> bytes:
    """A record's JSON (``Record.to_json``, the JSON Lines line); an encoded record's as it
    came from the child process that encoded it, without decoding it."""
    return record.json if isinstance(record, EncodedRecord) else record.to_json()


def decode_record(data: bytes | str) -> Record:
    """The record stored by ``encode_record``."""
    return Record.from_dict(json.loads(data))


def scope_of(config: CrawlConfig) -> dict[str, Any]:
    """The scope options of ``config`` as JSON-ready data (tuples as lists)."""
    scope = {}
    for name in SCOPE_OPTIONS:
        value = getattr(config, name, None)
        scope[name] = list(value) if isinstance(value, tuple) else value
    return scope


def scope_mismatch(stored: dict[str, Any], mine: dict[str, Any]) -> str | None:
    """One line naming the first scope option that differs, or None when they agree."""
    for name in SCOPE_OPTIONS:
        theirs, ours = stored.get(name), mine.get(name)
        if theirs == ours:
            continue
        if name == "robots":
            said = {True: "obeyed", False: "ignored (--ignore-robots)", None: "unset"}
            return f"robots.txt is {said[theirs]} in this crawl but {said[ours]} here"
        if name == "same_domain":
            said = {True: "--same-domain", False: "--any-domain", None: "unset"}
            return f"this crawl uses {said[theirs]} but this worker {said[ours]}"
        flag = "--" + name.replace("_", "-")
        return f"{flag} is {theirs!r} in this crawl but {ours!r} here"
    return None
