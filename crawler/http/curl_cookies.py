"""Cookies for a fetcher whose HTTP library keeps none of ours (the curl fetcher): the crawl's
``CookieJar`` asked for a request's ``Cookie`` header and given a response's ``Set-Cookie``
values, as it is by a ``urllib.request`` request and response pair (the standard library's own
rules: domain, path, secure, expiry)."""

from __future__ import annotations

import urllib.request
from collections.abc import Sequence
from http.cookiejar import CookieJar


class _Head:
    """A response's headers as ``CookieJar.extract_cookies`` reads them."""

    def __init__(self, set_cookies: Sequence[str]) -> None:
        self._set_cookies = list(set_cookies)

    def get_all(self, name: str, default: list[str] | None = None) -> list[str] | None:
        return self._set_cookies if name.lower() == "set-cookie" else default


class _Reply:
    """A response as ``CookieJar.extract_cookies`` reads it: only ``info()``."""

    def __init__(self, set_cookies: Sequence[str]) -> None:
        self._head = _Head(set_cookies)

    def info(self) -> _Head:
        return self._head


def cookie_header(jar: CookieJar, url: str) -> str | None:
    """The ``Cookie`` header ``jar`` sends with a GET of ``url``, or None."""
    request = urllib.request.Request(url)
    jar.add_cookie_header(request)
    return request.get_header("Cookie")


def keep_cookies(jar: CookieJar, url: str, set_cookies: Sequence[str]) -> None:
    """Give ``jar`` the ``Set-Cookie`` values of the response to a GET of ``url``."""
    jar.extract_cookies(_Reply(set_cookies), urllib.request.Request(url))  # type: ignore[arg-type]
