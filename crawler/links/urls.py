"""URL normal forms, canonical keys and fingerprints.

Two forms, on purpose:

* the **normal form** is what we request and record: scheme and host lower-cased, default port,
  userinfo (``user:pass@``), fragment and empty query dropped, dot-segments resolved,
  percent-encoding made safe. The query keeps its order, because some servers care.
* the **canonical key** (``w3lib.url.canonicalize_url``: query sorted, encoding unified) decides
  whether two links are the same page. The visited set stores its 16-byte fingerprint, not the
  string, so memory per URL is fixed.

Real pages repeat the same links hundreds of times, so both steps are cached.
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache
from posixpath import normpath
from urllib.parse import urljoin, urlsplit, urlunsplit

from w3lib.url import canonicalize_url, safe_url_string

from crawler.errors import InvalidURL

SCHEMES = ("http", "https")
_DEFAULT_PORTS = {"http": 80, "https": 443}
FINGERPRINT_BYTES = 16


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
