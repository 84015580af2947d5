"""Backends by name: where the frontier and visited set live. Imported only when chosen."""

from __future__ import annotations

from crawler.base import Backend
from crawler.config import CrawlConfig


def open_backend(config: CrawlConfig) -> Backend:
    """The backend ``config`` asks for: Redis (``backend``), a SQLite file (``state``), or the
    in-memory one by default."""
    if config.backend is not None:
        from crawler.backends.redis.backend import RedisBackend

        return RedisBackend(config)
    if config.state is not None:
        from crawler.backends.sqlite.backend import SqliteBackend

        return SqliteBackend(config)
    from crawler.backends.memory.backend import MemoryBackend

    return MemoryBackend()
