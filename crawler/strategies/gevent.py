"""gevent: N greenlets in one thread, each running one ``Worker``; sockets cooperate once
``gevent.monkey.patch_all()`` has run.

Patching has to happen before ``ssl``, ``requests`` or ``urllib3`` are imported. The ``crawl``
command takes care of it (it chooses the strategy before importing the HTTP stack). A library
user should call ``gevent.monkey.patch_all()`` first thing in the program. If that was not done,
``Crawler(CrawlConfig(mode="gevent"))`` patches the process itself when nothing dangerous has been
imported yet (``crawler.engine`` and ``crawler.config`` are safe to import first), and otherwise
raises ``ModeUnavailable`` rather than run on a half-patched process.
"""

from __future__ import annotations

import sys
import threading

from crawler.base import CrawlJob, Emit
from crawler.errors import ModeUnavailable

# Modules that must not be imported before patching: ssl objects created before the patch
# stay blocking (and may recurse); requests/urllib3 bind ssl and socket at import.
_PATCH_FIRST = ("ssl", "urllib3", "requests")

_ADVICE = (
    "call gevent.monkey.patch_all() first thing in your program (before importing requests, "
    "ssl or crawler.sources), or run the crawl with the `crawl` command"
)


def is_patched() -> bool:
    """True when gevent has patched this process's sockets and threads."""
    if "gevent.monkey" not in sys.modules:
        return False
    from gevent import monkey

    return bool(monkey.is_module_patched("socket") and monkey.is_module_patched("threading"))


def ensure_patched() -> None:
    """Patch the process for gevent, or raise ``ModeUnavailable`` if it is too late to."""
    if is_patched():
        return
    early = [name for name in _PATCH_FIRST if name in sys.modules]
    if early:
        raise ModeUnavailable(
            f"gevent mode needs monkey patching before {', '.join(early)} is imported: {_ADVICE}"
        )
    if threading.current_thread() is not threading.main_thread():
        raise ModeUnavailable(f"gevent mode must be set up on the main thread: {_ADVICE}")
    patch()


def patch(**options: bool) -> None:
    """``gevent.monkey.patch_all(**options)``, with the installed packages' entry points read
    once.

    ``patch_all`` announces each of its steps to gevent plugins: about 19 look-ups of
    ``importlib.metadata.entry_points``, each a scan of every installed distribution's metadata
    (74 of the 100 ms the patch took, with 57 packages installed; more in a bigger environment),
    paid by every gevent crawl and every processes x greenlets child. One scan answers them all;
    every plugin is still found and called.
    """
    from importlib import metadata

    from gevent import monkey

    scan = metadata.entry_points
    installed = scan()

    def entry_points(**params: str) -> object:
        return installed.select(**params) if params else installed

    metadata.entry_points = entry_points  # type: ignore[assignment]
    try:
        monkey.patch_all(**options)
    finally:
        metadata.entry_points = scan


class GeventStrategy:
    """``config.workers`` greenlets (a ``gevent.pool.Pool``), each with its own HTTP session,
    fetching; pages are parsed on greenlets of their own (``_overlap.py`` says why)."""

    name = "gevent"
    # Its loops pop in this process: seeds can be read while they crawl (crawler/seedfeed.py).
    streams_seeds = True

    def prepare(self) -> None:
        """Patch the process (or refuse to run); called when the strategy is chosen."""
        ensure_patched()

    def run(self, job: CrawlJob, consume: Emit) -> None:
        """Crawl on greenlets; records are consumed on the calling greenlet."""
        ensure_patched()
        import gevent
        from gevent.pool import Pool

        from crawler.strategies.inprocess import run_loops
        from crawler.strategies.overlap import Overlap

        workers = job.config.workers
        pool = Pool(workers)
        # Ctrl-C raises KeyboardInterrupt in whichever greenlet runs at that instant; gevent
        # hands it to the main greenlet, where the engine records what was in flight. A greenlet
        # it hits before it can catch it (at its very first line) would also have its traceback
        # printed by the hub: a Ctrl-C is no error, so the hub is told not to print it.
        hub = gevent.get_hub()
        quiet = hub.NOT_ERROR
        hub.NOT_ERROR = (*quiet, KeyboardInterrupt)
        try:
            run_loops(
                job,
                consume,
                workers=workers,
                tag="g",
                start=lambda target, name: pool.spawn(target),
                join=lambda greenlets: pool.join(),
                # Each greenlet sends its next request before the page it fetched is parsed.
                loop=lambda frontier: Overlap(workers, frontier.close).run,
                # Ctrl-C's handler runs inside whichever greenlet is current: the frontier is
                # closed on a greenlet of its own, which may wait for the frontier's lock.
                defer=gevent.spawn,
            )
        finally:
            hub.NOT_ERROR = quiet


STRATEGY = GeventStrategy()
