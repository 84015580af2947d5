"""Page states (``crawler/recrawl.py``) of a Redis crawl: one hash, ``crawl:{ID}:pages``
(URL fingerprint -> JSON), beside the frontier's keys, and the reset that starts a re-crawl.

A state is written through the process's outbox (``outbox.py``): the next ``POP`` carries it,
so storing it costs no round trip of its own. The stores of a process (one per loop) share one
connection to the crawl (``_open_state``): one per loop cost a connection's set-up each, where
a store sends almost nothing of its own."""

from __future__ import annotations

import json
import os
import threading

import redis

from crawler.backends.redis.outbox import outbox_for
from crawler.backends.redis.state import RedisState
from crawler.base import Request
from crawler.errors import BackendError
from crawler.links.urls import fingerprint
from crawler.recrawl import PageState

# Keys a re-crawl keeps: the page states and the crawl's scope.
_KEPT = ("pages", "config")

_Key = tuple[int, str, str, float]  # pid, URL, crawl id, retry
_SHARED: dict[_Key, tuple[RedisState, int]] = {}  # -> (state, stores using it)
_LOCK = threading.Lock()


def _open_state(url: str, crawl_id: str, retry: float) -> tuple[RedisState, _Key]:
    """This process's connection to the crawl for its page stores, and its key; each
    ``_open_state`` is paired with a ``_close_state``, the last of which closes it."""
    key = (os.getpid(), url, crawl_id, retry)
    with _LOCK:
        state, users = _SHARED.get(key) or (None, 0)
        if state is None:
            state = RedisState(url, crawl_id, retry=retry)
        _SHARED[key] = (state, users + 1)
    return state, key


def _close_state(key: _Key) -> None:
    with _LOCK:
        state, users = _SHARED.pop(key)
        if users > 1:
            _SHARED[key] = (state, users - 1)
            return
    state.client.close()


class RedisPages:
    """The page-state hash of one crawl, through the connection its process's stores share."""

    def __init__(self, url: str, crawl_id: str, *, retry: float = 30.0) -> None:
        self.state, self._shared = _open_state(url, crawl_id, retry)
        self.key = self.state.key("pages")
        self.outbox = outbox_for(url, crawl_id)
        self._closed = False

    def empty(self) -> bool:
        """True when the hash holds no page."""
        return not self.state.call("exists", self.key)

    def get(self, url: str) -> PageState | None:
        """The stored state of ``url``, or None."""
        fp = fingerprint(url)
        data: bytes | None = self.outbox.page(fp)
        if data is None:
            data = self.state.call("hget", self.key, fp)
        return PageState.from_data(json.loads(data)) if data else None

    def put(self, url: str, state: PageState) -> None:
        """Keep ``state`` for ``url``."""
        data = json.dumps(state.to_data(), ensure_ascii=False)
        self.outbox.put_page(fingerprint(url), data)
        if self.outbox.due():
            self.outbox.send(self.state)

    def drop(self, url: str) -> None:
        """Forget ``url``."""
        self.outbox.put_page(fingerprint(url), "")
        if self.outbox.due():
            self.outbox.send(self.state)

    def flush(self) -> None:
        """Send what waits in the outbox (this process's, shared by its loops)."""
        self.outbox.send(self.state)

    def close(self) -> None:
        """Send what waits in the outbox; the last store of the process to close drops the
        connection."""
        if self._closed:
            return
        self._closed = True
        try:
            self.outbox.send(self.state)
        finally:
            _close_state(self._shared)

    def begin_recrawl(self) -> list[Request]:
        """Start the crawl over (a finished one only): delete every key of the crawl but the
        page states and the scope, and return the stored pages' requests to queue again.

        Start a re-crawl from one worker; others join it without ``--recrawl``."""
        counts = self.state.counters()
        if counts.get("queued") or counts.get("leased"):
            going = counts.get("queued", 0) + counts.get("leased", 0)
            raise BackendError(
                f"--recrawl: crawl {self.state.crawl_id!r} is unfinished ({going} URLs to go); "
                "join it without --recrawl"
            )
        kept = {self.state.key(name).encode() for name in _KEPT}
        client = self.state.client
        try:  # not retried: a scan started again would start over
            keys = client.scan_iter(match=self.state.key("*"), count=500)
            doomed = [key for key in keys if key not in kept]
            for start in range(0, len(doomed), 500):
                client.delete(*doomed[start : start + 500])
            stored = [data for _, data in client.hscan_iter(self.key, count=500)]
        except redis.RedisError as exc:
            raise self.state.failure(exc) from None
        return [PageState.from_data(json.loads(data)).request for data in stored]
