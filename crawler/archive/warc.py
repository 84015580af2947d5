"""The WARC sink (``--warc FILE.warc.gz``): one writer for the whole crawl, in the pipeline.

Each file starts with a ``warcinfo`` record (software, version, the crawl's options). Every
fetch that got a response becomes a ``response`` record (status line, headers, body as received)
and a ``request`` record that points at it with ``WARC-Concurrent-To``; both carry the target
URI, the date the request was sent, the peer's address, and block and payload digests. A body
cut by ``--max-bytes`` or the deadline is marked ``WARC-Truncated``. Records are gzipped one by
one (so a file can be indexed and read from any record) unless FILE ends in ``.warc``. Past
``max_size`` bytes the next pair goes to a new numbered file: ``FILE``, then
``NAME-00001.warc.gz``, ``NAME-00002.warc.gz``...

Why in the pipeline: it is the single consumer of records in every mode, so the bytes of two
pages (two threads, two pool children) can never interleave in a file. Who serialises a page's
records (``records.py``: digests, gzip) depends on where it was fetched. A pool child does,
before the record crosses to the parent (``ArchivePayload.packed``), so that CPU is spread over
the crawl's processes and the writer only appends. In a one-process crawl the writer does, 32
pages at a time: run back to back, the hashing and compression code and its tables stay in the
CPU's caches, where between two pages the rest of the crawl (parsing, HTTP) pushes them out
(docs/performance.md has the figures). The ``warcinfo`` record is written
by hand too (``records.py``): importing warcio's writer cost more CPU, and wall time before the
first page, than archiving a few hundred pages; warcio reads the files back in the tests.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from typing import IO, Any

from crawler.archive.payload import ArchivePayload, gzipped
from crawler.archive.records import WARC_VERSION, exchange_records, warcinfo_record
from crawler.config import CrawlConfig
from crawler.record import Record
from crawler.version import __version__

WRITE_BUFFER = 1024 * 1024
# A one-process crawl's pages are serialised this many at a time, or once their bodies reach
# BATCH_BYTES (a bound on the memory they hold), and at the end.
BATCH_PAGES = 32
BATCH_BYTES = 1024 * 1024


class WarcSink:
    """Appends the WARC records attached to records (``Record.archive.warc``) to the file."""

    def __init__(self, config: CrawlConfig) -> None:
        assert config.warc is not None
        self.path = config.warc
        self.max_size = config.warc_max_size
        self.gzip = gzipped(self.path)
        self.paths: list[str] = []  # every file written, in order
        self._info = _warcinfo(config)
        self._file: IO[bytes] | None = None
        self._size = 0  # bytes in the current file (tell() cost a system call a page)
        # Exchanges of pages recorded, not yet serialised (one tuple a page), and their bytes.
        self._pending: list[tuple[tuple[Any, str | None, str | None], ...]] = []
        self._pending_bytes = 0
        self._open()  # now: a path that cannot be written fails the crawl before it starts

    def write(self, record: Record) -> None:
        """Append the record's archived exchanges, if it has any (a page that got a response):
        at once when a pool child serialised them, else with the next batch."""
        payload: ArchivePayload | None = record.archive
        if payload is None:
            return
        if payload.warc:
            self.append(payload.warc)
        if payload.exchanges:
            self._pending.append(payload.exchanges)
            self._pending_bytes += sum(len(exchange.body) for exchange, _, _ in payload.exchanges)
            if len(self._pending) >= BATCH_PAGES or self._pending_bytes >= BATCH_BYTES:
                self.flush()

    write_encoded = write  # only ``archive`` is read: a child's encoded record needs no decoding

    def flush(self) -> None:
        """Serialise and append the pages waiting for their batch, each fetch's records whole."""
        pending, self._pending, self._pending_bytes = self._pending, [], 0
        gzip = self.gzip
        for exchanges in pending:
            for exchange, revisit, digest in exchanges:
                self.append(
                    exchange_records(exchange, gzip=gzip, revisit_of=revisit, payload_digest=digest)
                )

    def append(self, data: bytes) -> None:
        """Append whole WARC records; start the next numbered file once this one is full.

        Only whole records (the response and request of one fetch, ``exchange_records``) are
        appended, by this one writer."""
        if self._file is None:
            self._open()
        assert self._file is not None
        self._file.write(data)
        self._size += len(data)
        if self._size >= self.max_size:
            self._close_file()  # the next pair opens the next numbered file

    def close(self) -> None:
        """Write the last batch and close the current file."""
        try:
            self.flush()
        finally:
            self._close_file()

    def _open(self) -> None:
        path = numbered(self.path, len(self.paths))
        # A large buffer: one system call per many pages, not one or two per page.
        self._file = open(path, "wb", buffering=WRITE_BUFFER)  # noqa: SIM115 - kept open
        self.paths.append(path)
        date = datetime.now(UTC).isoformat(timespec="microseconds")[:-6] + "Z"
        name = os.path.basename(path)
        info = warcinfo_record(name, self._info, date, gzip=self.gzip)
        self._file.write(info)
        self._size = len(info)

    def _close_file(self) -> None:
        if self._file is not None:
            self._file.close()
        self._file = None


def numbered(path: str, index: int) -> str:
    """The name of file ``index`` of a rotated archive: ``path`` itself first, then
    ``NAME-00001.warc.gz`` and so on (the number before ``.warc.gz`` or ``.warc``)."""
    if index == 0:
        return path
    for suffix in (".warc.gz", ".warc"):
        if path.endswith(suffix):
            return f"{path[: -len(suffix)]}-{index:05d}{suffix}"
    return f"{path}-{index:05d}"


def _warcinfo(config: CrawlConfig) -> dict[str, str]:
    """The warcinfo fields: software, format, and the crawl's options without secrets."""
    return {
        "software": f"crawler/{__version__} (+https://pypi.org/project/crawler/)",
        "format": f"WARC File Format {WARC_VERSION}",
        "conformsTo": "https://iipc.github.io/warc-specifications/specifications/"
        "warc-format/warc-1.1/",
        "http-header-user-agent": config.user_agent,
        "robots": "obey" if config.robots else "ignore",
        "crawler-options": json.dumps(_options(config), sort_keys=True),
    }


def _options(config: CrawlConfig) -> dict[str, Any]:
    """The options that shape what was fetched, as JSON-ready data. Header values and proxy
    credentials are left out: a WARC is shared, and they may be secrets."""
    names = (
        "mode", "workers", "greenlets", "depth", "max_pages", "same_domain", "allow_domains",
        "exclude", "follow_nofollow", "timeout", "deadline", "max_bytes", "max_redirects",
        "fetcher", "robots", "delay", "per_host", "retries", "accept", "block_private",
    )  # fmt: skip
    options: dict[str, Any] = {}
    for name in names:
        value = getattr(config, name)
        options[name] = list(value) if isinstance(value, tuple) else value
    options["headers"] = [name for name, _ in config.headers]
    options["proxy"] = bool(config.proxy)
    return options
