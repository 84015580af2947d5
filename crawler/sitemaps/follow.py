"""From a read sitemap to the crawl's requests: discovery per seed origin, and the URLs a
sitemap lists turned into depth-0 requests within the crawl's scope.

A sitemap never widens a crawl: a URL outside its seed host's scope is dropped and counted,
like a link would be. Deduplication is the visited set's, as for links.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import NamedTuple
from urllib.parse import urlsplit

from crawler.base import Request
from crawler.links.scope import Scope
from crawler.links.urls import resolve
from crawler.sitemaps.parse import Entry

# The fallback when robots.txt names no sitemap.
DEFAULT_SITEMAP = "/sitemap.xml"


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of a normal-form URL (which carries no userinfo)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def discovery_requests(seeds: Iterable[Request]) -> list[Request]:
    """One request per seed origin that reads its robots.txt for ``Sitemap:`` lines (through
    the crawl's robots cache, so robots.txt is still fetched once per origin)."""
    by_origin: dict[str, Request] = {}
    for seed in seeds:
        origin = origin_of(seed.url)
        if origin not in by_origin:
            url = origin + "/robots.txt"
            by_origin[origin] = Request(
                url, 0, None, seed.seed_host, via="robots", parse_as="robots"
            )
    return list(by_origin.values())


def robots_sitemaps(request: Request, named: list[str], scope: Scope) -> Followed:
    """The sitemap requests for the ``Sitemap:`` URLs ``named`` in ``request``'s robots.txt,
    or for ``/sitemap.xml`` when it names none."""
    if not named:
        named = [origin_of(request.url) + DEFAULT_SITEMAP]
    return follow(request, [Entry(url, None, True) for url in named], scope, None)


class Followed(NamedTuple):
    """A sitemap's entries as requests, and how many entries were dropped and why."""

    requests: list[Request]
    out_of_scope: int = 0
    too_old: int = 0
    unusable: int = 0


def follow(
    request: Request, entries: Iterable[Entry], scope: Scope, since: datetime | None
) -> Followed:
    """Depth-0 requests for ``entries`` read from ``request`` (a sitemap or robots.txt): pages
    are ``via="sitemap"``, sitemaps named by an index are read as sitemaps too. With ``since``,
    a page without a ``lastmod`` at or after it is dropped (sitemaps of an index are always
    read: their own dates say nothing reliable about the pages they list)."""
    requests: list[Request] = []
    out_of_scope = too_old = unusable = 0
    seed_host = request.seed_host
    # A sitemap named by robots.txt came "via" robots; one named by an index, via a sitemap.
    sitemap_via = "robots" if request.parse_as == "robots" else "sitemap"
    for entry in entries:
        url = resolve(request.url, entry.url)
        if url is None:
            unusable += 1
        elif not scope.allows(url, seed_host):
            out_of_scope += 1
        elif entry.sitemap:
            requests.append(
                Request(url, 0, request.url, seed_host, via=sitemap_via, parse_as="sitemap")
            )
        elif since is not None and (entry.lastmod is None or entry.lastmod < since):
            too_old += 1
        else:
            requests.append(Request(url, 0, request.url, seed_host, via="sitemap"))
    return Followed(requests, out_of_scope, too_old, unusable)


def summary(followed: Followed) -> str | None:
    """One line saying what was dropped, or None when nothing was."""
    parts = []
    if followed.out_of_scope:
        parts.append(f"{followed.out_of_scope} outside the crawl's scope")
    if followed.too_old:
        parts.append(f"{followed.too_old} older than --sitemap-since or undated")
    if followed.unusable:
        parts.append(f"{followed.unusable} not crawlable URLs")
    return "dropped " + ", ".join(parts) if parts else None
