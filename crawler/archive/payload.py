"""What a worker attaches to a record for the archive sinks."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from crawler.base import Response
    from crawler.config import CrawlConfig


class ArchivePayload(NamedTuple):
    """The page data behind a record (``Record.archive``). Plain data, so it crosses a process
    boundary with the record (``EncodedRecord.archive`` in processes mode)."""

    # The fetch's WARC records, serialised (``crawler.archive.records.exchange_records``): a
    # payload that came from a pool child (``packed``).
    warc: bytes | None = None
    # The decoded body of a 2xx page without error, with --save-dir.
    body: bytes | None = None
    # With --warc, the fetch's exchanges still to serialise, as
    # ``(exchange, revisit_of, payload_digest)`` (the arguments of ``exchange_records``): the
    # WARC writer serialises them in batches in a one-process crawl, the pool child that
    # fetched them before they cross to the parent (``packed``).
    exchanges: tuple[tuple[Any, str | None, str | None], ...] = ()
    # Whether the records are gzipped (one gzip member each): the archive's file name says.
    gzip: bool = True

    def packed(self) -> ArchivePayload:
        """This payload with its exchanges serialised into ``warc``: what a pool child sends
        its parent, so that the digests and compression of its pages are spent in the child
        (the CPU of the crawl spread over its processes), and the writer only appends."""
        if not self.exchanges:
            return self
        serialise = _exchange_records()
        warc = b"".join(
            serialise(exchange, gzip=self.gzip, revisit_of=revisit, payload_digest=digest)
            for exchange, revisit, digest in self.exchanges
        )
        return ArchivePayload(warc=warc, body=self.body, gzip=self.gzip)


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
    exchanges: tuple[tuple[Any, str | None, str | None], ...] = ()
    if config.warc and response.exchanges:
        body = response.body
        exchanges = tuple(
            (exchange, revisit_of, digest if digest and exchange.body == body else None)
            for exchange in response.exchanges
        )
    body = None
    if config.save_dir and response.error is None and 200 <= (response.status or 0) < 300:
        body = response.body
    if not exchanges and body is None:
        return None
    return ArchivePayload(body=body, exchanges=exchanges, gzip=gzipped(config.warc))


def gzipped(path: str | None) -> bool:
    """Records are gzipped one by one unless the file name ends in ``.warc``."""
    return path is None or not path.endswith(".warc")


@cache
def _exchange_records() -> Callable[..., bytes]:
    """``exchange_records``, imported on first use (a crawl without --warc never loads it) and
    then looked up once: an ``import`` statement in a function costs a few microseconds on
    every call, and this runs once a page in a pool child."""
    from crawler.archive.records import exchange_records

    return exchange_records
