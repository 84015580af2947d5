"""The requests a page leads to: built in C loops, and claimed in the visited set in one round
trip (the new ones are the page's children; a worker queues them, a processes child sends
them to its parent)."""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from itertools import repeat
from operator import attrgetter

from crawler.base import Request, Visited
from crawler.links.urls import fingerprint


def claim_new(visited: Visited, requests: Iterable[Request]) -> list[Request]:
    """Claim the requests' URLs in ``visited`` in one round trip; return the requests new to
    the crawl (the first one wins when several share a URL)."""
    requests = requests if isinstance(requests, list) else list(requests)
    if not requests:
        return []
    # Fingerprints from their cache in a C loop (a page's links were mostly seen before).
    urls = list(map(_URL, requests))
    keys = list(map(fingerprint.cache.get, urls))  # type: ignore[attr-defined]
    if None in keys:
        keys = [
            key if key is not None else fingerprint(url)
            for url, key in zip(urls, keys, strict=True)
        ]
    by_key = dict(zip(keys, requests, strict=True))  # keys in first-seen order
    if len(by_key) < len(keys):
        # A shared key (a batch's pages link the same URLs): the first request with it wins.
        # Built backwards, the first is the last written; still in C loops.
        first = dict(zip(reversed(keys), reversed(requests), strict=True))
        by_key = dict(zip(by_key, map(first.__getitem__, by_key), strict=True))
    return list(map(by_key.__getitem__, visited.claim_many(list(by_key))))


_URL = attrgetter("url")
# A link's request is (url, depth, parent, seed_host) and every other field at its default:
# built by ``tuple.__new__`` in a C loop (what ``Request._make`` does, without its frame).
_CHILD_FIELDS = ("url", "depth", "parent", "seed_host")
if Request._fields[: len(_CHILD_FIELDS)] != _CHILD_FIELDS:  # pragma: no cover - a guard
    raise TypeError(f"Request's first fields are not {_CHILD_FIELDS}")
_CHILD_DEFAULTS = tuple(Request._field_defaults[name] for name in Request._fields[4:])
_NEW_REQUEST = partial(tuple.__new__, Request)


def children_of(urls: list[str], depth: int, parent: str, seed_host: str) -> list[Request]:
    """A request for each of ``urls``, at ``depth``, found on ``parent`` under ``seed_host``."""
    fields = zip(
        urls, repeat(depth), repeat(parent), repeat(seed_host), *map(repeat, _CHILD_DEFAULTS)
    )
    return list(map(_NEW_REQUEST, fields))
