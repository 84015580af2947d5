"""A compact set of URL fingerprints: an open-addressing hash table in two flat arrays.

A ``set`` of 16-byte ``bytes`` costs ~90 bytes per URL (a 49-byte object, a hash-table slot
and its spare room); here a URL costs 12 bytes of fingerprint in a table at most 2/3 full:
12 to 18 bytes, and twice that for the moment a growing table is copied.

What is kept of a 16-byte fingerprint (``crawler.links.urls.fingerprint``, a BLAKE2b digest, so
every bit is as good as any other) is its first 96 bits: 64 in ``array('Q')`` (which also picks
the slot) and 32 in a parallel ``array('I')``. Two different URLs are taken for one only when
all 96 bits agree: over a crawl of n URLs the chance that any pair does is about
n² / 2⁹⁷, ~6e-16 at 10 million URLs (a 64-bit key alone would be ~3e-6). A key of 0 marks an
empty slot, so a fingerprint whose first 64 bits are all zero is stored as 1: it then agrees
with a real 1 only if its other 32 bits agree too, as likely as any other collision.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable
from struct import Struct

try:  # add_many's loop in C (setup.py builds it when a compiler is there)
    from crawler.backends.memory._fingerprints import insert as _insert
except ImportError:
    _insert = None
if array("Q").itemsize != 8 or array("I").itemsize != 4:  # the C loop's layout, checked once
    _insert = None

_MIN_SLOTS = 1 << 10
_EMPTY = array("Q", [0])
_NO_CHECK = array("I", [0])
# A fingerprint's 64-bit key and 32-bit check in one call (``int.from_bytes`` of two slices).
_SPLIT = Struct("<QI").unpack_from


class FingerprintSet:
    """Fingerprints (``bytes`` of at least 12) seen so far; ``add`` is check-and-set."""

    __slots__ = ("_keys", "_checks", "_mask", "_len", "_limit")

    def __init__(self, slots: int = _MIN_SLOTS) -> None:
        size = _MIN_SLOTS
        while size < slots:
            size <<= 1
        self._allocate(size)
        self._len = 0

    def _allocate(self, size: int) -> None:
        self._keys = _EMPTY * size
        self._checks = _NO_CHECK * size
        self._mask = size - 1
        self._limit = size * 2 // 3

    def __len__(self) -> int:
        return self._len

    def __contains__(self, fingerprint: bytes) -> bool:
        key = int.from_bytes(fingerprint[:8], "little") or 1
        check = int.from_bytes(fingerprint[8:12], "little")
        keys, checks, mask = self._keys, self._checks, self._mask
        slot = key & mask
        while (found := keys[slot]) != 0:
            if found == key and checks[slot] == check:
                return True
            slot = (slot + 1) & mask
        return False

    def add(self, fingerprint: bytes) -> bool:
        """Add ``fingerprint``; True when it was not in the set before."""
        key = int.from_bytes(fingerprint[:8], "little") or 1
        check = int.from_bytes(fingerprint[8:12], "little")
        keys, checks, mask = self._keys, self._checks, self._mask
        slot = key & mask  # linear probing from the key's low bits (uniform: a digest)
        while (found := keys[slot]) != 0:
            if found == key and checks[slot] == check:
                return False
            slot = (slot + 1) & mask
        keys[slot] = key
        checks[slot] = check
        self._len += 1
        if self._len > self._limit:
            self._grow()
        return True

    def add_many(self, fingerprints: Iterable[bytes]) -> list[bytes]:
        """Add each of ``fingerprints``; those not in the set before, in order (one that
        repeats in ``fingerprints`` counts once). ``add`` in one loop: a page's links are
        claimed together, and most are known already."""
        fresh: list[bytes] = []
        if _insert is not None:
            batch = fingerprints if type(fingerprints) is list else list(fingerprints)
            start = 0
            while start < len(batch):
                room = self._limit - self._len + 1  # the insert after which the table grows
                start, added = _insert(
                    self._keys, self._checks, self._mask, batch, start, room, fresh
                )
                self._len += added
                if self._len > self._limit:
                    self._grow()
            return fresh
        keys, checks, mask = self._keys, self._checks, self._mask
        for fingerprint in fingerprints:
            key, check = _SPLIT(fingerprint)
            key = key or 1
            slot = key & mask
            while (found := keys[slot]) != 0:
                if found == key and checks[slot] == check:
                    break
                slot = (slot + 1) & mask
            else:
                keys[slot] = key
                checks[slot] = check
                self._len += 1
                fresh.append(fingerprint)
                if self._len > self._limit:
                    self._grow()
                    keys, checks, mask = self._keys, self._checks, self._mask
        return fresh

    def _grow(self) -> None:
        old_keys, old_checks = self._keys, self._checks
        self._allocate(len(old_keys) * 2)
        keys, checks, mask = self._keys, self._checks, self._mask
        for index, key in enumerate(old_keys):
            if key:
                slot = key & mask
                while keys[slot]:
                    slot = (slot + 1) & mask
                keys[slot] = key
                checks[slot] = old_checks[index]

    def nbytes(self) -> int:
        """Bytes the two tables take (their item storage)."""
        return len(self._keys) * (self._keys.itemsize + self._checks.itemsize)
