"""The ``--state`` file's rows handed out and not yet recorded: kept in memory, not in the file.

A lease costs no write (before, each pop was a transaction of its own, to mark its row): a
crash forgets the leases, and the rows, never marked, are handed out again at the next start,
which is what the file's ``leased`` column was reset for at every start. Bounded by the pages
in flight, not by the queue. Guarded by the state's lock (``SqliteState.lock``).
"""

from __future__ import annotations

_NONE: frozenset[int] = frozenset()


class Leases:
    """Queue rows in flight: by fingerprint (what a record is keyed by) and by host."""

    def __init__(self) -> None:
        self._by_key: dict[bytes, tuple[str, int]] = {}
        self._by_host: dict[str, set[int]] = {}

    def __len__(self) -> int:
        return len(self._by_key)

    def of_host(self, host: str) -> frozenset[int] | set[int]:
        """The row ids of ``host`` in flight."""
        return self._by_host.get(host, _NONE)

    def add(self, key: bytes, host: str, row: int) -> None:
        """Row ``row`` (fingerprint ``key``) of ``host`` is handed out."""
        self._by_key[key] = (host, row)
        self._by_host.setdefault(host, set()).add(row)

    def release(self, key: bytes) -> int | None:
        """Forget the lease of ``key``; its row id, or None when it was not leased here."""
        lease = self._by_key.pop(key, None)
        if lease is None:
            return None
        host, row = lease
        rows = self._by_host[host]
        rows.discard(row)
        if not rows:
            del self._by_host[host]
        return row
