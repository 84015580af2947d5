"""The crawl engine: seeds in, records out to sinks, totals back. The strategy is chosen by name
and imported only then, so a gevent crawl can patch before the HTTP stack is imported."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from crawler.backends import open_backend
from crawler.base import CrawlJob, Sink
from crawler.config import CrawlConfig
from crawler.interrupt import GracefulInterrupt
from crawler.pipeline import Pipeline
from crawler.sources import Seed, to_requests
from crawler.stats import Stats
from crawler.strategies import get_strategy


class Crawler:
    """Runs one crawl described by a ``CrawlConfig``; records go to ``sinks``."""

    def __init__(self, config: CrawlConfig, sinks: Sequence[Sink] = ()) -> None:
        self.config = config
        self.sinks = list(sinks)
        self.strategy = get_strategy(config.mode)
        # Live totals; readable from another thread (the health service) while the crawl runs.
        self.stats = Stats(mode=config.mode)

    def run(self, seeds: Iterable[Seed | str]) -> Stats:
        """Crawl from ``seeds``. Ctrl-C ends the crawl early: the returned stats say
        ``interrupted`` and every record produced so far has reached the sinks."""
        requests, invalid = to_requests(seeds, self.config.mode)
        self.stats = stats = Stats(mode=self.config.mode)
        backend = open_backend(self.config)
        # The backend's own sink comes first: a record is kept with the crawl's state (ending
        # its URL's lease) before any local sink sees it.
        kept = backend.record_sink(self.config)
        sinks = [kept, *self.sinks] if kept is not None else self.sinks
        pipeline = Pipeline(sinks, stats, progress=self.config.progress)
        job = CrawlJob(self.config, backend, requests, invalid)
        try:
            if backend.durable:
                with GracefulInterrupt(backend.stop) as interrupt:
                    self.strategy.run(job, pipeline.write)
                stats.interrupted = interrupt.requested
            else:
                self.strategy.run(job, pipeline.write)
        except KeyboardInterrupt:
            stats.interrupted = True
        finally:
            stats.finish()
            try:
                pipeline.close()
            finally:
                backend.close()
        return stats
