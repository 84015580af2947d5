"""Link and title extraction with lxml: the hot path, so no BeautifulSoup tree here.

Measured per ~11 KB page: lxml + xpath ~0.09 ms, BeautifulSoup + find_all ~1.5 ms. A soup is
built only when a scraper callback asks for one. The parser is ``etree.HTMLParser``, not
``lxml.html``'s: the same tree, without a Python class lookup per element (~0.3 µs each, a
tenth of the parse of a 100 KB page), and without an ``id`` index nobody reads.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass, field
from functools import lru_cache

from lxml import etree


@dataclass(slots=True)
class Extracted:
    """What the crawl needs from one HTML page."""

    title: str | None = None
    base: str | None = None
    links: list[str] = field(default_factory=list)


@lru_cache(maxsize=32)
def _parser(encoding: str | None) -> etree.HTMLParser:
    return etree.HTMLParser(encoding=encoding, recover=True, no_network=True, collect_ids=False)


def charset_of(content_type_header: str | None) -> str | None:
    """The charset parameter of a Content-Type header, if it names a codec Python knows."""
    if not content_type_header:
        return None
    for param in content_type_header.split(";")[1:]:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            value = value.strip().strip("\"'")
            try:
                return codecs.lookup(value).name
            except LookupError:
                return None
    return None


def parse_document(body: bytes, encoding: str | None = None) -> etree._Element | None:
    """An lxml tree of ``body``; None for an empty or unparsable document. Never raises."""
    if not body.strip():
        return None
    try:
        return etree.fromstring(body, _parser(encoding)) if body else None
    except (etree.ParserError, etree.XMLSyntaxError, ValueError, LookupError):
        return None


def extract(
    body: bytes, encoding: str | None = None, *, follow_nofollow: bool = False
) -> Extracted:
    """Title, ``<base href>`` and ``<a href>`` values of an HTML body (hrefs unresolved)."""
    root = parse_document(body, encoding)
    out = Extracted()
    if root is None:
        return out
    # One pass over the three tags we need: cheaper than three XPath searches of the tree.
    links = out.links
    title = base = None
    for el in root.iter("a", "title", "base"):
        tag = el.tag
        if tag == "a":
            href = el.get("href")
            if href is not None:
                rel = el.get("rel")
                if follow_nofollow or rel is None or "nofollow" not in rel.lower().split():
                    links.append(href)
        elif tag == "title":
            if title is None:  # the first <title> is the document's (as in browsers)
                title = "".join(el.itertext())
        elif base is None:
            base = el.get("href")
    if title:
        out.title = " ".join(title.split())[:500] or None
    if base:
        out.base = base.strip() or None
    return out
