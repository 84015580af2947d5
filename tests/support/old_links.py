"""The link extraction and resolution of crawler 0.x before the CPU work (issue #14), frozen
(with main's later change that drops userinfo from the normal form):
the reference the new code is checked against (``tests/test_same_links.py``). Copied verbatim
from ``crawler/links/{charset,extract,urls}.py`` and ``Worker.links`` as they were; do not
"fix" anything here, the point is to keep the old behaviour to compare with.
"""

from __future__ import annotations

import codecs
import hashlib
import re
from dataclasses import dataclass, field
from functools import lru_cache
from posixpath import normpath
from urllib.parse import urljoin, urlsplit, urlunsplit

from charset_normalizer import from_bytes
from lxml import etree
from lxml import html as lxml_html
from w3lib.url import canonicalize_url, safe_url_string

from crawler.errors import InvalidURL

# --- crawler/links/extract.py ---


HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})


@dataclass(slots=True)
class Extracted:
    """What the crawl needs from one HTML page."""

    title: str | None = None
    base: str | None = None
    links: list[str] = field(default_factory=list)


@lru_cache(maxsize=32)
def _parser(encoding: str | None) -> etree.HTMLParser:
    return lxml_html.HTMLParser(encoding=encoding, recover=True, no_network=True)


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


# --- crawler/links/charset.py ---


_META_SCAN = 1024
_META_CHARSET = re.compile(
    rb"""<meta[^>]+?charset\s*=\s*["']?\s*([a-zA-Z0-9_.:-]+)""",
    re.IGNORECASE,
)
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def _known(name: str | None) -> str | None:
    if not name:
        return None
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def meta_charset(body: bytes) -> str | None:
    """The charset a ``<meta>`` tag near the top of ``body`` declares, if Python knows it."""
    match = _META_CHARSET.search(body, 0, _META_SCAN)
    return _known(match.group(1).decode("ascii")) if match else None


def sniff(body: bytes, content_type: str | None) -> str:
    """The encoding to decode ``body`` with (a Python codec name)."""
    for bom, name in _BOMS:
        if body.startswith(bom):
            return name
    declared = charset_of(content_type) or meta_charset(body)
    if declared:
        # A page labelled ISO-8859-1 or ASCII is windows-1252 in every browser.
        return "cp1252" if declared in ("iso8859-1", "ascii") else declared
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        guess = from_bytes(body[:65536]).best()
        return _known(guess.encoding if guess else None) or "cp1252"
    return "utf-8"


def to_utf8(body: bytes, content_type: str | None) -> tuple[bytes, str]:
    """``body`` re-encoded as UTF-8 (bad bytes as U+FFFD) and the encoding it was read as.

    Bytes, not text, go to lxml: it refuses text that carries an XML encoding declaration.
    """
    encoding = sniff(body, content_type)
    if encoding == "utf-8":
        try:
            body.decode("utf-8")
            return body, encoding  # valid already: no copy
        except UnicodeDecodeError:
            pass
    try:
        return body.decode(encoding, "replace").encode("utf-8"), encoding
    except LookupError:  # a codec that is not a text encoding (hex, rot13 ...)
        return body, "utf-8"


# --- crawler/links/urls.py ---


SCHEMES = ("http", "https")
_DEFAULT_PORTS = {"http": 80, "https": 443}
FINGERPRINT_BYTES = 16


def _resolve_dots(path: str) -> str:
    if not path:
        return "/"
    if "/." not in path:
        return path
    resolved = normpath(path)
    if resolved.startswith("//"):
        resolved = "/" + resolved.lstrip("/")
    if path.endswith(("/", "/.", "/..")) and resolved != "/":
        resolved += "/"
    return resolved


@lru_cache(maxsize=1 << 16)
def normalize(url: str) -> str:
    """The normal form of an absolute URL; raises ``InvalidURL`` for anything not crawlable."""
    text = url.strip()
    try:
        parts = urlsplit(text)
        scheme = parts.scheme.lower()
        if scheme not in SCHEMES:
            raise InvalidURL(f"not an http(s) URL: {text!r}")
        host = (parts.hostname or "").lower()
        if not host:
            raise InvalidURL(f"no host in URL: {text!r}")
        port = parts.port
    except ValueError as exc:
        raise InvalidURL(f"malformed URL {text!r}: {exc}") from None
    netloc = host if ":" not in host else f"[{host}]"
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        netloc = f"{netloc}:{port}"
    # No userinfo: a password must never reach a record, a queue or a log. A seed's credentials
    # are kept apart and sent to its origin only (crawler/http/credentials.py).
    path = _resolve_dots(parts.path)
    rebuilt = urlunsplit((scheme, netloc, path, parts.query, ""))
    try:
        return safe_url_string(rebuilt)
    except (ValueError, UnicodeError) as exc:
        raise InvalidURL(f"malformed URL {text!r}: {exc}") from None


@lru_cache(maxsize=1 << 16)
def canonical(url: str) -> str:
    """The canonical key of a normal-form URL (query sorted): equal keys mean the same page."""
    return canonicalize_url(url)


@lru_cache(maxsize=1 << 16)
def fingerprint(url: str) -> bytes:
    """A fixed-size fingerprint of ``url``'s canonical key, for visited sets."""
    return hashlib.blake2b(canonical(url).encode(), digest_size=FINGERPRINT_BYTES).digest()


def resolve(base: str, href: str) -> str | None:
    """The normal form of ``href`` found on a page at ``base``; None if it is not crawlable."""
    href = href.strip()
    if not href or href.startswith("#"):
        return None
    # Unless it is a bare query, a reference resolves the same against every page of one
    # directory: key the cache on that directory, so repeated links cost a lookup.
    return _join(base.partition("#")[0] if href[0] == "?" else _directory(base), href)


def _directory(url: str) -> str:
    """``url`` up to the last ``/`` of its path (query and fragment dropped)."""
    url = url.partition("#")[0].partition("?")[0]
    authority = url.find("//")
    slash = url.rfind("/")
    if authority < 0 or slash <= authority + 1 or url.find("/", authority + 2) < 0:
        return url + "/"  # no path: the same as the root directory
    return url[: slash + 1]


@lru_cache(maxsize=1 << 16)
def _join(base: str, href: str) -> str | None:
    try:
        return normalize(urljoin(base, href))
    except (InvalidURL, ValueError):
        return None


@lru_cache(maxsize=1 << 16)
def host_of(url: str) -> str:
    """Lower-case host of a normal-form URL (no port)."""
    return urlsplit(url).hostname or ""


# --- Worker.links, minus the scope and the record ---
def links(url: str, body: bytes, content_type: str | None, follow_nofollow: bool = False):
    """Title and resolved links (normal form, first-seen order, no repeats) of a page at ``url``,
    as crawler 0.x found them."""
    body, _encoding = to_utf8(body, content_type)
    page = extract(body, "utf-8", follow_nofollow=follow_nofollow)
    base = url
    if page.base:
        base = resolve(url, page.base) or url
    found = dict.fromkeys(u for href in page.links if (u := resolve(base, href)))
    return page.title, list(found)
