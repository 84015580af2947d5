"""Graceful Ctrl-C for crawls whose state outlives the process (Redis, ``--state``).

The first Ctrl-C asks the backend to hand out no more URLs: the pages in flight finish and are
recorded, so a resumed crawl fetches nothing twice. A second Ctrl-C interrupts at once (the
pages then in flight go back to the queue, and only those are fetched again on resume).
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable
from types import FrameType, TracebackType
from typing import Any


class GracefulInterrupt:
    """A context manager: while active, the first SIGINT calls ``on_first`` instead of raising.

    Outside the main thread (where Python cannot install signal handlers) it does nothing and
    Ctrl-C keeps its default behaviour.
    """

    def __init__(self, on_first: Callable[[], None]) -> None:
        self._on_first = on_first
        self._previous: Any = None
        self._installed = False
        self.requested = False

    def __enter__(self) -> GracefulInterrupt:
        try:
            self._previous = signal.signal(signal.SIGINT, self._handle)
            self._installed = True
        except ValueError:  # not the main thread
            pass
        return self

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        print(
            "crawl: stopping after the pages in flight (Ctrl-C again to stop now)",
            file=sys.stderr,
            flush=True,
        )
        self._on_first()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._installed:
            signal.signal(signal.SIGINT, self._previous)
