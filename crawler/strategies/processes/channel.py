"""The one-way channel that carries messages (``messages.py``) from the children to the parent.

It is what ``multiprocessing.SimpleQueue`` is (a pipe plus a process-shared write lock), with a
timed ``get``: the parent's loop reads it between its other work, waiting at most that long. Not a
``multiprocessing.Queue`` on purpose: its feeder thread buffers messages in the child, and in a
gevent-patched child that feeder is a greenlet that never runs while the child blocks reading the
child's task pipe, so the last records of a crawl would stay in the child. A ``put`` here is
written before it returns, so a record is never left in a child's memory.
"""

from __future__ import annotations

import pickle
from typing import Any


class Channel:
    """Many writers (children), one reader (the parent). Picklable to children when they start."""

    def __init__(self, context: Any) -> None:
        self._reader, self._writer = context.Pipe(duplex=False)
        self._lock = context.Lock()

    def put(self, message: Any) -> None:
        """Send one message (pickled outside the lock, written whole under it)."""
        data = pickle.dumps(message, pickle.HIGHEST_PROTOCOL)
        with self._lock:
            self._writer.send_bytes(data)

    def get(self, timeout: float) -> Any | None:
        """The next message, or None if none arrives within ``timeout`` seconds."""
        if self._reader.poll(timeout):
            return pickle.loads(self._reader.recv_bytes())
        return None

    def close(self) -> None:
        """Close both ends (in the parent, once the children are gone)."""
        self._reader.close()
        self._writer.close()
