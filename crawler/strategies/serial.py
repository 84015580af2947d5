"""Serial: one worker loop, inline, on the calling thread. The baseline every mode is measured
against, and the simplest reading of the crawl logic."""

from __future__ import annotations

from crawler.base import CrawlJob, Emit
from crawler.unshared import UnsharedSync
from crawler.worker import Worker, process_name

# One loop needs no lock and never waits: with nothing else in flight, an empty frontier
# means the crawl is over.
SerialSync = UnsharedSync


class SerialStrategy:
    """One loop, no concurrency."""

    name = "serial"
    # Its loops pop in this process: seeds can be read while they crawl (crawler/seedfeed.py).
    streams_seeds = True

    def run(self, job: CrawlJob, consume: Emit) -> None:
        """Crawl inline; records go straight to ``consume``."""
        one_loop(job, consume).run()


def one_loop(job: CrawlJob, consume: Emit) -> Worker:
    """The one worker loop of a crawl on the calling thread (serial's, lookahead's), its seeds
    scheduled; the early records (bad seed lines) already consumed."""
    for record in job.early_records:
        consume(record)
    sync = SerialSync()
    worker = Worker(
        job.config,
        job.backend.frontier(job.config, sync),
        job.backend.visited(job.config, sync),
        consume,
        name=process_name(job.config),
        host_clock=job.backend.host_clock(job.config, sync),
        robots=job.backend.robots_cache(job.config, sync),
    )
    worker.schedule(job.seeds)
    return worker


STRATEGY = SerialStrategy()
