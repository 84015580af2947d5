"""The compact forms of the Redis backend: a queued item, and a URL's place in the seen set.

A queued item is ``fingerprint (16 bytes) + fields joined by NUL``: ``depth, url, parent,
seed host, via, parse_as, redirect hop...``. What repeats is left out: a parent on the URL's
own origin is kept as its path (``/a/b``), a seed host equal to the URL's host as ``""`` (a
request built without a seed host is ``"\\x01"``), ``via`` None as ``""``. The fingerprint
prefix lets the Lua scripts key leases and records without parsing anything.

The seen set is 65,536 Redis sets keyed by the fingerprint's first two bytes (hex), each member
the next eight bytes as a decimal integer: a set of small integers is an *intset* in Redis (a
sorted array of 8-byte integers, up to ``set-max-intset-entries``, 512 by default, so up to
~30 M URLs a crawl), about 14 bytes per URL where one set of 16-byte strings costs ~72. Two
URLs are taken for one only if 80 bits of their fingerprints agree.

``FORMAT`` names this layout; it is stored with the crawl's scope, and a worker refuses a crawl
written in another (``state.check_format``).
"""

from __future__ import annotations

from crawler.base import Request
from crawler.links.urls import FINGERPRINT_BYTES, fingerprint
from crawler.politeness.schedule import host_key

FORMAT = 2  # 1: the first release's (JSON items, one set of fingerprints); never stored
_NO_SEED = "\x01"
_FIELDS = 6  # depth, url, parent, seed host, via, parse_as; then the redirect hops


def _origin(url: str) -> str | None:
    """``scheme://netloc`` of a URL in normal form, or None."""
    start = url.find("//")
    if start < 0:
        return None
    end = url.find("/", start + 2)
    return url[:end] if end > 0 else None


def encode_item(request: Request) -> bytes:
    """The queued form of ``request``: fingerprint, then its fields."""
    url, parent, seed = request.url, request.parent, request.seed_host
    if parent is None:
        parent = ""
    else:
        origin = _origin(url)
        if origin is not None and parent.startswith(origin + "/"):
            parent = parent[len(origin) :]
    if seed == host_key(url):
        seed = ""
    elif not seed:
        seed = _NO_SEED
    fields = [str(request.depth), url, parent, seed, request.via or "", request.parse_as]
    body = "\0".join([*fields, *request.chain]).encode("utf-8", "surrogatepass")
    return fingerprint(url) + body


def decode_fields(item: bytes) -> tuple[str, int, str | None, str, list[str], str | None, str]:
    """``url, depth, parent, seed_host, chain, via, parse_as`` of a queued item, unchecked
    (``crawler/backends/checked.py`` checks them). Raises ``ValueError`` when ``item`` has not
    the shape of one."""
    parts = item[FINGERPRINT_BYTES:].decode("utf-8", "surrogatepass").split("\0")
    if len(item) < FINGERPRINT_BYTES or len(parts) < _FIELDS:
        raise ValueError("too few fields")
    depth, url, parent, seed, via, parse_as, *chain = parts
    if parent.startswith("/"):
        origin = _origin(url)
        if origin is None:
            raise ValueError("a parent path under a URL without an origin")
        parent = origin + parent
    if seed == "":
        try:
            seed = host_key(url)
        except Exception:  # noqa: BLE001 - hostile data: any failure is "not an item"
            raise ValueError(f"no host in {url[:100]!r}") from None
    elif seed == _NO_SEED:
        seed = ""
    return url, int(depth), parent or None, seed, chain, via or None, parse_as


def decode_item(item: bytes) -> Request:
    """The request of a queued item (one this crawl wrote: nothing is checked)."""
    url, depth, parent, seed, chain, via, parse_as = decode_fields(item)
    return Request(url, depth, parent, seed, tuple(chain), via, parse_as)


def seen_member(fp: bytes) -> str:
    """A URL's member in its seen-set shard (the shard is ``fp[:2].hex()``, a key suffix)."""
    return str(int.from_bytes(fp[2:10], "big", signed=True))
