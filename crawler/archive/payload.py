"""What a worker attaches to a record for the archive sinks."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache, partial
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from crawler.base import Response
    from crawler.config import CrawlConfig


class ArchivePayload(NamedTuple):
    """The page data behind a record (``Record.archive``). Plain data, so it crosses a process
    boundary with the record (``EncodedRecord.archive`` in processes mode)."""

    # The fetch's WARC records, serialised (``crawler.archive.records.exchange_records``), with
    # --warc and a response.
    warc: bytes | None = None
    # The decoded body of a 2xx page without error, with --save-dir.
    body: bytes | None = None


def payload_for(
    config: CrawlConfig,
    response: Response,
    *,
    revisit_of: str | None = None,
    digest: str | None = None,
) -> ArchivePayload | None:
    """What the archive sinks of ``config`` need of ``response``; None when they need nothing.

    ``revisit_of``: the payload digest of the page's earlier capture, when the request was
    conditional (a re-crawl): a 304 answer is then archived as a ``revisit`` record.
    ``digest``: the record's digest of ``response.body``, if computed; an exchange whose body
    is those same bytes (no content coding) takes it as its payload digest, so the page is
    hashed once for both."""
    warc = None
    if config.warc and response.exchanges:
        serialise = _serialiser(config.warc)
        body = response.body
        warc = b"".join(
            serialise(
                exchange,
                revisit_of=revisit_of,
                payload_digest=digest if digest and exchange.body == body else None,
            )
            for exchange in response.exchanges
        )
    body = None
    if config.save_dir and response.error is None and 200 <= (response.status or 0) < 300:
        body = response.body
    if warc is None and body is None:
        return None
    return ArchivePayload(warc, body)


@lru_cache(maxsize=8)
def _serialiser(path: str) -> Callable[..., bytes]:
    """``exchange_records`` for the archive at ``path``, imported on first use (a crawl
    without --warc never loads it) and then looked up once: an ``import`` statement in a
    function costs a few microseconds on every call, and this runs once a page."""
    from crawler.archive.records import exchange_records
    from crawler.archive.warc import gzipped

    serialise: Any = partial(exchange_records, gzip=gzipped(path))
    return serialise
