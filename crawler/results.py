"""``crawl results``: export every record of a shared (Redis) or resumable (SQLite) crawl."""

from __future__ import annotations

from crawler.base import Sink
from crawler.errors import BackendError


def export(
    sink: Sink, *, backend: str | None, crawl_id: str, state: str | None, retry: float = 30.0
) -> str:
    """Write every stored record of the crawl to ``sink``; return a one-line summary. A Redis
    outage is retried for ``retry`` seconds."""
    if backend is not None:
        from crawler.backends.redis.state import RedisState

        store = RedisState(backend, crawl_id, retry=retry)
        if not store.call("exists", store.key("config")):
            raise BackendError(f"no crawl {crawl_id!r} in {store.shown}")
        name = f"crawl {crawl_id!r}"
    else:
        import os

        from crawler.backends.sqlite.backend import SqliteState

        assert state is not None
        if not os.path.exists(state):
            raise BackendError(f"--state {state!r}: no such file")
        store = SqliteState(state, exclusive=False)
        name = f"--state {state!r}"
    try:
        written = 0
        for record in store.records():
            sink.write(record)
            written += 1
        counts = store.counters()
    finally:
        sink.close()
        if backend is None:
            store.close()
    pending = counts.get("queued", 0) + counts.get("leased", 0)
    status = "complete" if pending == 0 else f"{pending} URLs not crawled yet"
    return f"{written} records exported from {name} ({status})"
