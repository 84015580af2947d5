"""Primitives for state that one loop owns alone (serial mode, a worker's private politeness
state): nothing to guard, and waiting is a bug, because no other loop could ever wake it."""

from __future__ import annotations


class NoLock:
    """Usable as a lock or a condition variable; ``wait`` raises instead of hanging forever."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None

    def notify_all(self) -> None:
        """Nobody else to wake."""
        return None

    def wait(self, timeout: float | None = None) -> bool:
        """Never legitimate with one loop: with nothing else in flight, nothing can change."""
        raise RuntimeError("a single loop waited on state only it can change")


UNSHARED = NoLock()


class UnsharedSync:
    """The ``Sync`` of a single loop: no-op primitives."""

    def lock(self) -> NoLock:
        """A lock that guards nothing."""
        return UNSHARED

    def condition(self) -> NoLock:
        """A condition nobody waits on."""
        return UNSHARED
