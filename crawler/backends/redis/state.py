"""A connection to one crawl's keys in Redis, and its Lua scripts (picklable)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import redis

from crawler.backends.codec import decode_record
from crawler.backends.redis import scripts as lua
from crawler.config import redact_url, scrub
from crawler.errors import BackendError
from crawler.record import Record


class RedisState:
    """A connection to one crawl's keys, and its scripts. Picklable: a copy sent to another
    process reconnects from the URL there (a socket cannot cross a process boundary)."""

    def __init__(self, url: str, crawl_id: str) -> None:
        self.url = url
        self.crawl_id = crawl_id
        self._connect()

    @property
    def shown(self) -> str:
        """The URL as messages show it: without its password."""
        return redact_url(self.url)

    def failure(self, exc: Exception) -> BackendError:
        """A one-line ``BackendError`` for ``exc``; the password never appears in it."""
        return BackendError(scrub(f"redis {self.shown}: {exc}", self.url))

    def _connect(self) -> None:
        try:
            self.client = redis.Redis.from_url(self.url, socket_timeout=30)
        except ValueError as exc:
            raise BackendError(scrub(f"--backend {self.shown!r}: {exc}", self.url)) from None
        self.scripts = {
            name: self.client.register_script(getattr(lua, name))
            for name in ("PUSH", "POP", "RENEW", "COMPLETE", "ACQUIRE_HOST")
        }

    def __getstate__(self) -> dict[str, str]:
        return {"url": self.url, "crawl_id": self.crawl_id}

    def __setstate__(self, state: dict[str, str]) -> None:
        self.url, self.crawl_id = state["url"], state["crawl_id"]
        self._connect()

    def key(self, name: str) -> str:
        """The Redis key ``name`` of this crawl."""
        return f"crawl:{{{self.crawl_id}}}:{name}"

    def run(self, script: str, keys: Sequence[str], args: Sequence[Any]) -> Any:
        """Run one of the scripts; a Redis failure becomes a one-line ``BackendError``."""
        try:
            return self.scripts[script](keys=[self.key(k) for k in keys], args=list(args))
        except redis.RedisError as exc:
            raise self.failure(exc) from None

    def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """One plain Redis command, with the same error mapping."""
        try:
            return getattr(self.client, method)(*args, **kwargs)
        except redis.RedisError as exc:
            raise self.failure(exc) from None

    def counters(self) -> dict[str, int]:
        """Crawl-wide counts: scheduled, recorded, requeued, queued, leased."""
        stats = {k.decode(): int(v) for k, v in self.call("hgetall", self.key("stats")).items()}
        stats["queued"] = self.call("llen", self.key("queue"))
        stats["leased"] = self.call("zcard", self.key("leases"))
        return stats

    def records(self) -> Iterator[Record]:
        """Every record of the crawl (in no particular order)."""
        try:
            for _, data in self.client.hscan_iter(self.key("records"), count=500):
                yield decode_record(data)
        except redis.RedisError as exc:
            raise self.failure(exc) from None
