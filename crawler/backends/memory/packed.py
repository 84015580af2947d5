"""Queued requests as one ``bytes`` each (kept in ``host_queue.py``): what a million queued URLs
cost.

A ``Request`` in a heap costs ~350 bytes beyond its URL (the named tuple, the heap's tuple, a
sequence number, a seed-host string of its own); packed, a queued seed costs its URL's bytes
plus ~45 (one ``bytes`` object and its list slot). The depth is not packed: a host's queue
keeps one run per depth (``HostQueue``), which is also what makes it breadth-first without a
heap.

Packing: the URL and the parent without the host's usual ``scheme://host:port``
(``HostQueue.prefix``: a URL in normal form never starts with ``/``, so a packed one that does
lacks it), then the fields
joined by NUL, UTF-8 (``surrogatepass``: any ``str`` survives).
``url, parent, seed_host`` and, only when one is set, ``via, parse_as, *chain``; a parent or a
via of None is ``\\x01``, and so is a seed host equal to the URL's own host (every seed's, and
every link's on the seed's host). Normal-form URLs hold no control characters; a request whose
fields do anyway is packed as ``\\x02`` + JSON.
"""

from __future__ import annotations

import json

from crawler.base import Request

_SEP = "\x00"
_NONE = "\x01"
_JSON = b"\x02"


def origin_prefix(url: str) -> str:
    """``scheme://netloc`` of ``url``: what its host's queue leaves out of each packed URL."""
    start = url.find("//") + 2
    end = url.find("/", start)
    return url if end < 0 else url[:end]


def pack(request: Request, host: str, prefix: str = "") -> bytes:
    """``request`` (queued under ``host``) without its depth, as bytes; a URL starting with
    ``prefix`` and a ``/`` keeps only what follows the prefix."""
    markers = 0
    url, parent = request.url, request.parent
    if url[:1] == "/" or (parent or "")[:1] == "/":  # not normal form: "/" means a prefix
        return _json(request)
    url = _shorten(url, prefix)
    if parent is None:
        parent, markers = _NONE, markers + 1
    else:
        parent = _shorten(parent, prefix)
    seed = request.seed_host
    if seed == host:
        seed, markers = _NONE, markers + 1
    fields = [url, parent, seed]
    if request.via is not None or request.parse_as or request.chain:
        via = request.via
        if via is None:
            via, markers = _NONE, markers + 1
        fields += [via, request.parse_as, *request.chain]
    text = _SEP.join(fields)
    # A field holding a separator or a marker itself (no normal-form URL does) goes as JSON.
    if text.count(_SEP) != len(fields) - 1 or text.count(_NONE) != markers:
        return _json(request)
    return text.encode("utf-8", "surrogatepass")


def _shorten(url: str, prefix: str) -> str:
    if prefix and url.startswith(prefix) and url[len(prefix) : len(prefix) + 1] == "/":
        return url[len(prefix) :]
    return url


def _json(request: Request) -> bytes:
    return _JSON + json.dumps(list(request), separators=(",", ":")).encode()


def unpack(entry: bytes, depth: int, host: str, prefix: str = "") -> Request:
    """The request ``pack`` packed, at ``depth``, queued under ``host`` with ``prefix``."""
    if entry[:1] == _JSON:
        url, _depth, parent, seed, chain, via, parse_as = json.loads(entry[1:])
        return Request(url, depth, parent, seed, tuple(chain), via, parse_as)
    fields = entry.decode("utf-8", "surrogatepass").split(_SEP)
    url, parent, seed = fields[0], fields[1], fields[2]
    if url[:1] == "/":  # a URL never starts with one: the prefix was left out
        url = prefix + url
    if parent[:1] == "/":
        parent = prefix + parent
    request = Request(
        url, depth, None if parent == _NONE else parent, host if seed == _NONE else seed
    )
    if len(fields) > 3:
        via = fields[3]
        request = request._replace(
            via=None if via == _NONE else via, parse_as=fields[4], chain=tuple(fields[5:])
        )
    return request
