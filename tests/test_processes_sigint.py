"""Ctrl-C while the processes strategy's children are still starting
(``crawler/strategies/processes/sigint.py``): the child must not die of it."""

from __future__ import annotations

import multiprocessing
import os
import signal

import pytest

from crawler.strategies.processes.sigint import ignore_sigint, starting_children
from crawler.strategies.processes.strategy import pool_context, stop_forkserver

pytestmark = pytest.mark.subprocess


def interrupted_while_starting() -> None:
    """A child's start as the pool's are: a Ctrl-C to the group lands before its initializer
    could ignore it (here, deterministically, before the very first line), then it ignores it."""
    os.kill(os.getpid(), signal.SIGINT)
    ignore_sigint()
    os.kill(os.getpid(), signal.SIGINT)  # and a later one does nothing either


@pytest.fixture
def raising_sigint():
    """The parent's handler, as a crawl's parent has one: Ctrl-C raises (a forked child inherits
    it; a spawned one starts with Python's own, which raises too)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("method", ["fork", "forkserver"])  # what the strategy starts
def test_a_ctrl_c_before_a_child_ignores_it_is_dropped_not_raised(method, raising_sigint):
    # The forkserver as the strategy starts it (its preloaded modules).
    context = (
        pool_context(greenlets=1) if method == "forkserver" else multiprocessing.get_context(method)
    )
    try:
        with starting_children():
            child = context.Process(target=interrupted_while_starting)
            child.start()
        child.join(50)
        # Without the block: exit code 1 and a KeyboardInterrupt traceback from the child.
        assert child.exitcode == 0
    finally:
        if method == "forkserver":
            stop_forkserver()


@pytest.mark.timeout(30)
def test_the_parent_still_hears_a_ctrl_c_sent_while_children_started(raising_sigint):
    # Blocked in the starting thread, but not lost: raised in the main thread when the block
    # ends, or at once where another thread may take it (a test runner's own threads).
    with pytest.raises(KeyboardInterrupt), starting_children():
        os.kill(os.getpid(), signal.SIGINT)
