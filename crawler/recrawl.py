"""Incremental re-crawls: what a durable crawl keeps of each page, and how a new fetch of the
page compares with it.

With ``--state FILE`` or ``--backend URL`` every page answered 2xx leaves a ``PageState``
(its validators, a digest of its body and the links followed from it) in a store of its own
beside the frontier (``crawler/backends/pages.py``). A later fetch of the URL asks
conditionally (``If-None-Match`` / ``If-Modified-Since``); a 304 re-uses the stored links
without reading the page. ``crawl --recrawl`` re-queues every stored page.

What ``changed`` says on a record, against the stored state (``compare``):

* ``None``: nothing to compare with (a page new to the crawl, or a failure that says nothing:
  a network error, 429 or 5xx, after which the stored state is kept);
* ``False``: the same page (a 304, or a 2xx with the same digest and status);
* ``True``: anything else: new content, or a page that is now a redirect or a 4xx (its stored
  state is dropped). A 404 or 410 where a page was is *gone*.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from crawler.archive.digest import body_digest
from crawler.base import Request

GONE_STATUSES = frozenset({404, 410})
# Failures that say nothing about the page: its stored state stays for the next crawl.
TRANSIENT_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True, slots=True)
class PageState:
    """What a durable crawl keeps of one page answered 2xx. Plain data (``to_data``)."""

    request: Request
    status: int
    digest: str
    etag: str | None = None
    last_modified: str | None = None
    title: str | None = None
    content_type: str | None = None
    # The record's ``links`` count, and the in-scope URLs followed from the page.
    link_count: int = 0
    links: tuple[str, ...] = field(default=())

    def headers(self) -> dict[str, str]:
        """The conditional request headers these validators allow (none without them)."""
        headers = {}
        if self.etag:
            headers["If-None-Match"] = self.etag
        if self.last_modified:
            headers["If-Modified-Since"] = self.last_modified
        return headers

    def to_data(self) -> dict[str, Any]:
        """JSON-ready data (what the stores keep)."""
        r = self.request
        return {
            "request": [r.url, r.depth, r.parent, r.seed_host, list(r.chain)],
            "status": self.status,
            "digest": self.digest,
            "etag": self.etag,
            "last_modified": self.last_modified,
            "title": self.title,
            "content_type": self.content_type,
            "link_count": self.link_count,
            "links": list(self.links),
        }

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> PageState:
        """The state ``to_data`` gave."""
        url, depth, parent, seed_host, chain = data["request"]
        return cls(
            request=Request(url, depth, parent, seed_host, tuple(chain)),
            status=data["status"],
            digest=data["digest"],
            etag=data.get("etag"),
            last_modified=data.get("last_modified"),
            title=data.get("title"),
            content_type=data.get("content_type"),
            link_count=data.get("link_count", 0),
            links=tuple(data.get("links", ())),
        )


class PageStore(Protocol):
    """Per-URL page states of a durable crawl. Opened by each worker loop in its own process
    (``open_pages``); writes are single-row, so loops need no coordination."""

    def empty(self) -> bool:
        """True when no page state is stored at all (a crawl's first run)."""
        ...

    def get(self, url: str) -> PageState | None:
        """The stored state of ``url``, or None."""
        ...

    def put(self, url: str, state: PageState) -> None:
        """Keep ``state`` for ``url`` (replacing what was there)."""
        ...

    def drop(self, url: str) -> None:
        """Forget ``url`` (it is no longer a page: a redirect or a 4xx now)."""
        ...

    def begin_recrawl(self) -> list[Request]:
        """Start the crawl over, once it is finished: empty its frontier, visited set and
        records (the page states stay); return the stored pages' requests to queue again."""
        ...

    def flush(self) -> None:
        """Send the writes this store holds back to batch them (Redis's outbox), now. A pool
        child calls it once its batch is done: its loops are never closed, and a write held
        then would be lost with the process."""
        ...

    def close(self) -> None:
        """Release the connection."""
        ...


def page_state(
    request: Request,
    status: int,
    headers: dict[str, str],
    body: bytes,
    record: Any,
    followed: Sequence[Request],
) -> PageState:
    """The state to keep for a page answered 2xx (``record``: its record, read for the title,
    content type and links count; ``followed``: the child requests found on it)."""
    return PageState(
        request=request,
        status=status,
        # The record's digest when the worker computed it already: one SHA-1 per page.
        digest=getattr(record, "digest", None) or body_digest(body),
        etag=headers.get("etag"),
        last_modified=headers.get("last-modified"),
        title=record.title,
        content_type=record.content_type,
        link_count=record.links,
        links=tuple(dict.fromkeys(child.url for child in followed)),
    )


def compare(known: PageState | None, status: int | None, new: PageState | None) -> bool | None:
    """The record's ``changed`` for a response with ``status`` (None: a network error) whose
    page state is ``new`` (None unless 2xx), against the stored ``known`` (module docstring)."""
    if known is None or status is None or status in TRANSIENT_STATUSES:
        return None
    if new is None:  # a redirect or a 4xx where a page was
        return True
    return new.digest != known.digest or new.status != known.status
