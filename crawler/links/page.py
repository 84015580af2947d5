"""One HTML page's links, from its bytes: decode, extract, resolve against the page's base.

The worker's link step without the crawl around it (scope, depth, claiming), so that tests can
hold it against the reference implementation on any corpus.
"""

from __future__ import annotations

from dataclasses import dataclass

from crawler.links.charset import to_utf8
from crawler.links.extract import extract
from crawler.links.urls import PageBase


@dataclass(slots=True)
class PageLinks:
    """What a page links to: ``links`` in normal form, first-seen order, no repeats."""

    title: str | None
    base: str  # the URL the page's links resolve against (its <base href>, or its own URL)
    links: list[str]
    dropped: int  # distinct hrefs left out for being longer than the URL length limit
    encoding: str  # what the body was decoded as


def page_links(
    url: str, body: bytes, content_type: str | None, *, follow_nofollow: bool = False
) -> PageLinks:
    """Title and resolved links of the HTML ``body`` fetched from ``url`` (normal form)."""
    utf8, encoding = to_utf8(body, content_type)
    page = extract(utf8, "utf-8", follow_nofollow=follow_nofollow)
    base = PageBase(url)
    if page.base:
        base = PageBase(base.resolve(page.base) or url)
    links, dropped = base.resolve_all(page.links)
    return PageLinks(page.title, base.url, links, dropped, encoding)
