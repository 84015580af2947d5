"""Backends by name: where the frontier and visited set live. Imported only when chosen."""

from __future__ import annotations

from crawler.base import Backend
from crawler.config import CrawlConfig


def open_backend(config: CrawlConfig) -> Backend:
    """The backend ``config`` asks for (the in-memory one by default)."""
    from crawler.backends.memory import MemoryBackend

    return MemoryBackend()
