"""Re-validating what a shared backend hands back: a queued item is data from outside this
process (anyone who can write the crawl's Redis keys wrote it), so it is checked again before a
worker fetches it, by the same rules the crawl applies when it schedules a URL.

What is checked: the item decodes to a request of the right shape (the ``--sitemaps`` fields,
if present, among the values the crawl writes); its URL is an http(s) URL in normal form whose
fingerprint is the item's key; its ``seed_host`` is a plain host name (or empty); its depth is
within ``--depth``; a seed (depth 0, not a redirect hop, not from a sitemap) is on its own seed
host, and anything else (a sitemap's URLs too) is inside the crawl's scope (``--same-domain``,
``--allow-domain``, ``--exclude``) of its seed host. What cannot be checked: whether a seed
was really given by a worker of the crawl. Write access to the crawl's keys is the right to add
seeds.
"""

from __future__ import annotations

import json
import re
from typing import Any

from crawler.base import Request
from crawler.config import CrawlConfig
from crawler.errors import InvalidURL
from crawler.links.scope import Scope
from crawler.links.urls import FINGERPRINT_BYTES, fingerprint, host_of, normalize

MAX_URL_CHARS = 64 * 1024  # no page of ours makes a URL this long; a forged item may
# The (via, parse_as) pairs --sitemaps writes: pages and sitemaps from a sitemap, sitemaps
# from robots.txt, and the reading of robots.txt itself.
_SITEMAP_FIELDS = [
    [],
    ["sitemap", ""],
    ["sitemap", "sitemap"],
    ["robots", "sitemap"],
    ["robots", "robots"],
]
_HOST = re.compile(r"[a-z0-9._-]{1,253}|\[?[0-9a-f:.]{2,45}\]?")


class Rejected(ValueError):
    """A queued item that fails re-validation; the message says why (one line)."""


class RequestChecker:
    """Checks a queued item against one crawl's rules: ``check`` decodes ``fingerprint + JSON``
    (``codec.encode_request``), ``check_fields`` takes one already split (the Redis backend's
    compact items, ``redis/items.py``); both return the request or raise ``Rejected``."""

    def __init__(self, config: CrawlConfig) -> None:
        self.scope = Scope(config)
        self.max_depth = config.depth

    def check(self, item: bytes) -> Request:
        """The request ``item`` encodes, if the crawl could have scheduled it."""
        try:
            url, depth, parent, seed_host, chain, *sitemap = json.loads(item[FINGERPRINT_BYTES:])
        except (ValueError, TypeError) as exc:
            raise Rejected(f"not a queued request ({exc})") from None
        # The optional trailing fields of --sitemaps (codec.encode_request): both or neither.
        # (compared with ==: hostile JSON may hold lists, which no set lookup can hash)
        if sitemap not in _SITEMAP_FIELDS:
            raise Rejected("the sitemap fields are not ones the crawl writes")
        via, parse_as = sitemap or (None, "")
        fields = (url, depth, parent, seed_host, chain, via, parse_as)
        return self.check_fields(item[:FINGERPRINT_BYTES], *fields)

    def check_fields(
        self,
        key: bytes,
        url: Any,
        depth: Any,
        parent: Any,
        seed_host: Any,
        chain: Any,
        via: Any = None,
        parse_as: Any = "",
    ) -> Request:
        """The request of an item already split into its fields (any values: they come from
        outside), under fingerprint ``key``, if the crawl could have scheduled it."""
        if (via, parse_as) != (None, "") and [via, parse_as] not in _SITEMAP_FIELDS:
            raise Rejected("the sitemap fields are not ones the crawl writes")
        if not isinstance(url, str) or len(url) > MAX_URL_CHARS:
            raise Rejected("the URL is not a string of a sane length")
        if type(depth) is not int or not 0 <= depth <= self.max_depth:
            raise Rejected(f"depth {depth!r} is outside 0..{self.max_depth} (--depth)")
        if parent is not None and not isinstance(parent, str):
            raise Rejected("the parent is not a URL")
        if not isinstance(chain, list) or not all(isinstance(hop, str) for hop in chain):
            raise Rejected("the redirect chain is not a list of URLs")
        # "" is a request built without one (``Request(url)``): nothing is in scope under it.
        if not isinstance(seed_host, str) or (seed_host and not _HOST.fullmatch(seed_host)):
            raise Rejected(f"seed host {str(seed_host)[:100]!r} is not a host name")
        try:
            normal = normalize(url)
        except InvalidURL as exc:
            raise Rejected(str(exc)) from None
        if fingerprint(normal) != key:
            raise Rejected("the URL does not match the item's fingerprint")
        if depth == 0 and not chain and via is None:
            if seed_host not in ("", host_of(normal)):
                raise Rejected(f"a seed on {host_of(normal)!r} claims seed host {seed_host!r}")
        elif not self.scope.allows(normal, seed_host):
            raise Rejected(f"outside the crawl's scope from seed host {seed_host!r}")
        return Request(normal, depth, parent, seed_host, tuple(chain), via, parse_as)
