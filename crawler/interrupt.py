"""Ctrl-C during a crawl: never half a record, and a graceful stop for durable crawls.

``GracefulInterrupt``, for crawls whose state outlives the process (Redis, ``--state``): the
first Ctrl-C asks the backend to hand out no more URLs: the pages in flight finish and are
recorded, so a resumed crawl fetches nothing twice. A second Ctrl-C interrupts at once (the
pages then in flight go back to the queue, and only those are fetched again on resume).

``DeferredInterrupt``, for every other crawl: Ctrl-C interrupts at once, as Python's default
handler does, except inside ``WHOLE`` (the one consumer writing a record to the sinks). A
``KeyboardInterrupt`` raised between two lines of that write would lose a record whose page
the server already served; there the interrupt waits for the write's end. Both handlers
defer the same way.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable
from types import FrameType, TracebackType
from typing import Any, Self


class _Whole:
    """``with WHOLE:``: a SIGINT arriving inside is acted on when the block ends (handlers of
    this module only; main thread, where Python runs signal handlers)."""

    def __init__(self) -> None:
        self.depth = 0
        self.pending: tuple[int, FrameType | None] | None = None

    def __enter__(self) -> None:
        self.depth += 1

    def __exit__(self, *exc_info: object) -> None:
        self.depth -= 1
        if self.depth == 0 and self.pending is not None:
            signum, frame = self.pending
            self.pending = None
            handler = signal.getsignal(signum)
            if callable(handler):
                handler(signum, frame)

    def defers(self, signum: int, frame: FrameType | None) -> bool:
        """True (and the signal kept for the block's end) when inside a block."""
        if self.depth:
            self.pending = (signum, frame)
            return True
        return False


WHOLE = _Whole()


class _SigintHandler:
    """Installs ``_act`` as the SIGINT handler while active (main thread only: elsewhere Python
    cannot install signal handlers, and Ctrl-C keeps its default behaviour); a SIGINT inside a
    ``WHOLE`` block reaches ``_act`` at the block's end."""

    def __init__(self) -> None:
        self._previous: Any = None
        self._installed = False

    def __enter__(self) -> Self:
        try:
            self._previous = signal.signal(signal.SIGINT, self._handle)
            self._installed = True
        except ValueError:  # not the main thread
            pass
        return self

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if not WHOLE.defers(signum, frame):
            self._act(signum, frame)

    def _act(self, signum: int, frame: FrameType | None) -> None:
        raise NotImplementedError

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._installed:
            signal.signal(signal.SIGINT, self._previous)


class DeferredInterrupt(_SigintHandler):
    """A context manager: while active, SIGINT raises ``KeyboardInterrupt`` (or calls the
    handler that was installed before) at once, but only after the end of a ``WHOLE`` block
    it arrives in. Outside the main thread it does nothing."""

    def _act(self, signum: int, frame: FrameType | None) -> None:
        if callable(self._previous):
            self._previous(signum, frame)
        elif self._previous != signal.SIG_IGN:
            raise KeyboardInterrupt


class GracefulInterrupt(_SigintHandler):
    """A context manager: while active, the first SIGINT calls ``on_first`` instead of raising;
    the second raises ``KeyboardInterrupt``.

    Outside the main thread (where Python cannot install signal handlers) it does nothing and
    Ctrl-C keeps its default behaviour.
    """

    def __init__(self, on_first: Callable[[], None]) -> None:
        super().__init__()
        self._on_first = on_first
        self.requested = False

    def _act(self, signum: int, frame: FrameType | None) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        print(
            "crawl: stopping after the pages in flight (Ctrl-C again to stop now)",
            file=sys.stderr,
            flush=True,
        )
        self._on_first()
