"""The Redis crawl's visited set as the engine sees it, and what this process knows is claimed.

The real check-and-set is ``PUSH`` (``SADD`` in the Lua script, ``RedisFrontier.push_many``):
``RedisVisited`` only filters out the links this process already knows are claimed
(``Claimed``), so they are not sent to Redis again.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from crawler.backends.redis.state import RedisState

# Fingerprints a process remembers as claimed (``Claimed``): a few MB at most.
CLAIMED_MAX = 65_536


class Claimed:
    """Fingerprints this process knows are claimed in the crawl: it pushed them (the ``PUSH``
    returned) or leased them. A link found again is then not sent to Redis again: links
    repeat from page to page (menus, pagination), and each one sent costs its encoding, its
    share of the call and a seen-set lookup in the script. Claims are never undone during a
    crawl, so what this says is never stale. Bounded: past ``limit`` it starts over (a link
    sent again is only dropped by the script, as before)."""

    def __init__(self, limit: int = CLAIMED_MAX) -> None:
        self.limit = limit
        self.keys: set[bytes] = set()  # read as is (a set lookup per link, no call)

    def __contains__(self, key: bytes) -> bool:
        return key in self.keys

    def update(self, keys: Iterable[bytes]) -> None:
        """Remember ``keys`` as claimed."""
        if len(self.keys) >= self.limit:
            self.keys = set()
        self.keys.update(keys)


class RedisVisited:
    """The crawl's visited set, as the engine sees it: it passes every key but those this
    process knows are claimed already (``Claimed``), because ``RedisFrontier.push_many``
    claims and queues in one script.

    Claiming here and pushing there would lose a URL to a worker killed in between, and asking
    Redis here would cost a round trip per page to save the bytes of links already seen.
    """

    def __init__(self, state: RedisState, claimed: Claimed | None = None) -> None:
        self.state = state
        self.claimed = Claimed() if claimed is None else claimed

    def __len__(self) -> int:
        counts = self.state.counters()
        return counts["scheduled"] + counts["skipped"]

    def claim_many(self, keys: Sequence[bytes]) -> list[bytes]:
        """``keys`` but those this process knows are claimed (``push_many`` claims the rest)."""
        known = self.claimed.keys
        return [key for key in keys if key not in known]
