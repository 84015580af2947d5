"""Link and title extraction: the hot path, so no BeautifulSoup tree here.

Most pages are read by a scanner in C (``crawler/links/_hrefs.c``): the HTML Standard's
tokenizer as far as links need it, without a tree, for a fraction of the CPU of a parse
(docs/performance.md). A page it declines (foreign content beyond SVG drawings and MathML
formulas, a link the tree builder would move out of a table...) is parsed by lexbor (through
``selectolax``), a C implementation of the Standard's parser, as is every page where the
scanner is not built (no C compiler at install). Both find the same links:
``tests/test_link_scanner.py`` holds the scanner to lexbor, ``tests/test_same_links.py`` both
to the original lxml extraction, but for one standard fix: links inside ``<template>`` are
inert content, not part of the page, and are not followed. A soup is built only when a scraper
callback asks for one.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from itertools import repeat
from operator import attrgetter
from typing import Any

from selectolax.lexbor import LexborHTMLParser, SelectolaxError

from crawler.links.charset import charset_of, sniff
from crawler.links.heap import keep_freed_memory
from crawler.links.refs import unescape

try:
    from crawler.links._hrefs import scan
except ImportError:  # installed without a C compiler: every page goes to lexbor
    scan = None

__all__ = ["Extracted", "charset_of", "extract", "parse_document", "parsed"]

# lexbor allocates and frees a few hundred KB per document: without this, glibc returns it to the
# kernel after every page and faults it back in for the next (crawler/links/heap.py).
keep_freed_memory()

_ATTRIBUTES = attrgetter("attributes")


@dataclass(slots=True)
class Extracted:
    """What the crawl needs from one HTML page."""

    title: str | None = None
    base: str | None = None
    links: list[str] = field(default_factory=list)


def parse_document(body: bytes | str) -> LexborHTMLParser | None:
    """The parsed document (``bytes`` are read as UTF-8, bad sequences as U+FFFD); None for an
    empty or unparsable one. Never raises."""
    if not body or body.isspace():  # no copy of the body, as strip() would make
        return None
    try:
        return LexborHTMLParser(body)
    except (SelectolaxError, ValueError, MemoryError):
        return None


def extract(
    body: bytes | str, encoding: str | None = None, *, follow_nofollow: bool = False
) -> Extracted:
    """Title, ``<base href>`` and ``<a href>`` values of an HTML body (hrefs unresolved).

    ``body`` as bytes is decoded with ``encoding`` (default: sniffed from ``<meta>`` and the
    bytes, ``links.charset``), bad bytes as U+FFFD; UTF-8 goes to the parser as it is.
    """
    if isinstance(body, bytes):
        encoding = encoding or sniff(body, None)
        if encoding not in ("utf-8", "utf_8"):
            # A codec that is not a text encoding (hex, rot13...): the bytes are read as UTF-8.
            with contextlib.suppress(LookupError):
                body = body.decode(encoding, "replace")
    if scan is not None:
        scanned = _scanned(body, follow_nofollow)
        if scanned is not None:
            return scanned
    return parsed(body, follow_nofollow=follow_nofollow)


def _scanned(body: bytes | str, follow_nofollow: bool) -> Extracted | None:
    """What the C scanner finds in ``body``; None when the page needs the full parser."""
    try:
        data = body.encode() if isinstance(body, str) else body
    except UnicodeEncodeError:  # a lone surrogate in text handed in: lexbor's to take
        return None
    if b"\r" in data:  # the Standard's input stream: CR LF and CR are LF
        data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    found = scan(data, not follow_nofollow)  # type: ignore[misc]
    if found is None:
        return None
    title, base, links, rels, references = found
    if references:  # the scanner leaves character references to this side
        links = [unescape(link, attribute=True) for link in links]
        if rels is not None:
            rels = [rel if rel is None else unescape(rel, attribute=True) for rel in rels]
        if base:
            base = unescape(base, attribute=True)
    if rels is not None:
        links = [link for link, rel in zip(links, rels, strict=True) if _followed(rel)]
    if title is not None:
        title = " ".join(unescape(title).split())[:500] or None
    return Extracted(title, (base or "").strip() or None, links)


def _followed(rel: str | None) -> bool:
    """Whether a link with this ``rel`` (None: none) is followed: not ``rel="nofollow"``."""
    return rel is None or "nofollow" not in rel.lower().split()


def parsed(body: bytes | str, *, follow_nofollow: bool = False) -> Extracted:
    """``extract`` by lexbor's parse and its tree, for any page (``body`` as for
    ``parse_document``)."""
    out = Extracted()
    tree = parse_document(body)
    if tree is None:
        return out
    # Every <a>'s attributes as a dict, then two lookups per dict, all in C loops: a Python
    # loop over the nodes cost more than the selector itself. ``tags`` walks the tree without
    # the CSS engine and yields <a> in every namespace (SVG's too), in document order, as
    # ``css("a[href]")`` did. A valueless ``<a href>`` reads as None, and is no link.
    anchors = list(map(_ATTRIBUTES, tree.tags("a")))
    hrefs = map(dict.get, anchors, repeat("href"))
    if follow_nofollow or not any(map(dict.get, anchors, repeat("rel"))):
        out.links = [href for href in hrefs if href is not None]
    else:
        out.links = [
            href
            for href, rel in zip(hrefs, map(dict.get, anchors, repeat("rel")), strict=True)
            if href is not None and _followed(rel)
        ]
    # The first <title> is the document's (as in browsers), and the first <base href>.
    title, base = _in_head(tree)
    if title is None:
        title = tree.css_first("title")
    if base is None:
        base = next((a for a in map(_ATTRIBUTES, tree.tags("base")) if "href" in a), None)
    if title is not None:
        out.title = " ".join(title.text(deep=True).split())[:500] or None
    if base is not None:  # a valueless href too: the base is then the page itself
        out.base = (base["href"] or "").strip() or None
    return out


def _in_head(tree: LexborHTMLParser) -> tuple[Any, dict[str, str | None] | None]:
    """The first ``<title>`` and the attributes of the first ``<base href>`` among the
    children of ``<head>`` (None for those it lacks).

    Where either appears before ``<body>``, the parser puts it in ``<head>`` (the HTML
    Standard's "in head" rules, after ``</head>`` too), always as a child of it, and nothing
    precedes ``<head>`` in the tree: one found there is the document's first. So a page reads
    its head's few children instead of walking its whole tree twice (a CSS query and a tag
    search); a page without them there is searched as before.
    """
    title = base = None
    head = tree.head
    if head is None:
        return None, None
    for node in head.iter():
        tag = node.tag
        if tag == "title":
            if title is None:
                title = node
        elif tag == "base" and base is None and "href" in (attributes := node.attributes):
            base = attributes
    return title, base
