"""``crawl()``: a crawl as an iterator of records, yielded as pages complete.

The crawl runs ``Crawler.run`` on a background thread (a greenlet once gevent has patched
``threading``), in whatever mode was asked for; its records come through a bounded queue, so a
slow consumer slows the crawl instead of filling memory. Closing the iterator (``break``,
``close()``, leaving a ``with`` block, garbage collection) stops the crawl through
``Crawler.stop`` and waits until it has shut down: workers, processes and the thread included.
"""

from __future__ import annotations

import atexit
import contextlib
import difflib
import sys
import weakref
from collections.abc import Callable, Iterable, Iterator
from dataclasses import fields
from typing import Any

from crawler.config import CrawlConfig
from crawler.engine import Crawler
from crawler.record import Record
from crawler.sinks import CallbackSink
from crawler.stats import Stats

_RECORD, _DONE, _FAILED = "record", "done", "failed"
_OPTIONS = tuple(f.name for f in fields(CrawlConfig))


def crawl(
    seeds: str | Iterable[str],
    *,
    config: CrawlConfig | None = None,
    on_item: Callable[[dict[str, Any]], object] | None = None,
    buffer: int = 100,
    **options: Any,
) -> CrawlStream:
    """Crawl from ``seeds`` (one URL or many) and yield a ``Record`` per URL as pages complete.

    ``options`` are ``CrawlConfig`` fields, named as the CLI's options: ``mode``, ``workers``,
    ``depth``, ``max_pages``, ``parse``, ``items_output`` ... (or pass a whole ``config``; options
    then override it). ``on_item`` is called with every item a parse callback produces.
    Option errors raise ``ConfigError`` here, before anything is fetched. ``break`` out of the
    loop stops the crawl cleanly; the returned stream also works as a context manager.
    """
    unknown = sorted(set(options) - set(_OPTIONS))
    if unknown:
        near = difflib.get_close_matches(unknown[0], _OPTIONS, n=1)
        hint = f"; did you mean {near[0]!r}?" if near else f"; options are {', '.join(_OPTIONS)}"
        raise TypeError(f"crawl() got an unknown option {unknown[0]!r}{hint}")
    if config is None:
        config = CrawlConfig(**options)
    elif options:
        config = config.with_options(**options)
    if isinstance(seeds, str):
        seeds = [seeds]
    return CrawlStream(Crawler(config, on_item=on_item), list(seeds), buffer=buffer)


# Streams still running. A stream left open in a global would otherwise be closed during
# interpreter teardown, when its crawl thread is already frozen: exit would hang. atexit runs
# before that (and before multiprocessing's own handler, registered earlier), so close them there.
_running: weakref.WeakSet[CrawlStream] = weakref.WeakSet()
_atexit_registered = False


def _close_running() -> None:
    for stream in list(_running):
        with contextlib.suppress(Exception):  # at exit, nobody is left to tell
            stream.close()


def _run(crawler: Crawler, seeds: list[str], put: Callable[[Any], None]) -> None:
    """The crawl thread: run the crawl, then post how it ended (its stats, or its error)."""
    try:
        outcome = (_DONE, crawler.run(seeds))
    except BaseException as exc:  # handed to the consumer, which re-raises it
        outcome = (_FAILED, exc)
    put(outcome)


class CrawlStream(Iterator[Record]):
    """The records of one running crawl, in completion order.

    ``stats`` holds the totals once the crawl has ended (normally or by ``close``); ``items()``
    iterates the parse callback's items instead of the records.
    """

    def __init__(self, crawler: Crawler, seeds: list[str], *, buffer: int = 100) -> None:
        self.crawler = crawler
        self.stats: Stats | None = None
        self._seeds = seeds
        self._buffer = buffer
        self._queue: Any = None
        self._thread: Any = None
        self._finished = False

    def _start(self) -> None:
        # Imported here, not at module level: a gevent user patches before the first crawl,
        # and these must be the patched (cooperative) versions.
        import queue
        import threading

        self._queue = queue.Queue(maxsize=self._buffer)
        put = self._queue.put
        self.crawler.sinks.append(CallbackSink(lambda record: put((_RECORD, record))))
        # The thread must not hold a reference to this stream: dropping the stream (``break``)
        # is what closes it.
        self._thread = threading.Thread(
            target=_run, args=(self.crawler, self._seeds, put), name="crawler-stream", daemon=True
        )
        self._thread.start()
        global _atexit_registered
        if not _atexit_registered:
            atexit.register(_close_running)
            _atexit_registered = True
        _running.add(self)

    def __iter__(self) -> CrawlStream:
        return self

    def __next__(self) -> Record:
        if self._finished:
            raise StopIteration
        if self._thread is None:
            self._start()
        try:
            kind, value = self._queue.get()
        except BaseException:  # Ctrl-C while waiting: stop the crawl, then let it propagate
            self.close()
            raise
        if kind == _RECORD:
            return value
        self._end(kind, value)
        raise StopIteration

    def _end(self, kind: str, value: Any) -> None:
        self._finished = True
        _running.discard(self)
        self._thread.join()
        if kind == _FAILED:
            raise value
        self.stats = value
        if value.interrupted:
            # Ctrl-C landed in the crawl (under gevent any greenlet may take the signal); the
            # crawl has shut down and every record so far was yielded: now the program hears it.
            raise KeyboardInterrupt

    def items(self) -> Iterator[dict[str, Any]]:
        """The items of the parse callback, page after page (consumes the records)."""
        for record in self:
            yield from record.items

    def close(self) -> None:
        """Stop the crawl if it is running and wait until it has shut down (records still in
        flight are discarded here but reach the crawl's sinks). Idempotent. Re-raises an
        error the crawl itself ended with."""
        if self._finished:
            return
        if self._thread is None:
            self._finished = True
            return
        self.crawler.stop()
        while True:  # drain, so that a producer blocked on the full queue can finish
            kind, value = self._queue.get()
            if kind != _RECORD:
                break
        self._end(kind, value)

    def __enter__(self) -> CrawlStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        # A ``for`` loop left by ``break`` drops the last reference: the crawl must not outlive
        # it (CPython runs this at once; elsewhere at the next collection).
        running = getattr(self, "_thread", None) is not None and not self._finished
        if running and not sys.is_finalizing():
            self.close()  # an error the crawl ended with is reported by Python as "ignored"
