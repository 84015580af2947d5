"""URL normal forms, canonical keys and fingerprints.

Two forms, on purpose:

* the **normal form** is what we request and record: scheme and host lower-cased, default port,
  userinfo (``user:pass@``), fragment and empty query dropped, dot-segments resolved,
  percent-encoding made safe. The query keeps its order, because some servers care.
* the **canonical key** (``w3lib.url.canonicalize_url``: query sorted, encoding unified) decides
  whether two links are the same page. The visited set stores its 16-byte fingerprint, not the
  string, so memory per URL is fixed.

Link resolution is the hot path of a crawl (a 100 KB page carries ~300 links): ``PageBase``
splits a page's base once, resolves the common forms (a relative path, ``?query``, an absolute
path or URL on the page's own origin, made only of characters that need no escaping) by string
operations against it, and sends anything else through the full algorithm (``urljoin`` then
``normalize``). Results are cached per directory, and canonical keys and fingerprints per URL,
in caches bounded by bytes (``crawler/links/cache.py``). URLs longer than ``MAX_URL_LENGTH``
are refused: a seed becomes ``invalid_url``, a link is dropped and counted.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from itertools import compress
from posixpath import normpath
from urllib.parse import urljoin, urlsplit, urlunsplit

from w3lib.url import canonicalize_url, safe_url_string

from crawler.errors import InvalidURL
from crawler.links.cache import ByteBoundedCache, GroupedCache, cached_by_bytes

try:  # built by setup.py where there is a C compiler; else every miss takes the Python path
    from crawler.links._join import join_many
except ImportError:  # pragma: no cover - an install without a C compiler
    join_many = None

SCHEMES = ("http", "https")
_DEFAULT_PORTS = {"http": 80, "https": 443}
FINGERPRINT_BYTES = 16
# The longest URL the crawler requests or follows, in characters of its normal form (ASCII).
# Browsers and servers commonly stop at 8 KiB (the default request-line limit of nginx and
# Apache); a longer link is almost always junk or hostile, and would only fill caches.
MAX_URL_LENGTH = 8192
# Input longer than this is refused before any parsing (its normal form could only be shorter
# than the cap if it were mostly whitespace, dot-segments or credentials).
_MAX_INPUT_LENGTH = 2 * MAX_URL_LENGTH

# Budgets of the caches (bytes each, per process). Generous for any real site: a 100-byte URL
# costs ~300 bytes of cache, so the resolution cache alone holds ~50,000 links.
RESOLVE_CACHE_BYTES = 16 << 20
NORMALIZE_CACHE_BYTES = 8 << 20
CANONICAL_CACHE_BYTES = 8 << 20
FINGERPRINT_CACHE_BYTES = 8 << 20
HOST_CACHE_BYTES = 2 << 20
LOOKS_NORMAL_CACHE_BYTES = 4 << 20


class URLTooLong(InvalidURL):
    """A URL longer than ``MAX_URL_LENGTH`` (before or after normalisation)."""


_USERINFO = re.compile(r"(?<=//)[^/?#@\s]*@")


def strip_userinfo(text: str) -> str:
    """``text`` with the userinfo (``user:pass@``) of any URL in it removed: for messages and
    records that quote what the user wrote."""
    return _USERINFO.sub("", text) if "@" in text else text


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


@cached_by_bytes(NORMALIZE_CACHE_BYTES)
def normalize(url: str) -> str:
    """The normal form of an absolute URL; raises ``InvalidURL`` for anything not crawlable,
    a URL longer than ``MAX_URL_LENGTH`` included."""
    if len(url) <= MAX_URL_LENGTH and _looks_normal(url):
        # Already normal (most listed seeds): the full algorithm would give it back unchanged
        # (the tests check ``_looks_normal`` against it on a generated corpus), at ~1/10 of
        # its cost, which a list of a million seeds pays before its hosts can start.
        return url
    return _normalize(url)


def _normalize(url: str) -> str:
    """``normalize``'s full algorithm: urllib's split, dot-segments, w3lib's quoting."""
    if len(url) > _MAX_INPUT_LENGTH:
        raise URLTooLong(f"URL longer than {MAX_URL_LENGTH} characters: {url[:100]!r}...")
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
        normal = safe_url_string(rebuilt)
    except (ValueError, UnicodeError) as exc:
        raise InvalidURL(f"malformed URL {text!r}: {exc}") from None
    if len(normal) > MAX_URL_LENGTH:  # percent-encoding can triple a URL's length
        raise URLTooLong(
            f"URL longer than {MAX_URL_LENGTH} characters once encoded: {text[:100]!r}..."
        )
    return normal


@cached_by_bytes(CANONICAL_CACHE_BYTES)
def canonical(url: str) -> str:
    """The canonical key of a normal-form URL (query sorted): equal keys mean the same page."""
    if "?" not in url and "%" not in url and _looks_normal(url):
        # No query to sort, no escape to unify: ``canonicalize_url`` (the slowest step of a
        # new link) would give the URL back as it is (checked on a corpus by the tests).
        return url
    return canonicalize_url(url)


