"""Credentials written in seed URLs (``https://user:pass@host/``): sent, never recorded.

The normal form of a URL has no userinfo (``crawler/links/urls.py``), so no record, log line,
queue or state file can hold a password. What a seed's userinfo asked for is kept apart, in
``CrawlConfig.credentials`` (memory only, hidden from ``repr``): the fetchers send it as HTTP
Basic auth to that seed's origin (scheme, host and port) and to no other, so a redirect or a
link to another host never carries it (as browsers and curl do). Userinfo found in links on
pages is dropped: only the user's own seeds may ask for credentials.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from urllib.parse import unquote, urlsplit


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of a normal-form URL (no userinfo, default port omitted)."""
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0].split('?', 1)[0]}"


def basic_auth(user: str, password: str) -> str:
    """The ``Authorization`` header value for HTTP Basic auth."""
    token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    return f"Basic {token}"


def seed_credentials(texts: Iterable[str]) -> tuple[tuple[str, str], ...]:
    """``(origin, Authorization value)`` for each seed URL text that carries userinfo and is a
    valid URL; the first seed wins for an origin."""
    from crawler.errors import InvalidURL
    from crawler.links.urls import normalize

    found: dict[str, str] = {}
    for text in texts:
        if "@" not in text:
            continue
        try:
            parts = urlsplit(text.strip())
            if parts.username is None:
                continue
            origin = origin_of(normalize(text))
        except (InvalidURL, ValueError):
            continue  # the seed itself becomes an invalid_url record
        auth = basic_auth(unquote(parts.username), unquote(parts.password or ""))
        found.setdefault(origin, auth)
    return tuple(found.items())
