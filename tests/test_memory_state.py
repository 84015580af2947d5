"""The in-memory backend's compact crawl state: packed queued requests, per-host queues, and the
fingerprint table behind the visited set (``crawler/backends/memory``)."""

from __future__ import annotations

import hashlib
import random
import sys

import pytest

from crawler.backends.memory.fingerprints import FingerprintSet
from crawler.backends.memory.frontier import MemoryFrontier
from crawler.backends.memory.host_queue import HostQueue
from crawler.backends.memory.packed import origin_prefix, pack, unpack
from crawler.backends.memory.visited import MemoryVisited
from crawler.base import Request
from crawler.links.urls import fingerprint
from crawler.unshared import UNSHARED

PREFIX = "http://a.example:8080"
REQUESTS = [
    Request(f"{PREFIX}/p/1.html", 0, None, "a.example"),
    Request(f"{PREFIX}/p/2.html?q=1", 2, f"{PREFIX}/", "a.example"),
    Request(f"{PREFIX}/x", 1, "http://b.example/p", "example"),
    Request("https://a.example/other-origin", 0, None, "a.example"),
    Request(f"{PREFIX}.evil/p", 0, None, ""),  # starts like the prefix, is not under it
    Request(f"{PREFIX}/r", 3, f"{PREFIX}/s", "a.example", (f"{PREFIX}/s", "http://c/t")),
    Request(f"{PREFIX}/robots.txt", 0, None, "a.example", via="robots", parse_as="robots"),
    Request(f"{PREFIX}/sm.xml", 0, None, "a.example", via="sitemap", parse_as="sitemap"),
    Request(f"{PREFIX}/\u00e9\udcff", 0, None, "a.example"),  # a lone surrogate survives
    # Not normal form: fields holding the packing's own separators and markers.
    Request(f"{PREFIX}/a\x00b", 1, "\x01", "\x01", ("\x00",), None, ""),
    Request("/relative", 0, "/also", "a.example"),
    Request("x", 0, None, ""),
]


@pytest.mark.parametrize("request_", REQUESTS, ids=range(len(REQUESTS)))
def test_pack_round_trips(request_: Request) -> None:
    for prefix in ("", PREFIX, origin_prefix(request_.url)):
        entry = pack(request_, "a.example", prefix)
        assert isinstance(entry, bytes)
        assert unpack(entry, request_.depth, "a.example", prefix) == request_


def test_pack_is_compact() -> None:
    seed = Request(f"{PREFIX}/p/123.html", 0, None, "a.example")
    link = Request(f"{PREFIX}/p/124.html", 1, f"{PREFIX}/p/123.html", "a.example")
    assert pack(seed, "a.example", PREFIX) == b"/p/123.html\x00\x01\x00\x01"
    assert pack(link, "a.example", PREFIX) == b"/p/124.html\x00/p/123.html\x00\x01"
    assert sys.getsizeof(pack(seed, "a.example", PREFIX)) < 64


def test_host_queue_is_breadth_first_then_fifo() -> None:
    queue = HostQueue(PREFIX)
    pushed = [(2, b"a"), (0, b"b"), (1, b"c"), (0, b"d"), (2, b"e"), (1, b"f")]
    for depth, entry in pushed:
        queue.push(depth, entry)
    assert len(queue) == 6
    popped = [queue.pop() for _ in range(6)]
    assert popped == [(0, b"b"), (0, b"d"), (1, b"c"), (1, b"f"), (2, b"a"), (2, b"e")]
    assert len(queue) == 0


def test_host_queue_keeps_order_across_compaction() -> None:
    queue = HostQueue()
    out = []
    for i in range(5000):
        queue.push(0, str(i).encode())
        if i % 3 == 0:
            out.append(queue.pop()[1])
    while len(queue):
        out.append(queue.pop()[1])
    assert out == [str(i).encode() for i in range(5000)]


def test_fingerprint_set_is_exact_across_growth() -> None:
    rng = random.Random(7)
    keys = [rng.randbytes(16) for _ in range(20_000)]
    seen = FingerprintSet()
    assert [seen.add(k) for k in keys] == [True] * len(keys)
    assert len(seen) == len(keys)
    assert [seen.add(k) for k in keys] == [False] * len(keys)
    assert all(k in seen for k in keys)
    assert not any(rng.randbytes(16) in seen for _ in range(1000))
    # 12 to 18 bytes per fingerprint at rest (the table is at most 2/3 full).
    assert seen.nbytes() <= 18 * len(keys) * 2


