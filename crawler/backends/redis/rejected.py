"""A queued Redis item that fails its checks when popped: never fetched, it ends with a record.

The queue lives in a server other workers write to, so a popped item is checked again before it
is fetched (``RequestChecker``, in ``RedisFrontier``). One that fails gets a ``rejected``
record through ``COMPLETE``, which ends its lease and frees its host as any record does, and is
counted in the crawl's ``rejected``; its URL is treated as hostile data (``shown_item``).
"""

from __future__ import annotations

import logging

from crawler.backends.codec import encode_record
from crawler.backends.redis.items import decode_fields
from crawler.backends.redis.state import RedisState
from crawler.links.urls import FINGERPRINT_BYTES
from crawler.record import Record
from crawler.safetext import escape_surrogates

log = logging.getLogger(__name__)


def reject(state: RedisState, item: bytes, why: str, *, mode: str, delay_ms: int) -> None:
    """End the popped ``item``, which failed re-validation for ``why``, with its ``rejected``
    record in the crawl (``delay_ms``: its host's delay, from the record's end)."""
    shown = shown_item(item)
    log.warning("redis: rejected a queued item (%s): %s", why, shown[:200])
    record = Record(url=shown, error="rejected", detail=why, mode=mode)
    state.run(
        "COMPLETE",
        (),
        [state.prefix, item[:FINGERPRINT_BYTES], encode_record(record), "0", delay_ms],
    )
    state.call("hincrby", state.key("stats"), "rejected", 1)


def shown_item(item: bytes) -> str:
    """The URL of a rejected item as its record shows it: its URL if it has one, else its
    raw text; escaped and cut to 2,000 characters (it is hostile data)."""
    try:
        text = decode_fields(item)[0]
    except (ValueError, TypeError):
        text = item[FINGERPRINT_BYTES:].decode("utf-8", "replace")
    return escape_surrogates(text[:2000])
