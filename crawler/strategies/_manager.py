"""The visited set of the processes strategy, hosted in a ``multiprocessing`` manager process.

Children call ``claim_many`` through a proxy: one IPC round trip per page (or per batch of pages),
never one per link. The object in the server is the backend's own visited set, built with real
locks because the manager serves every connection on a thread of its own.
"""

from __future__ import annotations

import signal
from multiprocessing.managers import BaseManager
from typing import Any

from crawler.base import Backend
from crawler.config import CrawlConfig


def _hosted_visited(backend: Backend, config: CrawlConfig) -> Any:
    from crawler.strategies._inprocess import ThreadingSync

    return backend.visited(config, ThreadingSync())


def _ignore_sigint() -> None:
    # Ctrl-C reaches the whole process group; the parent decides when the server stops.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class VisitedManager(BaseManager):
    """A manager offering one type, ``Visited(backend, config)``, with a batched ``claim_many``."""


VisitedManager.register("Visited", _hosted_visited, exposed=("claim_many", "__len__"))


def start_manager(context: Any, backend: Backend, config: CrawlConfig) -> tuple[Any, Any]:
    """Start the manager process; return it and a (picklable) proxy to the hosted visited set."""
    manager = VisitedManager(ctx=context)
    manager.start(_ignore_sigint)
    return manager, manager.Visited(backend, config)
