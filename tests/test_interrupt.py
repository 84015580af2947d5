"""Ctrl-C handlers of crawler/interrupt.py, with real signals sent to this process.

A record being written when Ctrl-C arrives must be written whole: the interrupt waits for the
end of the ``WHOLE`` block, then acts as it would have.
"""

from __future__ import annotations

import signal

import pytest

from crawler.interrupt import WHOLE, DeferredInterrupt, GracefulInterrupt


def test_ctrl_c_outside_a_write_interrupts_at_once() -> None:
    reached = []
    with DeferredInterrupt(), pytest.raises(KeyboardInterrupt):
        signal.raise_signal(signal.SIGINT)
        reached.append("after")  # never: the handler raised at the signal
    assert reached == []


def test_ctrl_c_inside_a_write_waits_for_its_end() -> None:
    written = []
    with DeferredInterrupt(), pytest.raises(KeyboardInterrupt):
        with WHOLE:
            signal.raise_signal(signal.SIGINT)
            written.append("first half")
            written.append("second half")
        written.append("after the block")  # never: the interrupt comes at the block's end
    assert written == ["first half", "second half"]
    assert WHOLE.pending is None and WHOLE.depth == 0


def test_the_handler_before_is_restored_and_used() -> None:
    calls = []

    def mine(signum, frame):
        calls.append(signum)

    previous = signal.signal(signal.SIGINT, mine)
    try:
        with DeferredInterrupt():
            with WHOLE:
                signal.raise_signal(signal.SIGINT)
                assert calls == []
            assert calls == [signal.SIGINT]
        assert signal.getsignal(signal.SIGINT) is mine
    finally:
        signal.signal(signal.SIGINT, previous)


def test_a_second_ctrl_c_of_a_graceful_stop_also_waits_for_the_write() -> None:
    stops = []
    written = []
    with GracefulInterrupt(lambda: stops.append(1)), pytest.raises(KeyboardInterrupt):
        signal.raise_signal(signal.SIGINT)  # the first: stop handing out, no exception
        assert stops == [1]
        with WHOLE:
            signal.raise_signal(signal.SIGINT)  # the second: now, but not mid-record
            written.append("whole record")
    assert written == ["whole record"]
