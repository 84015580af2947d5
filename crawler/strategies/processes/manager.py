"""The shared state of the processes strategy, hosted in a ``multiprocessing`` manager process:
the visited set, the per-host clock and the robots.txt cache.

Children call ``claim_many`` through a proxy (with only the keys they have not asked about before:
``known.py``): at most one IPC round trip per batch of pages, never one
per link. The visited set and robots cache in the server are the backend's own, built with real
locks because the manager serves every connection on a thread of its own; the host clock is the
non-blocking ``HostedHostClock`` (see ``_shared.py``).
"""

from __future__ import annotations

import os
import threading
import time
from multiprocessing.managers import BaseManager, MakeProxyType
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


class HostedState:
    """The three hosted objects behind one proxy: a process opens one connection to the
    manager, not three (each is a connection and an authentication handshake with the manager,
    paid by the parent at the start and by every child as it starts). Each method is a part's
    method of the same name: ``visited_claim_many`` is ``visited.claim_many``, ``clock_`` the
    host clock's, ``robots_`` the robots cache's (``_Part`` calls them so)."""

    def __init__(self, backend: Backend, config: CrawlConfig) -> None:
        self.visited = _hosted_visited(backend, config)
        self.host_clock = HostedHostClock(config)
        self.robots = _hosted_robots(backend, config)

    def visited_claim_many(self, keys: Any) -> Any:
        return self.visited.claim_many(keys)

    def visited_len(self) -> int:
        return len(self.visited)

    def clock_try_acquire(self, host: str, granted: bool = False, ended: Any = None) -> float:
        return self.host_clock.try_acquire(host, granted, ended)

    def clock_release(self, host: str) -> None:
        self.host_clock.release(host)

    def clock_set_delay(self, host: str, seconds: float) -> float:
        return self.host_clock.set_delay(host, seconds)

    def clock_observe(self, *args: Any) -> Any:
        return self.host_clock.observe(*args)

    def clock_take_updates(self) -> Any:
        return self.host_clock.take_updates()

    def robots_get(self, origin: str) -> Any:
        return self.robots.get(origin)

    def robots_claim(self, origin: str) -> Any:
        return self.robots.claim(origin)

    def robots_put(self, origin: str, entry: Any) -> None:
        self.robots.put(origin, entry)

    def robots_release(self, origin: str) -> None:
        self.robots.release(origin)


_EXPOSED = tuple(
    name for name in vars(HostedState) if name.startswith(("visited_", "clock_", "robots_"))
)


class StateProxy(MakeProxyType("StateProxyBase", _EXPOSED)):  # type: ignore[misc]
    """The proxy to ``HostedState``: ``HostedState``'s methods, called in the manager.

    A child's copy (inherited through fork, or unpickled in a spawned child) would count a
    reference of its own in the manager as the child starts, and drop it as it exits: each a
    new connection and an authentication handshake (~3 ms of a child's start, before its
    first page). The parent's proxy, the manager's own (``_manager`` set), keeps the state for
    the whole crawl, and the manager ends with the crawl: a copy counts none."""

    def _incref(self) -> None:
        if self._manager is not None:  # the parent's (made by ``StateManager.State``)
            super()._incref()


class StateManager(BaseManager):
    """A manager offering the crawl's shared state, with batched or non-blocking methods
    only."""


StateManager.register("State", HostedState, proxytype=StateProxy)


class _Part:
    """One of the hosted objects, as its users call it, through the state's one proxy:
    ``name(...)`` is the proxy's ``prefix_name(...)``."""

    __slots__ = ("_proxy", "_prefix")

    def __init__(self, proxy: Any, prefix: str) -> None:
        self._proxy = proxy
        self._prefix = prefix

    def __getattr__(self, name: str) -> Any:
        return getattr(self._proxy, f"{self._prefix}_{name}")

    def __len__(self) -> int:
        return self._proxy.visited_len()

    def __getstate__(self) -> tuple[Any, str]:
        return self._proxy, self._prefix

    def __setstate__(self, state: tuple[Any, str]) -> None:
        self._proxy, self._prefix = state


class SharedState(NamedTuple):
    """The hosted state's proxy (picklable: children reconnect to the manager), and views of
    it as the visited set, host clock and robots cache (``claim_many``, ``try_acquire``,
    ``get``...)."""

    proxy: Any
    # The backend's ``claims_in_visited``: a child may remember what it has asked (``known``).
    claims_in_visited: bool = False

    @property
    def visited(self) -> Any:
        return _Part(self.proxy, "visited")

    @property
    def host_clock(self) -> Any:
        return _Part(self.proxy, "clock")

    @property
    def robots(self) -> Any:
        return _Part(self.proxy, "robots")

    def connect(self) -> None:
        """Open this thread's connection to the manager now (a harmless call): see
        ``init_child``."""
        self.proxy.visited_len()


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
    claims = bool(getattr(backend, "claims_in_visited", False))
    return manager, SharedState(manager.State(backend, config), claims)
