"""What a scraper callback sees (``Page``) and what it may ask for besides items (``Follow``).

A ``Page`` is built in the worker that fetched it (a thread, a greenlet or a child process) and
never crosses a process boundary: only the items and URLs it yields do, as plain data. The
BeautifulSoup tree costs ~1.5 ms per page, so it is built only when the callback reads ``soup``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bs4 import BeautifulSoup


@dataclass(frozen=True, slots=True)
class Follow:
    """Ask the crawler to crawl ``url`` next (yield it from a parse callback).

    ``url`` may be relative: it is resolved against the page (respecting ``<base href>``),
    then goes through the same rules as a link found on the page: normal form, scope
    (``same_domain``, ``allow_domains``, ``exclude``), the visited set (fetched at most once)
    and the ``depth`` limit (a page at depth d asks for pages at depth d + 1, dropped when d has
    reached ``depth``, like Scrapy's ``DEPTH_LIMIT``). A URL that is not http(s) is dropped.
    """

    url: str


class Page:
    """One HTML page fetched without error, as a parse callback receives it.

    Attributes: ``url`` (as requested, normal form), ``status``, ``headers`` (names lower-case),
    ``body`` (bytes, as received), ``content_type``, ``encoding`` (what the body was read as),
    ``depth``, ``parent`` (the page that linked here, None for a seed), ``title``, ``base_url``
    (what relative links resolve against) and ``links`` (every crawlable link on the page,
    absolute, in document order, before scope and depth rules). ``text`` and ``soup`` are built
    on first use.
    """

    def __init__(
        self,
        *,
        url: str,
        status: int | None,
        headers: dict[str, str],
        body: bytes,
        content_type: str | None = None,
        encoding: str | None = None,
        depth: int = 0,
        parent: str | None = None,
        title: str | None = None,
        base_url: str | None = None,
        links: list[str] | None = None,
    ) -> None:
        self.url = url
        self.status = status
        self.headers = headers
        self.body = body
        self.content_type = content_type
        self.encoding = encoding
        self.depth = depth
        self.parent = parent
        self.title = title
        self.base_url = base_url or url
        self.links = links if links is not None else []

    @cached_property
    def text(self) -> str:
        """The body decoded as the crawler read it: the header's charset, else ``<meta>``, else
        UTF-8 if valid, else detected (bad bytes become U+FFFD)."""
        try:
            return self.body.decode(self.encoding or "utf-8", "replace")
        except LookupError:  # a declared codec that is not a text encoding
            return self.body.decode("utf-8", "replace")

    @cached_property
    def soup(self) -> BeautifulSoup:
        """A BeautifulSoup tree of the page (lxml parser), built on first access."""
        from bs4 import BeautifulSoup

        return BeautifulSoup(self.text, "lxml")

    def urljoin(self, href: str) -> str | None:
        """``href`` made absolute against this page, in normal form; None if not http(s)."""
        from crawler.links.urls import resolve  # w3lib imports ssl: keep ``import crawler`` light

        return resolve(self.base_url, href)

    def __repr__(self) -> str:
        return f"<Page {self.status} {self.url}>"
