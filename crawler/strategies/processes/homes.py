"""Which child a page goes to: its host's home, the child that took the host's first page.

Why: each child keeps its own connection to every host it fetched from. Pages handed to
whichever child read the pool's task queue first spread a host over every child, so a crawl
of many hosts with a few pages each opened a connection (and built a pool) per host per child,
and those are what a new host costs. So the parent runs one pool per child and sends a page to
its host's home while that child has room; a page whose home is full goes to the child with the
most room (a single host still keeps every child busy), and its home stays where it was.

Pure bookkeeping, no processes: the parent calls ``pick`` for every page it hands out.
"""

from __future__ import annotations

from collections.abc import Sequence


class HostHomes:
    """The home child of each recently seen host."""

    # Hosts remembered; past it they are forgotten all at once (a forgotten host just gets a
    # new home, at worst one more connection).
    MAX_HOSTS = 1 << 16

    def __init__(self, children: int, max_hosts: int = MAX_HOSTS) -> None:
        self.children = children
        self.max_hosts = max_hosts
        self._homes: dict[str, int] = {}

    def pick(self, host: str, room: Sequence[int]) -> int:
        """The child for a page of ``host``; ``room[k]``: how many more tasks child ``k`` may
        take now (some child has room). Its home if that one has room, else the roomiest
        (the first such child, for a host without a home, becomes its home)."""
        if self.children == 1:
            return 0
        home = self._homes.get(host)
        if home is not None and room[home] > 0:
            return home
        roomiest = max(range(self.children), key=room.__getitem__)
        if home is None:
            if len(self._homes) >= self.max_hosts:
                self._homes.clear()
            self._homes[host] = roomiest
        return roomiest

    def home(self, host: str) -> int | None:
        """``host``'s home child, if it has one."""
        return self._homes.get(host)
