"""Caches bounded by the bytes they hold, not by their number of entries.

A cache of URLs capped at N entries holds N times the longest URL a hostile page can write: at
65,536 entries and 200 KB links that is 13 GB. These caches count an estimate of each entry's
size (its key and value objects plus the dict's own share) and, when over budget, keep only the
newer half of their entries. A hit is one ``dict.get``: no reordering, no lock. Under threads,
a shrink racing an insert may drop an entry or miscount a few bytes; a cache only ever costs a
recomputation for that.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any, TypeVar

# Per entry, beyond the key and value objects: the dict's index and entry slots, amortised.
ENTRY_OVERHEAD = 64

_MISSING = object()
# Types whose ``sys.getsizeof`` is what ``object_bytes`` says (their whole size, no referents).
_FLAT = frozenset({str, bytes})
T = TypeVar("T")


def object_bytes(value: object) -> int:
    """An estimate of the bytes ``value`` holds (a str, bytes, a tuple of them, or a small
    object), cheap enough to call on every insert: ``sys.getsizeof`` only for non-ASCII text."""
    kind = type(value)
    if kind is str:
        return 49 + len(value) if value.isascii() else sys.getsizeof(value)  # type: ignore[attr-defined]
    if kind is bytes:
        return 33 + len(value)  # type: ignore[arg-type]
    if kind is tuple:
        return 40 + 8 * len(value) + sum(map(object_bytes, value))  # type: ignore[arg-type]
    return 16  # None, a small int or a shared singleton: the reference is all it costs


class ByteBoundedCache:
    """A dict whose estimated size stays under ``max_bytes``: when an insert goes over, the older
    half of the entries is dropped (insertion order; O(1) amortised per insert)."""

    __slots__ = ("data", "get", "max_bytes", "bytes")

    def __init__(self, max_bytes: int) -> None:
        self.data: dict[Any, Any] = {}
        self.get = self.data.get  # hits are a bound-method call away: no Python frame
        self.max_bytes = max_bytes
        self.bytes = 0

    def __len__(self) -> int:
        return len(self.data)

    def put(self, key: Any, value: Any) -> None:
        """Store ``value`` under ``key``, shrinking first if the entry would go over budget."""
        # A str or bytes (most keys and values) is counted by a C call, not object_bytes'.
        size = (
            (sys.getsizeof(key) if type(key) in _FLAT else object_bytes(key))
            + (sys.getsizeof(value) if type(value) in _FLAT else object_bytes(value))
            + ENTRY_OVERHEAD
        )
        if self.bytes + size > self.max_bytes:
            self._shrink(self.max_bytes // 2 - size)
        if size <= self.max_bytes:
            self.data[key] = value
            self.bytes += size

    def clear(self) -> None:
        """Drop every entry."""
        self.data.clear()
        self.bytes = 0

    def _shrink(self, budget: int) -> None:
        # Keep the newest entries that fit in ``budget`` (rebuilt in place: ``get`` stays bound).
        kept: list[tuple[Any, Any]] = []
        total = 0
        for key, value in reversed(list(self.data.items())):
            size = object_bytes(key) + object_bytes(value) + ENTRY_OVERHEAD
            if total + size > budget:
                break
            kept.append((key, value))
            total += size
        self.data.clear()
        self.data.update(reversed(kept))
        self.bytes = total


def cached_by_bytes(max_bytes: int) -> Callable[[Callable[[str], T]], Callable[[str], T]]:
    """Memoise a one-argument function in a ``ByteBoundedCache`` of ``max_bytes``. Exceptions
    are not cached (as with ``functools.lru_cache``). The wrapper has ``cache`` and
    ``cache_clear``."""

    def decorate(fn: Callable[[str], T]) -> Callable[[str], T]:
        cache = ByteBoundedCache(max_bytes)
        get, put = cache.get, cache.put

        @functools.wraps(fn)
        def cached(arg: str) -> T:
            value = get(arg, _MISSING)
            if value is _MISSING:
                value = fn(arg)
                put(arg, value)
            return value  # type: ignore[return-value]

        cached.cache = cache  # type: ignore[attr-defined]
        cached.cache_clear = cache.clear  # type: ignore[attr-defined]
        return cached

    return decorate


class GroupedCache:
    """Dicts of entries by group (a directory's hrefs, say), their estimated size in all under
    ``max_bytes``. A caller holds a group's plain dict and looks entries up in it directly
    (``map(group.get, keys)``: no Python frame per key), and stores through ``put`` so that the
    bytes are counted. Over budget, the older half of the groups is dropped (insertion order);
    a group that alone outgrows half the budget is emptied. A group dropped while a caller
    holds it only stops being shared: entries put into it are not counted, and go with it."""

    __slots__ = ("groups", "sizes", "max_bytes", "bytes")

    def __init__(self, max_bytes: int) -> None:
        self.groups: dict[Any, dict[Any, Any]] = {}
        self.sizes: dict[Any, int] = {}
        self.max_bytes = max_bytes
        self.bytes = 0

    def __len__(self) -> int:
        return sum(map(len, list(self.groups.values())))

    def group(self, name: Any) -> dict[Any, Any]:
        """The dict of group ``name`` (created empty if new)."""
        entries = self.groups.get(name)
        if entries is None:
            entries = self.groups[name] = {}
            size = object_bytes(name) + 2 * ENTRY_OVERHEAD
            self.sizes[name] = size
            self._count(name, size)
        return entries

    def put(self, name: Any, entries: dict[Any, Any], key: Any, value: Any) -> None:
        """Store ``value`` under ``key`` in ``entries``, the dict of group ``name`` (``key`` and
        ``value`` flat objects, such as str, bytes or bool: ``sys.getsizeof`` counts them)."""
        size = sys.getsizeof(key) + sys.getsizeof(value) + ENTRY_OVERHEAD
        if size > self.max_bytes // 2:
            return
        entries[key] = value
        if self.groups.get(name) is entries:
            sizes = self.sizes
            sizes[name] = sizes.get(name, 0) + size
            self._count(name, size)

    def put_many(
        self, name: Any, entries: dict[Any, Any], keys: list[Any], values: list[Any]
    ) -> None:
        """``put`` of each key and value, pairwise: the sizes summed in C loops, the group
        counted once."""
        sizes = list(map(sys.getsizeof, keys))
        sizes += map(sys.getsizeof, values)
        size = sum(sizes) + ENTRY_OVERHEAD * len(keys)
        if size > self.max_bytes // 2:  # one of them may be too big: each on its own
            for key, value in zip(keys, values, strict=True):
                self.put(name, entries, key, value)
            return
        entries.update(zip(keys, values, strict=True))
        if self.groups.get(name) is entries:
            sizes_of = self.sizes
            sizes_of[name] = sizes_of.get(name, 0) + size
            self._count(name, size)

    def clear(self) -> None:
        """Drop every group."""
        self.groups.clear()
        self.sizes.clear()
        self.bytes = 0

    def _count(self, name: Any, size: int) -> None:
        # Under threads another shrink may swap the dicts meanwhile: every read tolerates a
        # missing group (a cache only ever miscounts or drops an entry then, never raises).
        self.bytes += size
        if self.bytes <= self.max_bytes:
            return
        budget = self.max_bytes // 2
        groups, sizes = self.groups, self.sizes
        if sizes.get(name, 0) > budget:  # one group too big to keep: start it afresh
            groups.get(name, {}).clear()
            sizes[name] = object_bytes(name) + 2 * ENTRY_OVERHEAD
        kept: list[tuple[Any, dict[Any, Any], int]] = []
        total = 0
        for group in reversed(list(groups)):
            entries, group_size = groups.get(group), sizes.get(group)
            if entries is None or group_size is None:
                continue
            if total + group_size > budget:
                break
            kept.append((group, entries, group_size))
            total += group_size
        kept.reverse()
        self.groups = {group: entries for group, entries, _ in kept}
        self.sizes = {group: group_size for group, _, group_size in kept}
        self.bytes = total
