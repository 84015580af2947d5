"""The crawler's exception tree, in one place.

    CrawlerError                 base of everything the crawler raises on purpose
    ├── ConfigError              an option or combination of options is wrong (CLI exit 2)
    │   ├── ModeUnavailable      a strategy cannot run here (e.g. gevent in an unpatched process)
    │   └── OutputError          an output file (records, items) cannot be opened, or the
    │                            queue's spill files (--memory-limit) cannot be written or read
    ├── SourceError              the URL source cannot be read (CLI exit 2)
    ├── BackendError             the crawl's shared state (Redis, --state file) is unusable (exit 2)
    │   └── CrawlLost            ... and went away mid-crawl: unreachable past --backend-retry,
    │                            or its keys vanished (exit 3; records written so far are kept)
    └── InvalidURL               one URL cannot be crawled; becomes an ``invalid_url`` record

Network failures are *not* exceptions: the fetcher turns them into records whose ``error`` field
names the kind (``timeout``, ``connect``, ``too_large`` ...), so a worker never dies of one.
"""

from __future__ import annotations

import traceback


def one_line(exc: BaseException) -> str:
    """An exception as one line (``ValueError: bad thing``), for a record's ``detail`` or stderr."""
    return traceback.format_exception_only(type(exc), exc)[-1].strip()


class CrawlerError(Exception):
    """Base class for errors the crawler raises deliberately."""


class ConfigError(CrawlerError):
    """A crawl option, or a combination of options, is invalid."""


class ModeUnavailable(ConfigError):
    """The requested concurrency mode cannot run in this process."""


class OutputError(ConfigError):
    """An output file (``output``, ``items_output``) cannot be opened for writing."""


class SourceError(CrawlerError):
    """The URL source (file, stdin) cannot be read."""


class BackendError(CrawlerError):
    """The backend holding the crawl's state cannot be reached, or refuses this worker."""


class CrawlLost(BackendError):
    """The crawl's state went away while it ran: its backend stayed unreachable past
    ``--backend-retry``, or came back without the crawl's keys. ``stats`` holds the totals of
    what this worker recorded before it stopped (set by the engine)."""

    stats: object = None


class InvalidURL(CrawlerError):
    """A URL that cannot be crawled: wrong scheme, no host, unparsable."""