def test_fingerprint_set_adds_many_as_add_does_one_by_one() -> None:
    rng = random.Random(11)
    keys = [rng.randbytes(16) for _ in range(5_000)]
    batch = (
        keys[:3_000] + keys[:50] + [bytes(16), b"\x01" + bytes(15), bytes(8) + b"\x01" + bytes(7)]
    )
    one, many = FingerprintSet(), FingerprintSet()
    want = [k for k in batch if one.add(k)]
    assert many.add_many(batch) == want  # across growth, repeats once, key 0 stored as 1
    assert len(many) == len(one)
    assert many.add_many(keys) == keys[3_000:]
    assert all(k in many for k in keys) and not many.add_many(keys)


def test_fingerprint_set_in_c_and_in_python_are_the_same_table(monkeypatch) -> None:
    from crawler.backends.memory import fingerprints as module

    if module._insert is None:
        pytest.skip("the C loop is not built here (tests/test_link_scanner.py fails CI then)")
    rng = random.Random(5)
    batches = [[rng.randbytes(16) for _ in range(rng.randint(0, 900))] for _ in range(12)]
    batches += [batches[3] + batches[0][:40], [bytes(16), b"\x01" + bytes(15)] * 3]
    in_c = FingerprintSet()
    fresh_c = [in_c.add_many(batch) for batch in batches]
    with pytest.raises(TypeError):
        FingerprintSet().add_many([b"short"])
    monkeypatch.setattr(module, "_insert", None)
    in_python = FingerprintSet()
    assert [in_python.add_many(batch) for batch in batches] == fresh_c
    assert (in_c._keys, in_c._checks, len(in_c)) == (
        in_python._keys,
        in_python._checks,
        len(in_python),
    )


def test_fingerprint_set_tells_keys_apart_by_all_96_bits() -> None:
    seen = FingerprintSet()
    zero = bytes(16)
    assert seen.add(zero)
    assert seen.add(b"\x01" + bytes(7) + b"\x02" + bytes(7))  # key 1 too, other check bits
    assert seen.add(bytes(8) + b"\x01" + bytes(7))  # same 64-bit key, other check bits
    assert not seen.add(zero)
    assert not seen.add(b"\x01" + bytes(15))  # key 1, check 0: ``zero``'s own 96 bits
    assert not seen.add(bytes(12) + b"\xff" * 4)  # beyond 96 bits: taken for ``zero``
    assert len(seen) == 3


def test_visited_claims_each_fingerprint_once() -> None:
    visited = MemoryVisited()
    urls = [f"http://h{i % 7}.example/p/{i}" for i in range(3000)]
    keys = [fingerprint(u) for u in urls]
    assert visited.claim_many(keys[:2000] + keys[:10]) == keys[:2000]
    assert visited.claim_many(keys) == keys[2000:]
    assert len(visited) == 3000


def test_frontier_hands_back_what_was_pushed() -> None:
    frontier = MemoryFrontier(UNSHARED)
    requests = [r for r in REQUESTS if r.url.startswith("http")]
    assert frontier.push_many(requests) == len(requests)
    popped = []
    while (request := frontier.pop(timeout=0)) is not None:
        popped.append(request)
        frontier.done(request)
    assert sorted(popped) == sorted(requests)


def test_queued_requests_take_little_memory() -> None:
    """A packed queue of 20,000 seeds holds no ``Request`` and no per-field objects."""
    import tracemalloc

    requests = [Request(f"{PREFIX}/p/{i}.html", 0, None, "a.example") for i in range(20_000)]
    keys = [hashlib.blake2b(r.url.encode(), digest_size=16).digest() for r in requests]
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        frontier, visited = MemoryFrontier(UNSHARED), MemoryVisited()
        visited.claim_many(keys)
        frontier.push_many(requests)
        used = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
    assert used / len(requests) < 120  # a Request in a heap alone was ~350 bytes


def test_claim_new_gives_the_first_request_of_each_new_url() -> None:
    from crawler.base import Request
    from crawler.children import children_of, claim_new

    urls = [f"http://h.example/{i}" for i in range(6)]
    requests = children_of(urls, 2, "http://h.example/", "h.example")
    assert requests[3] == Request(urls[3], 2, "http://h.example/", "h.example")
    visited = MemoryVisited()
    assert claim_new(visited, requests[:2]) == requests[:2]
    # Same canonical key (query order) or same URL: the first request of the page wins.
    other = Request("http://h.example/q?b=2&a=1", 1)
    again = Request("http://h.example/q?a=1&b=2", 3)
    got = claim_new(visited, iter([*requests, other, again, requests[4]._replace(depth=9)]))
    assert got == [*requests[2:], other]
    assert claim_new(visited, []) == [] and claim_new(visited, requests) == []