@cached_by_bytes(FINGERPRINT_CACHE_BYTES)
def fingerprint(url: str) -> bytes:
    """A fixed-size fingerprint of ``url``'s canonical key, for visited sets."""
    return hashlib.blake2b(canonical(url).encode(), digest_size=FINGERPRINT_BYTES).digest()


def resolve(base: str, href: str) -> str | None:
    """The normal form of ``href`` found on a page at ``base``; None if it is not crawlable
    (not http(s), malformed, or longer than ``MAX_URL_LENGTH``)."""
    return PageBase(base).resolve(href) or None


@cached_by_bytes(HOST_CACHE_BYTES)
def host_of(url: str) -> str:
    """Lower-case host of a normal-form URL (no port)."""
    if _looks_normal(url):  # scheme://host[:port]/...: no brackets, userinfo or upper case
        return url.partition("://")[2].partition("/")[0].partition(":")[0]
    return urlsplit(url).hostname or ""


# --- resolving a page's links -------------------------------------------------------------

# A result of ``PageBase.resolve``: the link is longer than MAX_URL_LENGTH (dropped, counted).
TOO_LONG = ""

# Characters that every step of the full algorithm leaves as they are in a path (RFC 3986
# unreserved and sub-delimiters, ":", "@", "/", minus "'" and ";": w3lib escapes "'" in a
# query, and urljoin splits ";params" off a path) and in a query (the same, plus "?").
_PATH = r"A-Za-z0-9\-._~!$&()*+,=:@/"
_FAST_PATH = re.compile(f"[{_PATH}]*").fullmatch
_FAST_QUERY = re.compile(f"[{_PATH}?]*").fullmatch
# A base path the fast path may build on: the same characters, and valid percent-escapes.
_FAST_BASE = re.compile(f"(?:[{_PATH}]|%[0-9A-Fa-f]{{2}})*").fullmatch
# An href starting with one of these resolves against the whole base, not just its directory
# (a query-only reference keeps the base's path), so it is cached per page, not per directory.
_PAGE_KEYED = frozenset({"", "?", *(chr(c) for c in range(33)), "\x7f"})

