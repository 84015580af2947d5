"""Reading one sitemap as it streams: XML sitemaps and indexes, RSS and Atom feeds, text lists
(one URL a line), any of them gzipped. Sans-IO: bytes in, entries out.

Safety (a sitemap is hostile input):

* XML goes through lxml's pull parser with ``resolve_entities=False``, ``load_dtd=False``,
  ``no_network=True`` and ``huge_tree=False``; a document that has a DOCTYPE at all is refused
  (a sitemap never needs one), so neither a billion-laughs expansion nor an external entity is
  ever read.
* The decoded size is capped (``limit``, the crawl's ``--max-bytes``): gzip is inflated a
  bounded piece at a time, and past the cap reading stops with ``truncated`` set and the
  entries read so far kept.
* Memory stays flat: each entry element is cleared once read, with the siblings before it.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from crawler.sitemaps.dates import parse_date


def _etree() -> Any:
    """lxml's ``etree``, imported by the first XML sitemap read: most crawls read none, and
    every crawl process (the CLI, each processes-mode child) would pay for it at start-up."""
    from lxml import etree

    return etree


GZIP_MAGIC = b"\x1f\x8b"
# Decoded bytes handed to the parser at a time.
PIECE = 64 * 1024
# Root element (local name) -> the kind of document, and the element that holds one entry.
KINDS = {
    "urlset": "urlset",
    "sitemapindex": "sitemapindex",
    "rss": "rss",
    "RDF": "rss",
    "feed": "atom",
}
ENTRY_TAG = {"urlset": "url", "sitemapindex": "sitemap", "rss": "item", "atom": "entry"}


class Entry(NamedTuple):
    """One URL a sitemap lists, as written there (not yet resolved nor normalised)."""

    url: str
    lastmod: datetime | None = None
    # True for a sitemap named by a sitemap index (to be read as a sitemap, not crawled).
    sitemap: bool = False


@dataclass
class Sitemap:
    """What reading one sitemap gave: its entries, its kind (``urlset``, ``sitemapindex``,
    ``rss``, ``atom``, ``text``), and why reading stopped early if it did."""

    entries: list[Entry] = field(default_factory=list)
    kind: str | None = None
    # The decoded size reached the cap: the entries read before it are kept.
    truncated: bool = False
    # Why the document was refused or reading stopped (bad XML, a DOCTYPE, bad gzip), or None.
    error: str | None = None


REFUSED_DOCTYPE = "refused: the sitemap has a DOCTYPE (DTDs and entities are never read)"
_DOCTYPE = b"<!DOCTYPE"
_ELEMENT_START = re.compile(rb"<[A-Za-z_:]")


class Refused(Exception):
    """The document is not a sitemap we read (a DOCTYPE, an unknown root element)."""


def read_sitemap(chunks: Iterable[bytes], limit: int, *, complete: bool = True) -> Sitemap:
    """Read a sitemap from its body as fetched (``chunks``, gzip or not), decoding at most
    ``limit`` bytes; ``complete=False`` says the body itself was cut (the fetch's own cap), so
    its end is not an error. Never raises for bad input: it is reported in ``error``."""
    result = Sitemap(truncated=not complete)
    reader: _XmlReader | _TextReader | None = None
    size = 0
    try:
        for piece in _decoded(chunks, complete):
            capped = size + len(piece) > limit
            if capped:  # past the cap: read no further
                piece = piece[: limit - size]
                result.truncated = True
            size += len(piece)
            if reader is None:
                # The first byte that is not blank space decides the format.
                piece = piece.lstrip(b"\xef\xbb\xbf \t\r\n")
                if piece:
                    reader = _XmlReader() if piece[:1] == b"<" else _TextReader()
            if reader is not None:
                result.entries.extend(reader.feed(piece))
            if capped:
                break
        if reader is not None and not result.truncated:
            result.entries.extend(reader.close())
    except Refused as exc:
        result.error = str(exc)
    except _etree().XMLSyntaxError as exc:  # (evaluated only for an exception not caught above)
        result.error = f"not well-formed XML: {exc}"[:300]
    except zlib.error as exc:
        result.error = f"bad gzip data: {exc}"[:300]
    if reader is not None:
        result.kind = reader.kind
    return result


def _decoded(chunks: Iterable[bytes], complete: bool) -> Iterator[bytes]:
    """The body in pieces of at most ``PIECE`` bytes, gunzipped if it starts as gzip (a
    ``complete`` body must end where its gzip stream does)."""
    gzipped: bool | None = None
    inflater: Any = None  # the gzip member being read; None between members
    head = b""  # the first bytes, until there are enough to tell gzip
    for chunk in chunks:
        if gzipped is None:
            head += chunk
            if len(head) < len(GZIP_MAGIC):
                continue
            gzipped, chunk, head = head.startswith(GZIP_MAGIC), head, b""
        if not gzipped:
            for start in range(0, len(chunk), PIECE):
                yield chunk[start : start + PIECE]
            continue
        data = chunk
        while True:
            if inflater is None:  # concatenated gzip members are one stream
                if not data:
                    break
                inflater = zlib.decompressobj(wbits=31)
            # max_length bounds each piece, so a gzip bomb never inflates at once.
            out = inflater.decompress(data, PIECE)
            data = inflater.unconsumed_tail
            if inflater.eof:
                data = inflater.unused_data + data
                inflater = None
            if out:
                yield out
            if not data and len(out) < PIECE:  # a full piece may leave output pending
                break
    if head:  # a body shorter than the gzip magic
        yield head
    if inflater is not None and complete:
        raise zlib.error("the gzip stream ends early")


def _local(tag: Any) -> str | None:
    """An element's name without its namespace; None for comments, entities and the like."""
    return tag.rpartition("}")[2] if isinstance(tag, str) else None


class _XmlReader:
    """XML sitemaps, sitemap indexes, RSS and Atom, read with a pull parser."""

    def __init__(self) -> None:
        self.parser = _etree().XMLPullParser(
            events=("end",),
            resolve_entities=False,
            load_dtd=False,
            no_network=True,
            huge_tree=False,
        )
        self.kind: str | None = None
        self.entry_tag = ""
        # The bytes before the first element, until it is seen (the end of the last piece).
        self.prologue: bytes | None = b""

    def feed(self, data: bytes) -> list[Entry]:
        if self.prologue is not None:
            self._check_prologue(data)
        self.parser.feed(data)
        return self._read()

    def _check_prologue(self, data: bytes) -> None:
        """Refuse a DOCTYPE before lxml reads it (libxml2 would parse its entity declarations,
        even though it never expands them here): the prologue ends at the first element."""
        assert self.prologue is not None
        window = self.prologue[-len(_DOCTYPE) :] + data
        start = _ELEMENT_START.search(window)
        if _DOCTYPE in (window[: start.start()] if start else window):
            raise Refused(REFUSED_DOCTYPE)
        self.prologue = None if start else window

    def close(self) -> list[Entry]:
        self.parser.close()
        return self._read()

    def _read(self) -> list[Entry]:
        entries: list[Entry] = []
        for _, element in self.parser.read_events():
            if self.kind is None:
                self._check(element)
            if _local(element.tag) != self.entry_tag:
                continue
            entry = _ENTRY_READERS[self.kind](element)
            if entry is not None:
                entries.append(entry)
            # Flat memory: drop what was read (this entry and any siblings before it).
            element.clear()
            parent = element.getparent()
            while parent is not None and element.getprevious() is not None:
                del parent[0]
        return entries

    def _check(self, element: Any) -> None:
        """On the first element: refuse a DOCTYPE and roots that are not a sitemap or feed."""
        tree = element.getroottree()
        root = _local(tree.getroot().tag)
        if root not in KINDS:
            raise Refused(f"not a sitemap: the root element is <{root}>")
        if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
            raise Refused(REFUSED_DOCTYPE)
        self.kind = KINDS[root]
        self.entry_tag = ENTRY_TAG[self.kind]


def _child_texts(element: Any) -> dict[str, str]:
    """The text of each named child of ``element`` (first one wins), by local name."""
    texts: dict[str, str] = {}
    for child in element:
        name = _local(child.tag)
        if name and name not in texts and child.text:
            texts[name] = child.text.strip()
    return texts


def _sitemap_entry(element: Any, *, index: bool) -> Entry | None:
    texts = _child_texts(element)
    loc = texts.get("loc")
    return Entry(loc, parse_date(texts.get("lastmod")), index) if loc else None


def _rss_entry(element: Any) -> Entry | None:
    texts = _child_texts(element)
    # RSS 2.0 <link>text</link>; RSS 1.0 (RDF) items also name themselves in rdf:about.
    link = texts.get("link") or element.get("{http://www.w3.org/1999/02/22-rdf-syntax-ns#}about")
    when = texts.get("pubDate") or texts.get("date") or texts.get("updated")
    return Entry(link, parse_date(when)) if link else None


def _atom_entry(element: Any) -> Entry | None:
    texts = _child_texts(element)
    link = None
    for child in element:
        if _local(child.tag) == "link" and child.get("rel", "alternate") == "alternate":
            link = child.get("href")
            if link:
                break
    when = texts.get("updated") or texts.get("published")
    return Entry(link.strip(), parse_date(when)) if link else None


_ENTRY_READERS = {
    "urlset": lambda element: _sitemap_entry(element, index=False),
    "sitemapindex": lambda element: _sitemap_entry(element, index=True),
    "rss": _rss_entry,
    "atom": _atom_entry,
}


class _TextReader:
    """A text sitemap: one URL a line (other lines are ignored)."""

    kind = "text"

    def __init__(self) -> None:
        self.rest = b""

    def feed(self, data: bytes) -> list[Entry]:
        lines = (self.rest + data).split(b"\n")
        self.rest = lines.pop()  # a line cut by the piece boundary (or the cap) waits
        return self._entries(lines)

    def close(self) -> list[Entry]:
        lines, self.rest = [self.rest], b""
        return self._entries(lines)

    @staticmethod
    def _entries(lines: list[bytes]) -> list[Entry]:
        entries = []
        for line in lines:
            text = line.strip().decode("utf-8", "replace")
            if text.lower().startswith(("http://", "https://")):
                entries.append(Entry(text))
        return entries
