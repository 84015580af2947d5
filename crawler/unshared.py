"""Primitives for state that one loop owns alone (serial mode, a worker's private politeness
state): nothing to guard, and waiting for another loop is a bug, because none could ever wake
it. Waiting for the clock (a host that is not ready yet) is sleeping."""

from __future__ import annotations

import time


class NoLock:
    """Usable as a lock or a condition variable; ``wait`` raises instead of hanging forever."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None

    def notify_all(self) -> None:
        """Nobody else to wake."""
        return None

    def notify(self, n: int = 1) -> None:
        """Nobody else to wake."""
        return None

    def wait(self, timeout: float | None = None) -> bool:
        """Sleep ``timeout`` seconds (only time can change anything); without one, raise:
        with nothing else in flight, nothing could ever end the wait."""
        if timeout is None:
            raise RuntimeError("a single loop waited on state only it can change")
        time.sleep(timeout)
        return False


UNSHARED = NoLock()


class UnsharedSync:
    """The ``Sync`` of a single loop: no-op primitives."""

    def lock(self) -> NoLock:
        """A lock that guards nothing."""
        return UNSHARED

    def condition(self) -> NoLock:
        """A condition nobody waits on."""
        return UNSHARED
