"""Greenlet loops that send their next request before parsing the page they just fetched.

Why: on one gevent hub, a greenlet that fetches and then parses holds the hub for the whole
parse, and every response that arrives meanwhile waits its turn before its greenlet can send
the next request. At 50 ms latency, 64 greenlets and ~0.6 ms of CPU per page, that queueing
stretched each request's cycle from ~52 ms to ~73 ms: one process fetched ~820 pages/s where
the same fetches without the CPU work reached ~1,140 (``bench/`` measures both). Handing the
parse to a greenlet of its own lets the fetching greenlet pop and send its next request first;
the parse runs while that request is on the wire. Same pages and links, same records: only
*when* the CPU half of a page runs changes (``Worker.fetch_page`` / ``Worker.read_page``).

Pages waiting to be parsed are bounded (``size``): when parsing falls behind (latency 0, where
the crawl is CPU-bound anyway), the fetching greenlets wait instead of piling up bodies.
A page is ``done`` in the frontier only once parsed, so the crawl cannot end with links
unfound, and a greenlet's pop still waits while any page is being parsed.

Ctrl-C raises ``KeyboardInterrupt`` in whichever greenlet runs when it arrives, a fetching or a
parsing one as often as the consumer: the page that greenlet holds is recorded as
``interrupted`` (as ``Worker.handle`` does), never dropped, and the interrupt goes on up.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from crawler.worker import Fetched, Worker


class Overlap:
    """Runs worker loops on the current gevent hub with parsing handed to other greenlets."""

    def __init__(self, size: int, stop: Callable[[], None]) -> None:
        """``stop`` is called when a parse greenlet fails outside any page (a bug)."""
        from gevent.pool import Pool

        self.parsing = Pool(size)
        self.stop = stop
        self.failure: BaseException | None = None

    def run(self, worker: Worker) -> None:
        """A loop: take a page (``Worker.next_request``), fetch, hand the page over, take the
        next; until the frontier is finished or closed. Returns once every page it handed over
        is settled; re-raises a failure of the parse greenlets (a bug outside any page: the
        frontier was closed for it)."""
        assert worker.frontier is not None
        try:
            while (request := worker.next_request()) is not None:
                try:
                    fetched = worker.fetch_page(request)
                    if fetched.turn is not None:  # robots.txt first: held for its turn
                        worker.hold(fetched)
                        continue
                    ended = time.monotonic()
                    self.parsing.wait_available()  # so that handing over cannot block
                except KeyboardInterrupt:
                    worker.interrupted(request)
                    raise
                self.hand_over(self._settle, worker, fetched, ended)
        except KeyboardInterrupt:
            worker.interrupt_held()
            raise
        finally:
            worker.fetcher.close()
            try:
                self.parsing.join()
            finally:
                worker.close()  # after the parsing: it keeps page states (crawler/recrawl.py)
        if self.failure is not None:
            raise self.failure

    def hand_over(self, parse: Callable[..., None], *args: Any) -> None:
        """Run ``parse(*args)`` on a parse greenlet; waits while ``size`` pages are waiting."""
        self.parsing.spawn(self._guarded, parse, args)

    def _guarded(self, parse: Callable[..., None], args: tuple[Any, ...]) -> None:
        try:
            parse(*args)
        except BaseException as exc:  # not lost in a greenlet: the loops re-raise it
            if self.failure is None:
                self.failure = exc
            self.stop()

    @staticmethod
    def _settle(worker: Worker, fetched: Fetched, ended: float) -> None:
        try:
            record, children = worker.read_page(fetched)
        except KeyboardInterrupt:
            worker.interrupted(fetched.request)
            raise
        worker.settle(fetched.request, record, children, ended)
