"""The in-memory frontier's spill to disk (``crawler/backends/memory/spill.py``,
``host_queue.py``): chunks come back in order, a host's queue in exactly the order it would have
without a bound, through many spill and refill cycles, and the files go with ``close``."""

from __future__ import annotations

import os
import random

import pytest

from crawler.backends.memory.frontier import MemoryFrontier
from crawler.backends.memory.host_queue import HostQueue, Meter
from crawler.backends.memory.spill import SpillStore
from crawler.base import Request
from crawler.errors import OutputError
from crawler.unshared import UNSHARED


def test_a_store_makes_no_directory_until_written_and_removes_it_at_close(tmp_path):
    store = SpillStore(parent=str(tmp_path))
    assert store.directory is None and os.listdir(tmp_path) == []
    chunk = store.write([b"a", b"", b"\x00\xff" * 300])
    assert store.directory is not None and os.path.isdir(store.directory)
    assert store.read(chunk) == [b"a", b"", b"\x00\xff" * 300]
    store.write([b"left unread"])
    store.close()
    assert os.listdir(tmp_path) == []
    store.close()  # twice is harmless


def test_chunks_come_back_in_any_order_asked_and_read_segments_are_deleted(tmp_path):
    store = SpillStore(parent=str(tmp_path), segment_bytes=100)
    chunks = [(i, store.write([f"{i}-{j}".encode() for j in range(i % 7 + 1)])) for i in range(60)]
    assert store.segments() > 5
    random.Random(3).shuffle(chunks)
    for i, chunk in chunks:
        assert store.read(chunk) == [f"{i}-{j}".encode() for j in range(i % 7 + 1)]
    # Every chunk read: only the segment still open for writing is left.
    assert store.segments() == 1
    assert len(os.listdir(store.directory)) == 1
    store.close()
    assert os.listdir(tmp_path) == []


def test_a_store_dropped_without_close_leaves_nothing(tmp_path):
    store = SpillStore(parent=str(tmp_path))
    store.write([b"x"])
    del store
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("seed", range(30))
def test_a_spilling_host_queue_pops_exactly_as_one_in_memory(seed, tmp_path):
    """Random pushes at random depths, pops, and spills with random keeps and budgets: the same
    (depth, entry) sequence as a queue that never spills, and the memory figure back to 0."""
    rng = random.Random(seed)
    store = SpillStore(parent=str(tmp_path), segment_bytes=rng.choice([64, 4096, 1 << 20]))
    meter = Meter()
    spilling, plain = HostQueue("", meter, store), HostQueue()
    got, want, pushed = [], [], 0
    for _ in range(rng.randint(200, 3000)):
        roll = rng.random()
        if roll < 0.5:
            depth, entry = rng.randint(0, 4), f"/p/{pushed}".encode() * rng.randint(1, 3)
            pushed += 1
            spilling.push(depth, entry)
            plain.push(depth, entry)
        elif roll < 0.9 and len(plain):
            got.append(spilling.pop())
            want.append(plain.pop())
        elif len(plain):
            keep, budget = rng.randint(0, 8), rng.choice([None, rng.randint(1, 2000)])
            before = meter.bytes
            freed = spilling.spill(keep, rng.randint(1, max(keep, 1)), budget)
            assert freed == before - meter.bytes
            assert budget is None or freed < budget + 200  # it stops once the budget is met
            assert len(spilling) == len(plain)
    while len(plain):
        got.append(spilling.pop())
        want.append(plain.pop())
    assert got == want
    assert meter.bytes == 0 and len(spilling) == 0
    store.close()
    assert os.listdir(tmp_path) == []


def test_a_spill_keeps_the_hosts_head_in_memory_and_the_rest_on_disk(tmp_path):
    store = SpillStore(parent=str(tmp_path))
    meter = Meter()
    queue = HostQueue("", meter, store)
    for i in range(100):
        queue.push(i % 3, b"%03d" % i)
    queue.spill(4, 4)
    kept = meter.bytes
    assert 0 < kept <= 4 * (3 + 41)
    assert store.entries_written == 96
    # The head is what goes next: the first four of depth 0, then chunks come back.
    assert [queue.pop()[1] for _ in range(4)] == [b"000", b"003", b"006", b"009"]
    assert store.entries_written == 96
    assert [queue.pop() for _ in range(96)][-1] == (2, b"098")
    store.close()


