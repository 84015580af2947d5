"""The crawl engine: seeds in, records out to sinks, totals back. The strategy is chosen by name
and imported only then, so a gevent crawl can patch before the HTTP stack is imported."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from crawler.backends import open_backend
from crawler.base import CrawlJob, Request, Sink
from crawler.config import CrawlConfig
from crawler.errors import BackendError, CrawlLost, OutputError
from crawler.interrupt import WHOLE, DeferredInterrupt, GracefulInterrupt
from crawler.pipeline import Pipeline
from crawler.record import Record
from crawler.stats import Stats
from crawler.stopping import StoppableBackend
from crawler.strategies import get_strategy

if TYPE_CHECKING:  # crawler.sources imports w3lib, hence ssl: not before gevent can patch
    from crawler.sources import Seed


class Crawler:
    """Runs one crawl described by a ``CrawlConfig``; records go to ``sinks``.

    ``config.output`` and ``config.items_output`` add file sinks for records and items;
    ``on_item`` is called with every item a parse callback produces (in this process, from the
    one consumer of records, so it needs no lock and may be any callable).
    """

    def __init__(
        self,
        config: CrawlConfig,
        sinks: Sequence[Sink] = (),
        *,
        on_item: Callable[[dict[str, Any]], object] | None = None,
    ) -> None:
        self.config = config
        self.sinks = list(sinks)
        if on_item is not None:
            from crawler.scrape.items import ItemCallbackSink

            self.sinks.append(ItemCallbackSink(on_item))
        self.strategy = get_strategy(config.mode)
        # Live totals; readable from another thread (the health service) while the crawl runs.
        self.stats = Stats(mode=config.mode)
        self._backend: StoppableBackend | None = None
        self._stop_requested = False

    def run(self, seeds: Iterable[Seed | str]) -> Stats:
        """Crawl from ``seeds``. Ctrl-C or ``stop()`` ends the crawl early: the returned stats
        say ``interrupted`` (Ctrl-C) or ``stopped``, and every record produced so far has
        reached the sinks."""
        # Imported here: URL handling pulls in w3lib, which imports ssl, and ``import crawler``
        # must leave ssl alone until a gevent program has patched.
        from crawler.http.credentials import seed_credentials
        from crawler.seedfeed import FIRST_SEEDS, FeedingBackend, SeedFeed

        # Seeds are read as the crawl goes (``crawler/seedfeed.py``) by a strategy whose loops
        # pop in this process; the others get the whole list first. So does a crawl that
        # follows links: a listed URL must not be reached first as a link, one hop deeper
        # (its own links would then be followed one hop less far).
        feed = SeedFeed(seeds, self.config)
        streaming = getattr(self.strategy, "streams_seeds", False) and self.config.depth == 0
        requests, invalid = feed.read(FIRST_SEEDS) if streaming else feed.read_all()
        # Userinfo in seeds is dropped from every URL; its credentials travel in the config.
        config = self.config
        if found := seed_credentials(feed.credential_texts()):
            config = config.with_options(credentials=(*config.credentials, *found))
        self.stats = stats = Stats(mode=self.config.mode)
        sinks = [*self.sinks, *self._file_sinks()]
        archive: list[Sink] = []
        try:
            archive = self._archive_sinks(config)
            opened = open_backend(config)
            if feed.pending:
                opened = FeedingBackend(opened, feed)
            backend = StoppableBackend(opened)
            if config.recrawl:
                requests = _recrawl(config, backend, requests)
            feed.outstanding = len(requests)
            self._backend = backend
        except BaseException:
            feed.close()
            for sink in [*archive, *sinks]:
                sink.close()
            raise
        # The archive sinks first: they set ``saved_path``, which every other sink shows. Then
        # a durable backend's own sink: a record is kept with the crawl's state (ending its
        # URL's lease) before any local sink sees it.
        kept = backend.record_sink(config)
        ordered = [*archive, kept, *sinks] if kept else [*archive, *sinks]
        pipeline = Pipeline(ordered, stats, progress=self.config.progress)
        if self._stop_requested:
            backend.stop()
        job = CrawlJob(config, backend, requests, invalid)

        later = feed.records  # bad seed lines read after the start, from the loops

        def consume(record: Record) -> None:
            try:
                with WHOLE:  # a Ctrl-C waits for the record to be written (crawler/interrupt.py)
                    while later:
                        pipeline.write(later.popleft())
                    pipeline.write(record)
            except BaseException:
                # A failing sink (a full disk, a user's on_item) ends the crawl everywhere:
                # without this, other loops would crawl on with nobody consuming.
                backend.stop()
                raise

        try:
            if backend.durable:
                # State that outlives this process: the first Ctrl-C lets the pages in flight
                # finish and be kept, so that a resumed crawl fetches none of them twice.
                with GracefulInterrupt(backend.stop) as interrupt:
                    self.strategy.run(job, consume)
                stats.interrupted = interrupt.requested
            else:
                with DeferredInterrupt():
                    self.strategy.run(job, consume)
            while later:  # bad lines in the last seeds read
                pipeline.write(later.popleft())
        except KeyboardInterrupt:
            stats.interrupted = True
            while later:
                pipeline.write(later.popleft())
        except BackendError as exc:
            # The crawl had started: its state went away under it (an outage longer than
            # --backend-retry, or lost keys). Sinks are still closed below, so every record
            # produced so far is kept; the caller gets the totals with the error.
            lost = exc if isinstance(exc, CrawlLost) else CrawlLost(str(exc))
            lost.stats = stats
            raise lost from None
        finally:
            stats.stopped = backend.stopped
            with contextlib.suppress(BackendError):  # a count is not worth a lost crawl
                counts = backend.snapshot()
                stats.skipped = counts.get("skipped", 0)
                stats.spilled = counts.get("spilled", 0)
            self._backend, self._stop_requested = None, False
            feed.close()
            try:
                # The clock stops once the sinks are closed: what they write at the end (the
                # bytes a file's buffer still holds) is part of the crawl's time.
                pipeline.close()
            finally:
                stats.finish()
                backend.close()
        return stats

    def live_stats(self) -> dict[str, object]:
        """Totals so far plus the frontier's ``queued`` and ``in_flight`` counts; callable from
        another thread while the crawl runs (the health service's ``STATS``)."""
        figures = self.stats.to_dict()
        backend = self._backend
        counts = backend.snapshot() if backend is not None else {"queued": 0, "in_flight": 0}
        figures.update(counts)
        return figures

    def stop(self) -> None:
        """End the running crawl early, from any thread: no new page starts, pages in flight
        finish and reach the sinks, then ``run`` returns. A stop before ``run`` applies to it."""
        self._stop_requested = True
        backend = self._backend
        if backend is not None:
            backend.stop()

    def _archive_sinks(self, config: CrawlConfig) -> list[Sink]:
        """The WARC and saved-pages sinks the config asks for (opened now)."""
        opened: list[Sink] = []
        try:
            if config.save_dir is not None:
                from crawler.archive.save import SaveSink

                opened.append(SaveSink(config))
            if config.warc is not None:
                from crawler.archive.warc import WarcSink

                try:
                    opened.append(WarcSink(config))
                except OSError as exc:
                    detail = exc.strerror or exc
                    raise OutputError(f"cannot write {config.warc!r}: {detail}") from None
        except BaseException:
            for sink in opened:
                sink.close()
            raise
        return opened

    def _file_sinks(self) -> list[Sink]:
        """Sinks for ``config.output`` and ``config.items_output`` (opened now)."""
        from crawler.scrape.items import item_sink_for_path
        from crawler.sinks import sink_for_path

        opened: list[Sink] = []
        for path, opener in (
            (self.config.output, sink_for_path),
            (self.config.items_output, item_sink_for_path),
        ):
            if path is None:
                continue
            try:
                opened.append(opener(path))
            except OSError as exc:
                for sink in opened:
                    sink.close()
                raise OutputError(f"cannot write {path!r}: {exc.strerror or exc}") from None
        return opened


def _recrawl(
    config: CrawlConfig, backend: StoppableBackend, requests: list[Request]
) -> list[Request]:
    """Start the finished crawl in ``backend`` over (``--recrawl``): the given seeds, then
    every stored page, claimed like any seed, so each is queued once."""
    from crawler.backends.pages import begin_recrawl

    try:
        return [*requests, *begin_recrawl(config)]
    except BaseException:
        backend.close()
        raise
