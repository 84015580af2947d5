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
pages (two threads, two pool children) can never interleave in a file. The worker that fetched
a page serialises its records (``records.py``: digests, gzip), so that CPU is spread over the
crawl's processes and the writer only appends whole records. The ``warcinfo`` record is written
by hand too (``records.py``): importing warcio's writer cost more CPU, and wall time before the
first page, than archiving a few hundred pages; warcio reads the files back in the tests.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from typing import IO, Any

from crawler.archive.records import WARC_VERSION, exchange_records, warcinfo_record
from crawler.config import CrawlConfig
from crawler.record import Record
from crawler.version import __version__

WRITE_BUFFER = 1024 * 1024


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
        self._open()  # now: a path that cannot be written fails the crawl before it starts

    def write(self, record: Record) -> None:
        """Append the record's archived exchange, if it has one (a page that got a response)."""
        data = getattr(record.archive, "warc", None)
        if data:
            self.append(data)

    write_encoded = write  # only ``archive`` is read: a child's encoded record needs no decoding

    def write_exchange(self, exchange: Any) -> None:
        """Serialise and append one exchange (what ``write`` does with a worker's bytes)."""
        self.append(exchange_records(exchange, gzip=self.gzip))

    def append(self, data: bytes) -> None:
        """Append whole WARC records; start the next numbered file once this one is full.

        Only whole records (the response and request of one fetch, serialised by the worker
        that fetched it, ``exchange_records``) are appended, by this one writer."""
        if self._file is None:
            self._open()
        assert self._file is not None
        self._file.write(data)
        self._size += len(data)
        if self._size >= self.max_size:
            self._close_file()  # the next pair opens the next numbered file

    # Re-crawl's seam: a 304 is serialised by the worker as a ``revisit`` record instead
    # (``records.py``) and reaches ``append`` the same way, as ``ArchivePayload.warc``.

    def close(self) -> None:
        """Close the current file."""
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


def gzipped(path: str) -> bool:
    """Records are gzipped one by one unless the file name ends in ``.warc``."""
    return not path.endswith(".warc")


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