def _requests(count: int, hosts: int) -> list[Request]:
    return [
        Request(f"http://h{i % hosts}.test/p/{i}", i % 5, f"http://h{i % hosts}.test/", "")
        for i in range(count)
    ]


def _drain(frontier: MemoryFrontier) -> list[Request]:
    out = []
    while (request := frontier.pop(timeout=0)) is not None:
        out.append(request)
        frontier.done(request)
    return out


def test_a_frontier_past_its_bound_hands_out_the_same_requests_in_the_same_order(tmp_path):
    requests = _requests(5000, 7)
    plain = MemoryFrontier(UNSHARED)
    bounded = MemoryFrontier(UNSHARED, spill_above=4096, spill_dir=str(tmp_path))
    highest = 0
    for start in range(0, len(requests), 50):  # as pages' links arrive: a batch at a time
        batch = requests[start : start + 50]
        assert bounded.push_many(batch) == plain.push_many(batch) == len(batch)
        highest = max(highest, bounded.queued_bytes)
    # The bound holds (give or take the hosts' heads and one batch) while 5000 are queued.
    assert highest < 4096 + 7 * 4 * 100 + 50 * 100
    assert plain.queued_bytes > 20 * highest
    assert bounded.snapshot()["queued"] == plain.snapshot()["queued"] == 5000
    assert bounded.snapshot()["spilled"] >= 4000 and bounded.spills > 1
    assert _drain(bounded) == _drain(plain)
    assert bounded.queued_bytes == 0
    bounded.release()
    assert os.listdir(tmp_path) == []


def test_releasing_a_frontier_with_requests_on_disk_deletes_them(tmp_path):
    frontier = MemoryFrontier(UNSHARED, spill_above=1024, spill_dir=str(tmp_path))
    frontier.push_many(_requests(2000, 3))
    assert frontier.snapshot()["spilled"] > 0 and os.listdir(tmp_path)
    frontier.close()  # from any thread, while a loop may still read: the files stay
    assert os.listdir(tmp_path) and frontier.pop(timeout=0) is None
    frontier.release()  # the crawl is over
    assert os.listdir(tmp_path) == []


def test_without_a_bound_nothing_is_written(tmp_path):
    frontier = MemoryFrontier(UNSHARED, spill_dir=str(tmp_path))
    frontier.push_many(_requests(2000, 3))
    assert frontier.snapshot()["spilled"] == 0 and os.listdir(tmp_path) == []


def test_a_spill_directory_that_cannot_be_made_is_one_clear_error(tmp_path):
    frontier = MemoryFrontier(UNSHARED, spill_above=1024, spill_dir=str(tmp_path / "missing"))
    with pytest.raises(OutputError, match="cannot write the queue's spill files.*TMPDIR"):
        frontier.push_many(_requests(2000, 3))


def test_a_spill_with_a_budget_takes_the_deepest_and_latest_first(tmp_path):
    store = SpillStore(parent=str(tmp_path))
    meter = Meter()
    queue = HostQueue("", meter, store)
    for depth in (0, 1, 2):
        for i in range(10):
            queue.push(depth, b"%d-%d" % (depth, i))
    freed = queue.spill(4, 4, budget=1)  # one request's worth: the last one pushed deepest
    assert store.entries_written == 1 and freed == 3 + 41
    queue.spill(4, 4, budget=9 * 44)  # the rest of depth 2, nothing shallower
    assert store.entries_written == 10
    queue.spill(4, 4, budget=12 * 44)  # depth 1 whole, then depth 0's latest two
    assert store.entries_written == 22
    assert meter.bytes == 8 * 44  # depth 0's first eight are still in memory
    assert [queue.pop()[1] for _ in range(30)] == [
        b"%d-%d" % (depth, i) for depth in (0, 1, 2) for i in range(10)
    ]
    store.close()
