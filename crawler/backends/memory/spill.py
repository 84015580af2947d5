"""Where the in-memory frontier puts queued requests beyond its memory bound: segment files.

A *chunk* is a list of packed requests (``packed.py``) written at once and read back whole, in
the order written: their count and lengths as 4-byte integers, then the entries joined. Chunks
are appended to the current segment file; its owner (``HostQueue``) keeps each chunk's address
(one ``int``: what a spilled request costs in memory is a share of it) and decides the order in
which chunks come back, so the files never need an index. A segment past
``segment_bytes`` is closed to new chunks, and deleted once every chunk in it has been read:
the disk follows the queue down as the memory does.

The directory is made at the first write (a crawl that never spills touches no disk) under
``tempfile.gettempdir()`` (``TMPDIR``), and removed by ``close``; a finaliser removes it too
if the store is dropped or the interpreter exits without ``close`` (only in the process that
made it: a forked child must not delete its parent's files). Not thread-safe: the frontier
calls it under its own lock.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import weakref
from array import array
from typing import IO

from crawler.errors import OutputError

SEGMENT_BYTES = 64 * 1024 * 1024
_LENGTH = "I"  # entries are a URL or two: far below 4 GB
assert array(_LENGTH).itemsize == 4


# A chunk's address: segment << 64 | offset << 32 | size (a chunk and a segment stay < 4 GB).
Chunk = int
_MASK = (1 << 32) - 1


class SpillStore:
    """Append-only segment files of chunks, each read back once."""

    def __init__(self, *, segment_bytes: int = SEGMENT_BYTES, parent: str | None = None) -> None:
        self.segment_bytes = segment_bytes
        self._parent = parent  # where the directory goes (None: the system's temp directory)
        self.directory: str | None = None
        self._files: dict[int, IO[bytes]] = {}  # open segments
        self._live: dict[int, int] = {}  # segment -> chunks written and not read yet
        self._current = -1  # the segment new chunks go to
        self._end = 0  # its length
        self._finalizer: weakref.finalize | None = None
        self.chunks_written = 0
        self.entries_written = 0  # requests written, over the store's life (a request read
        # back and spilled again counts twice)
        self.bytes_written = 0

    def write(self, entries: list[bytes]) -> Chunk:
        """Append ``entries`` (not empty) as one chunk; where it lies. A full or unwritable
        disk is an ``OutputError`` that says what to do."""
        try:
            return self._write(entries)
        except OSError as exc:
            where = self.directory or self._parent or tempfile.gettempdir()
            raise OutputError(
                f"cannot write the queue's spill files in {where!r}: {exc.strerror or exc} "
                "(set TMPDIR to a disk with room, or --memory-limit none)"
            ) from None

    def _write(self, entries: list[bytes]) -> Chunk:
        if self._current < 0 or self._end >= self.segment_bytes:
            self._next_segment()
        lengths = array(_LENGTH, [len(entries)])
        lengths.extend(map(len, entries))
        data = lengths.tobytes() + b"".join(entries)
        segment = self._current
        handle = self._files[segment]
        handle.seek(self._end)
        handle.write(data)
        chunk = segment << 64 | self._end << 32 | len(data)
        self._end += len(data)
        self._live[segment] += 1
        self.chunks_written += 1
        self.entries_written += len(entries)
        self.bytes_written += len(data)
        return chunk

    def read(self, chunk: Chunk) -> list[bytes]:
        """The entries of ``chunk``, in the order written. A chunk is read once: its segment
        is deleted when its last chunk was read (and no more go to it)."""
        segment, offset, size = chunk >> 64, chunk >> 32 & _MASK, chunk & _MASK
        try:
            handle = self._files[segment]
            handle.seek(offset)
            data = handle.read(size)
        except OSError as exc:
            raise OutputError(
                f"cannot read the queue's spill files: {exc.strerror or exc}"
            ) from None
        if len(data) != size:
            raise OutputError(
                f"the queue's spill file {segment} in {self.directory!r} was cut short"
            )
        count = int.from_bytes(data[:4], sys.byteorder)
        lengths = array(_LENGTH)
        lengths.frombytes(data[4 : 4 + 4 * count])
        entries = []
        at = 4 + 4 * count
        for length in lengths:
            entries.append(data[at : at + length])
            at += length
        self._live[segment] -= 1
        if not self._live[segment] and segment != self._current:
            self._drop(segment)
        return entries

    def segments(self) -> int:
        """How many segment files exist now."""
        return len(self._files)

    def close(self) -> None:
        """Remove every file and the directory; the store may be written to again (anew)."""
        for handle in self._files.values():
            handle.close()
        self._files.clear()
        self._live.clear()
        self._current, self._end = -1, 0
        if self._finalizer is not None:
            self._finalizer()  # removes the directory, once
            self._finalizer = None
        self.directory = None

    def _next_segment(self) -> None:
        if self.directory is None:
            self.directory = tempfile.mkdtemp(prefix="crawler-spill-", dir=self._parent)
            self._finalizer = weakref.finalize(self, _remove, self.directory, os.getpid())
        old = self._current
        self._current += 1
        self._end = 0
        path = os.path.join(self.directory, f"{self._current:06d}.seg")
        self._files[self._current] = open(path, "w+b")  # noqa: SIM115 - kept open on purpose
        self._live[self._current] = 0
        if old >= 0 and not self._live[old]:
            self._drop(old)

    def _drop(self, segment: int) -> None:
        self._files.pop(segment).close()
        del self._live[segment]
        assert self.directory is not None
        os.unlink(os.path.join(self.directory, f"{segment:06d}.seg"))


def _remove(directory: str, owner: int) -> None:
    # Not a method: a finaliser must not hold the store alive. Only the process that made the
    # directory removes it (a forked pool child inherits the finaliser, not the files' fate).
    if os.getpid() == owner:
        shutil.rmtree(directory, ignore_errors=True)
