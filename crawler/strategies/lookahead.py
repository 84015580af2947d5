"""Lookahead: serial's one loop, which sends its next request before reading the page in hand.

A serial loop waits for each answer: the server works, the loop idles; then the loop reads
the page, and the server idles. Here, once a page's answer is in, the loop takes its next page
from the frontier (if one may start now) and sends that request (``Worker.prime``), then reads
the page in hand while the server answers. One request at a time is still on the wire (the
next is sent only once the previous answer is whole), on one connection per host, and the
frontier's politeness holds: a page is taken ahead only when ``pop`` would hand it out, and
only sent ahead when nothing would make ``fetch_page`` wait first (a delay, robots.txt not yet
read). The pages and records are serial's; only when each request leaves changes.

Sending ahead needs a fetcher that can (libcurl's, ``--fetcher curl``); with another, this is
serial with its next page taken a little earlier.
"""

from __future__ import annotations

import contextlib
import time

from crawler.base import CrawlJob, Emit, Request
from crawler.strategies.serial import one_loop
from crawler.worker import Worker


class LookaheadStrategy:
    """One loop, one page read while the next one's request is out."""

    name = "lookahead"
    # Its loop pops in this process: seeds can be read while it crawls (crawler/seedfeed.py).
    streams_seeds = True

    def run(self, job: CrawlJob, consume: Emit) -> None:
        """Crawl inline; records go straight to ``consume``."""
        run_ahead(one_loop(job, consume))


def run_ahead(worker: Worker) -> None:
    """``Worker.run``, taking each next page before reading the one in hand (see the module
    docstring). Ctrl-C: the page in hand and the page taken ahead both get their
    ``interrupted`` record."""
    frontier = worker.frontier
    assert frontier is not None
    ahead: Request | None = None
    why = "the crawl stopped before it was fetched"
    try:
        while True:
            request = ahead if ahead is not None else worker.next_request()
            ahead = None
            if request is None:
                return
            try:
                fetched = worker.fetch_page(request)
                if fetched.turn is not None:
                    worker.hold(fetched)
                    continue
                ended = time.monotonic()
                if not worker.held:  # a held page's turn is ``next_request``'s to keep
                    ahead = frontier.pop(timeout=0)
                    if ahead is not None:
                        worker.prime(ahead)
                record, children = worker.read_page(fetched)
            except KeyboardInterrupt:
                worker.interrupted(request)
                raise
            worker.settle(request, record, children, ended)
    except KeyboardInterrupt:
        why = "stopped by Ctrl-C"
        worker.interrupt_held()
        raise
    finally:
        if ahead is not None and worker.emit is not None:  # taken, never crawled: recorded
            with contextlib.suppress(Exception):
                worker.emit(worker.failed(ahead, "interrupted", why))
            frontier.done(ahead)
        worker.close()


STRATEGY = LookaheadStrategy()
