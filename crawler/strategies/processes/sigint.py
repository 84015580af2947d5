"""Ctrl-C and the processes a crawl starts.

Ctrl-C reaches the whole process group; the parent decides what it means (``ParentLoop``), so
the manager and every child ignore SIGINT. They can only say so once they run their own
code (``ignore_sigint``, first thing in their initializer), and until then a freshly started
child has the parent's handler, or Python's default: a Ctrl-C in that window (a child still
starting, slow on a busy machine, when the first pages are already being fetched) raised
``KeyboardInterrupt`` in it, printed a traceback and lost the child. So processes are started
with SIGINT blocked in the starting thread (``starting_children``); a child inherits the
mask through fork (the forkserver blocks it for good in ``forkserver_preload``, so its
children start blocked too; a spawned child would not: ``_posixsubprocess`` clears the mask
before exec, so the strategy spawns nothing where fork or the forkserver exists), and a SIGINT sent
meanwhile waits, pending, until the child ignores it, which discards it. In the parent a
blocked SIGINT is not lost either: Python runs its handler in the main thread once any thread
may take the signal, at the latest when the block ends.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator

_MASKABLE = hasattr(signal, "pthread_sigmask")  # POSIX


@contextlib.contextmanager
def starting_children() -> Iterator[None]:
    """Start processes inside this block: SIGINT is blocked in this thread meanwhile (threads
    started here keep the block, which is harmless: Python handles signals in the main
    thread), and every process started here begins with it blocked."""
    if not _MASKABLE:
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def block_sigint() -> None:
    """Block SIGINT in this thread until further notice (the forkserver's, for good:
    ``forkserver_preload``)."""
    if _MASKABLE:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})


def ignore_sigint() -> None:
    """In a child: ignore Ctrl-C from now on (a SIGINT pending since the start is dropped),
    then take signals again."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if _MASKABLE:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