# Resolutions by directory (``PageBase.dir_key``: origin and directory path), href -> result;
# and, for the rare hrefs that depend on the page's whole URL (``_PAGE_KEYED``), by (URL, href).
_RESOLVED = GroupedCache(RESOLVE_CACHE_BYTES)
_PAGE_RESOLVED = ByteBoundedCache(RESOLVE_CACHE_BYTES // 16)
# What the caches hold for a link that is not crawlable (None means "not cached").
_NOT_CRAWLABLE = False


class PageBase:
    """A page's base URL (normal form), split once to resolve all the page's links.

    ``resolve`` gives the same result as ``normalize(urljoin(base, href))`` (the test suite
    checks it against that, the crawler's original algorithm, on a corpus of odd links).
    """

    __slots__ = ("url", "origin", "path", "directory", "dir_key", "fast", "known")

    def __init__(self, url: str) -> None:
        self.url = url = url.partition("#")[0]
        scheme, sep, rest = url.partition("://")
        slash = rest.find("/") if sep else -1
        self.origin = url[: len(scheme) + 3 + slash] if slash >= 0 else url
        full_path = rest[slash:] if slash >= 0 else "/"
        self.path = path = full_path.partition("?")[0]
        self.directory = path[: path.rfind("/") + 1] or "/"
        self.dir_key = self.origin + self.directory
        self.fast = (
            slash >= 0
            and _is_normal(url)
            and "@" not in self.origin
            and "//" not in path
            and _FAST_BASE(path) is not None
        )
        self.known = _RESOLVED.group(self.dir_key)  # this directory's resolved hrefs

    def resolve(self, href: str) -> str | None:
        """The normal form of ``href`` on this page: None if it is not crawlable, ``TOO_LONG``
        (an empty string) if it is longer than ``MAX_URL_LENGTH``. Cached by directory."""
        url = self.known.get(href)
        if url is None:
            url = self._miss(href)
        return url if url is not _NOT_CRAWLABLE else None

    def resolve_all(self, hrefs: Iterable[str]) -> tuple[list[str], int]:
        """The distinct crawlable URLs of ``hrefs`` (normal form, first-seen order) and the
        number of distinct hrefs dropped as longer than ``MAX_URL_LENGTH``."""
        distinct = list(dict.fromkeys(hrefs))  # each distinct href once: pages repeat links
        # Hits in C loops (a page's links are mostly known): Python only for the misses.
        results = list(map(self.known.get, distinct))
        if None in results:
            new = [href for href, url in zip(distinct, results, strict=True) if url is None]
            found = dict(zip(new, self._misses(new), strict=True))
            results = [
                url if url is not None else found[href]
                for href, url in zip(distinct, results, strict=True)
            ]
        too_long = results.count(TOO_LONG) if TOO_LONG in results else 0
        return list(dict.fromkeys(filter(None, results))), too_long

    def _misses(self, hrefs: list[str]) -> list[str | bool]:
        """``_miss`` of each href: the common forms joined in C (``_join.c``) and cached
        together, the others one by one."""
        if join_many is None or not self.fast:
            return list(map(self._miss, hrefs))
        joined = join_many(hrefs, self.origin, self.directory, _MAX_INPUT_LENGTH, MAX_URL_LENGTH)
        if None in joined:
            done = [url is not None for url in joined]
            keys = list(compress(hrefs, done))
            values = list(compress(joined, done))
            joined = [
                url if url is not None else self._miss(href)
                for href, url in zip(hrefs, joined, strict=True)
            ]
        else:
            keys, values = hrefs, joined
        if keys:
            _RESOLVED.put_many(self.dir_key, self.known, keys, values)
        return joined

    def _miss(self, href: str) -> str | bool:
        """``href`` resolved (``_NOT_CRAWLABLE`` for None) and cached where it belongs."""
        if href[:1] in _PAGE_KEYED:  # resolves against the whole URL, not the directory
            key = (self.url, href)
            url = _PAGE_RESOLVED.get(key)
            if url is None:
                url = self._resolve(href)
                url = _NOT_CRAWLABLE if url is None else url
                _PAGE_RESOLVED.put(key, url)
            return url
        url = self._resolve(href)
        url = _NOT_CRAWLABLE if url is None else url
        _RESOLVED.put(self.dir_key, self.known, href, url)
        return url

    def _resolve(self, href: str) -> str | None:
        if len(href) > _MAX_INPUT_LENGTH:
            return TOO_LONG
        href = href.strip()
        if not href or href[0] == "#":
            return None
        url = self._fast(href) if self.fast else None
        if url is None:  # not a common form: the full algorithm
            base = self.url if href[0] == "?" else self.dir_key
            try:
                url = normalize(urljoin(base, href))
            except URLTooLong:
                return TOO_LONG
            except (InvalidURL, ValueError):
                return None
        return url if len(url) <= MAX_URL_LENGTH else TOO_LONG

    def _fast(self, href: str) -> str | None:
        """``href`` resolved by string operations when it is a common, escape-free form; None
        to send it to the full algorithm."""
        path, _, query = href.partition("#")[0].partition("?")
        if not _FAST_PATH(path) or not _FAST_QUERY(query):
            return None
        if not path:  # "?query": this page's path; "?" alone keeps its query too (urljoin)
            return self.origin + self.path + "?" + query if query else self.url
        if path[0] != "/":
            first = path.partition("/")[0]
            if ":" not in first:  # a relative path
                path = self.directory + path
            elif self._same_origin(path):  # an absolute URL on this page's origin
                path = path[len(self.origin) :] or "/"
            else:
                return None
        if "//" in path:
            return None
        if "/." in path:
            path = _remove_dot_segments(path)
        return self.origin + path + "?" + query if query else self.origin + path

    def _same_origin(self, url: str) -> bool:
        """Whether ``url`` starts with this page's origin, then a "/" or nothing. Scheme and
        host compare case-insensitively (RFC 3986 section 6.2.2.1: the normal form lowers
        them), in ASCII only: ``str.lower`` maps a few other letters to ASCII ones (K, the
        Kelvin sign), which a host must not pass for."""
        origin = self.origin
        size = len(origin)
        if url[size : size + 1] not in ("", "/"):
            return False
        prefix = url[:size]
        return prefix == origin or (prefix.isascii() and prefix.lower() == origin)


# A URL that ``normalize`` leaves as it is, told without running it (every page's base is
# checked, and each page's URL is new): lower-case http(s) scheme and ASCII host of non-empty
# labels, a port without leading zeros (the default one is checked apart), a path and a
# non-empty query of the characters above, no userinfo, no fragment. Dot-segments and "//"
# are checked apart too.
_PLAINLY_NORMAL = re.compile(
    r"https?://[a-z0-9-]{1,63}(?:\.[a-z0-9-]{1,63})*(?::[1-9][0-9]{0,4})?"
    f"(?:/(?:[{_PATH}]|%[0-9A-Fa-f]{{2}})*)(?:\\?(?:[{_PATH}?]|%[0-9A-Fa-f]{{2}})+)?"
).fullmatch


@cached_by_bytes(LOOKS_NORMAL_CACHE_BYTES)
def _looks_normal(url: str) -> bool:
    """True only for a URL in the normal form (False may be one too: ask ``normalize``).
    Cached: a new link's URL is asked about by its host, its canonical key, and again as the
    base of its page once crawled, and the regular expression costs more than the lookup."""
    if _PLAINLY_NORMAL(url) is None or "/." in url or "//" in url[8:]:
        return False
    scheme, _, rest = url.partition("://")
    port = rest.partition("/")[0].partition(":")[2]
    return not port or (int(port) <= 65535 and int(port) != _DEFAULT_PORTS[scheme])


def _is_normal(url: str) -> bool:
    if _looks_normal(url):
        return True
    try:
        return normalize(url) == url
    except InvalidURL:
        return False


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 section 5.2.4 on an absolute path without empty segments."""
    segments = path.split("/")
    out: list[str] = []
    for segment in segments[1:]:
        if segment == "..":
            if out:
                out.pop()
        elif segment != ".":
            out.append(segment)
    if segments[-1] in (".", ".."):
        out.append("")
    return "/" + "/".join(out)
