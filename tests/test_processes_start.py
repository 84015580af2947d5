"""How the processes strategy starts its processes: a Ctrl-C while a child is still starting
(``crawler/strategies/processes/sigint.py``) must not kill it, and a gevent-patched program,
where multiprocessing's connections cannot work, is told so instead of crashing or hanging."""

from __future__ import annotations

import multiprocessing
import os
import signal

import pytest

from crawler.strategies.processes.sigint import ignore_sigint, starting_children
from crawler.strategies.processes.strategy import pool_context, stop_forkserver
from tests.support.cli import run_python

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


PATCHED_PROGRAM = """
from gevent import monkey
monkey.patch_all()
import crawler

if __name__ == "__main__":
    try:
        for record in crawler.crawl("http://127.0.0.1:9/", mode="processes", workers=2):
            print("record", record.url)
    except crawler.ModeUnavailable as exc:
        print("refused:", exc)
"""


@pytest.mark.timeout(60)
def test_a_gevent_patched_program_is_told_processes_mode_cannot_run_there(tmp_path):
    # It used to fail with BlockingIOError from a manager connection (memory backend), or hang
    # (Redis): multiprocessing's connections read patched sockets with os.read.
    script = tmp_path / "patched.py"
    script.write_text(PATCHED_PROGRAM)
    out = run_python(script=script, timeout=50)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("refused: processes mode cannot run in a program gevent has")
    assert "record" not in out.stdout and "Traceback" not in out.stderr


def use_the_state(manager, state, done) -> None:
    """A forked child of the crawl: a call through the inherited proxy, then what the manager
    counts of the state, seen from the child."""
    done.put((len(state.visited), manager._debug_info()))


@pytest.mark.timeout(60)
def test_a_forked_child_neither_takes_nor_drops_a_reference_to_the_state():
    """A forked child uses the parent's proxy without counting a reference of its own in the
    manager (a connection and a handshake as it starts) or dropping one as it exits (another):
    the parent's one reference keeps the state, before, during and after the child."""
    from crawler.backends.memory.backend import MemoryBackend
    from crawler.config import CrawlConfig
    from crawler.strategies.processes.manager import start_manager

    context = multiprocessing.get_context("fork")
    manager, state = start_manager(context, MemoryBackend(), CrawlConfig(mode="processes"))
    try:
        before = manager._debug_info()  # "id: refcount=N" and the object, from the server
        assert "refcount=1" in before
        done = context.SimpleQueue()
        child = context.Process(target=use_the_state, args=(manager, state, done))
        child.start()
        size, during = done.get()
        child.join(30)
        assert child.exitcode == 0
        assert size == 0
        assert before == during == manager._debug_info()
        assert len(state.visited) == 0  # the state is still there for the parent
    finally:
        manager.shutdown()
