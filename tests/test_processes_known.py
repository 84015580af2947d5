"""A processes child remembers the keys it has claimed (``strategies/processes/known.py``)."""

from __future__ import annotations

from crawler.backends.memory.backend import MemoryBackend
from crawler.backends.memory.visited import MemoryVisited
from crawler.strategies.processes.known import KnownVisited


def k(name: str) -> bytes:
    """A 16-byte key, as URL fingerprints are."""
    return name.encode().ljust(16, b".")


class Asked(MemoryVisited):
    """The memory visited set, keeping what each ``claim_many`` was asked."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[list[bytes]] = []

    def claim_many(self, keys):
        self.asked.append(list(keys))
        return super().claim_many(keys)


def test_only_keys_not_asked_before_go_to_the_shared_set():
    shared = Asked()
    known = KnownVisited(shared)
    assert known.claim_many([k("a"), k("b")]) == [k("a"), k("b")]
    assert known.claim_many([k("a"), k("b"), k("c")]) == [k("c")]
    assert known.claim_many([k("c"), k("a")]) == []
    assert shared.asked == [[k("a"), k("b")], [k("c")]]  # the last batch cost no call


def test_a_key_another_process_claimed_is_not_new_and_is_remembered():
    shared = Asked()
    mine, other = KnownVisited(shared), KnownVisited(shared)
    assert other.claim_many([k("x")]) == [k("x")]
    assert mine.claim_many([k("x"), k("y")]) == [k("y")]
    assert mine.claim_many([k("x")]) == []
    assert shared.asked[-1] == [k("x"), k("y")]


def test_past_its_limit_it_starts_afresh_and_still_answers_right():
    shared = Asked()
    known = KnownVisited(shared, limit=2)
    assert known.claim_many([k("a"), k("b")]) == [k("a"), k("b")]
    assert known.claim_many([k("c")]) == [k("c")]  # over the limit: forgets a and b
    assert known.claim_many([k("a"), k("c")]) == []  # a asked again, and not new
    assert shared.asked[-1] == [k("a")]
    assert len(known) == 3


def test_a_failed_call_teaches_nothing():
    class Gone(MemoryVisited):
        def claim_many(self, keys):
            raise EOFError("the manager is gone")

    known = KnownVisited(Gone())
    for _ in range(2):  # asked again: nothing was remembered
        try:
            known.claim_many([k("a")])
        except EOFError:
            pass
        else:
            raise AssertionError("the failure must reach the caller")


def test_only_the_memory_backend_claims_in_its_visited_set():
    from crawler.backends.redis.backend import RedisBackend
    from crawler.backends.sqlite.backend import SqliteBackend

    assert MemoryBackend.claims_in_visited is True
    # Their claim is push_many's: a key claim_many let through may still be refused there.
    assert SqliteBackend.claims_in_visited is False
    assert RedisBackend.claims_in_visited is False
