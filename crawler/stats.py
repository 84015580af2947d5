"""Crawl totals and the end-of-crawl summary line."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

from crawler.record import EncodedRecord, Record
from crawler.recrawl import GONE_STATUSES


@dataclass
class Stats:
    """Running totals of a crawl, updated by the pipeline consumer."""

    mode: str = "serial"
    pages: int = 0
    ok: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    bytes: int = 0
    items: int = 0
    # Against a durable crawl's stored pages (crawler/recrawl.py): 2xx pages it did not have,
    # pages that differ, pages that do not (304 or same digest), 404/410 where a page was.
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    gone: int = 0
    dropped_links: int = 0  # links longer than the URL length limit, left out
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None
    # URLs found but not queued: beyond their host's --max-pages-per-host (no record).
    skipped: int = 0
    # Queued requests the in-memory frontier wrote to disk, past --memory-limit.
    spilled: int = 0
    interrupted: bool = False  # by Ctrl-C
    stopped: bool = False  # by Crawler.stop (an early ``break`` out of crawl())

    def add(self, record: Record | EncodedRecord) -> None:
        """Count one record."""
        self.pages += 1
        self.bytes += record.bytes
        self.items += record.item_count
        self.dropped_links += record.dropped_links
        if record.error is None:
            self.ok += 1
        else:
            self.errors[record.error] += 1
        changed = record.changed
        if changed is None:
            if record.error is None and record.status is not None and 200 <= record.status < 300:
                self.new += 1
        elif not changed:
            self.unchanged += 1
        elif record.status in GONE_STATUSES:
            self.gone += 1
        else:
            self.changed += 1

    def finish(self) -> None:
        """Stop the clock."""
        self.finished = time.monotonic()

    @property
    def failed(self) -> int:
        """Records with an error."""
        return self.pages - self.ok

    @property
    def wall_s(self) -> float:
        """Seconds from start to finish (or to now while running)."""
        end = self.finished if self.finished is not None else time.monotonic()
        return end - self.started

    @property
    def pages_per_s(self) -> float:
        """Records per wall-clock second."""
        wall = self.wall_s
        return self.pages / wall if wall > 0 else 0.0

    def to_dict(self) -> dict[str, object]:
        """Totals as plain data (for ``--json`` output and the health service)."""
        return {
            "mode": self.mode,
            "pages": self.pages,
            "ok": self.ok,
            "errors": dict(self.errors),
            "bytes": self.bytes,
            "items": self.items,
            "new": self.new,
            "changed": self.changed,
            "unchanged": self.unchanged,
            "gone": self.gone,
            "dropped_links": self.dropped_links,
            "skipped": self.skipped,
            "spilled": self.spilled,
            "wall_s": round(self.wall_s, 3),
            "pages_per_s": round(self.pages_per_s, 1),
            "running": self.finished is None,
            "interrupted": self.interrupted,
            "stopped": self.stopped,
        }

    def summary(self) -> str:
        """One human line: pages ok, errors by kind, bytes, wall time, pages/s."""
        errors = ", ".join(f"{kind} {n}" for kind, n in self.errors.most_common())
        head = "crawl interrupted" if self.interrupted else "crawl finished"
        if self.stopped and not self.interrupted:
            head = "crawl stopped early"
        return (
            f"{head}: {self.pages} pages, {self.ok} ok, {self.failed} errors"
            + (f" ({errors})" if errors else "")
            + (f", {self.items} items" if self.items else "")
            + self._recrawl_summary()
            + (f", {self.dropped_links} links too long" if self.dropped_links else "")
            + (f", {self.skipped} skipped (--max-pages-per-host)" if self.skipped else "")
            + (f", {self.spilled} queued URLs spilled to disk" if self.spilled else "")
            + f"; {_human_bytes(self.bytes)} in {self.wall_s:.2f} s, {self.pages_per_s:.1f} pages/s"
        )

    def _recrawl_summary(self) -> str:
        # Only once pages were compared with a stored crawl: otherwise every page is "new".
        if not (self.changed or self.unchanged or self.gone):
            return ""
        return (
            f"; {self.new} new, {self.changed} changed, {self.unchanged} unchanged, "
            f"{self.gone} gone"
        )


def _human_bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"
