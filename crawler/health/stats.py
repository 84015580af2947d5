"""The health service's ``STATS`` reply: a stats provider's figures as one JSON line, cached.

The provider may cost a database query (a Redis or SQLite frontier's snapshot), so its figures
are asked for at most once per ``ttl`` seconds, whoever asks and however often. Figures that
cannot be had (the provider raised) or cannot be encoded (an object, NaN) make the reply
``{"error": "stats unavailable", ...}``: nothing is turned into a string to make it fit.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from typing import Any

from crawler.errors import one_line

log = logging.getLogger(__name__)

StatsProvider = Callable[[], dict[str, Any]]


class StatsLine:
    """Calling it returns the ``STATS`` reply line (``HealthServer`` documents its fields).

    Called on the server's thread/greenlet only, so the cache needs no lock. ``uptime_s``
    counts from this object's creation, which the server does once it is bound.
    """

    def __init__(self, provider: StatsProvider | None, ttl: float) -> None:
        self._provider = provider
        self._ttl = ttl
        self._started = time.monotonic()
        # (when, the provider's figures, or None when they could not be had)
        self._cache: tuple[float, dict[str, Any] | None] | None = None

    def __call__(self) -> bytes:
        base = {
            "pid": os.getpid(),
            "uptime_s": round(time.monotonic() - self._started, 3),
        }
        if self._provider is None:
            return json_line({**base, "crawl": None})
        figures = self._figures(self._provider)
        if figures is None:
            return json_line({"error": "stats unavailable", **base})
        return json_line({**figures, **base})

    def _figures(self, provider: StatsProvider) -> dict[str, Any] | None:
        """The provider's figures, at most ``ttl`` old; None if it failed or returned
        something JSON cannot encode."""
        now = time.monotonic()
        cached = self._cache
        if cached is not None and now - cached[0] < self._ttl:
            return cached[1]
        figures: dict[str, Any] | None
        try:
            figures = dict(provider())
            json_line(figures)  # encodable? (no default=str: an object is "unavailable")
        except Exception as exc:
            # One line (at most one per ``ttl``): during a backend outage this is expected,
            # and a traceback on the crawl's stderr would read as a crash.
            log.warning("health service: stats unavailable: %s", one_line(exc))
            figures = None
        self._cache = (now, figures)
        return figures


def json_line(payload: dict[str, Any]) -> bytes:
    """``payload`` as one compact JSON line; ``ValueError`` for NaN or Infinity."""
    # allow_nan=False: NaN/Infinity are not JSON; better "unavailable" than invalid.
    text = json.dumps(payload, separators=(",", ":"), allow_nan=False)
    return text.encode("utf-8") + b"\n"
