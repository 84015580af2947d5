"""The shared state of the processes strategy, hosted in a ``multiprocessing`` manager process:
the visited set, the per-host clock and the robots.txt cache.

Children call ``claim_many`` through a proxy: one IPC round trip per batch of pages, never one
per link. The visited set and robots cache in the server are the backend's own, built with real
locks because the manager serves every connection on a thread of its own; the host clock is the
non-blocking ``HostedHostClock`` (see ``_shared.py``).
"""

from __future__ import annotations

import os
import threading
import time
from multiprocessing.managers import BaseManager
from typing import Any, NamedTuple

from crawler.backends.manager import HostedHostClock
from crawler.base import Backend
from crawler.config import CrawlConfig
from crawler.errors import ModeUnavailable
from crawler.strategies.processes.sigint import ignore_sigint


def _hosted_visited(backend: Backend, config: CrawlConfig) -> Any:
    from crawler.strategies.inprocess import ThreadingSync

    return backend.visited(config, ThreadingSync())


def _hosted_robots(backend: Backend, config: CrawlConfig) -> Any:
    from crawler.strategies.inprocess import ThreadingSync

    return backend.robots_cache(config, ThreadingSync())


PARENT_CHECK_S = 1.0  # how often the server checks that the crawl's process is still there


def _init_server() -> None:
    """In the manager process, first: ignore Ctrl-C (it reaches the whole process group; the
    parent decides when the server stops), and end with the parent. A parent that dies without
    a word (SIGKILL, the OOM killer) never asks it to stop, and a manager serves for ever."""
    ignore_sigint()
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_S)
        os._exit(0)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


class StateManager(BaseManager):
    """A manager offering the crawl's shared state, each type with batched or non-blocking
    methods only."""


StateManager.register("Visited", _hosted_visited, exposed=("claim_many", "__len__"))
StateManager.register(
    "HostClock",
    HostedHostClock,
    exposed=("try_acquire", "release", "set_delay", "observe", "take_updates"),
)
StateManager.register("RobotsCache", _hosted_robots, exposed=("get", "claim", "put", "release"))


class SharedState(NamedTuple):
    """Proxies to the hosted state (picklable: children reconnect to the manager)."""

    visited: Any
    host_clock: Any
    robots: Any

    def connect(self) -> None:
        """Open each proxy's connection now (harmless calls): see ``init_child``."""
        len(self.visited)
        self.host_clock.set_delay("", 0.0)
        self.robots.get("")


def start_manager(
    context: Any, backend: Backend, config: CrawlConfig
) -> tuple[StateManager, SharedState]:
    """Start the manager process; return it and proxies to the state it hosts."""
    manager = StateManager(ctx=context)
    try:
        manager.start(_init_server)
    except (EOFError, OSError) as exc:  # the server died before it said where it listens
        raise ModeUnavailable(
            f"the processes strategy's manager process failed to start ({type(exc).__name__}; "
            "see its error above); a script that starts a processes crawl must do it under "
            "`if __name__ == '__main__':`"
        ) from None
    state = SharedState(
        manager.Visited(backend, config),
        manager.HostClock(config),
        manager.RobotsCache(backend, config),
    )
    return manager, state
