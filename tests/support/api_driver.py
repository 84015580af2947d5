"""Drives the library API in one mode, in a fresh process, as a user's program would.

    python -m tests.support.api_driver MODE SITE_URL   (from the repository root)

Prints one JSON object: the items and parse errors of two full crawls with ``scrapers.mixed``
(crawl() called twice in one process), then what is left after a ``break`` out of a third
crawl (threads, greenlets, child processes). A fresh process per mode, because gevent mode
patches the whole process, and so that leftovers cannot hide among a test runner's own.
"""

from __future__ import annotations

import gc
import json
import os
import sys
import threading

import crawler  # (light: gevent mode may still patch after this)
from tests.support import scrapers


def children() -> list[str]:
    """Processes whose parent is this one (zombies included: unreaped is left behind)."""
    me, found = os.getpid(), []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                stat = handle.read()
        except OSError:
            continue
        state, ppid = stat.rsplit(")", 1)[1].split()[:2]
        if int(ppid) == me:
            found.append(f"{entry}:{state}")
    return found


def live_greenlets() -> list[str]:
    """Greenlets still running on this thread's hub (none without gevent). gevent's own DNS
    threadpool workers (greenlets of another thread's hub) outlive any crawl and do not count."""
    if "gevent" not in sys.modules:
        return []
    from gevent.hub import get_hub
    from greenlet import greenlet

    hub = get_hub()
    return [
        repr(obj)
        for obj in gc.get_objects()
        if isinstance(obj, greenlet) and obj.parent is hub and obj and not obj.dead
    ]


def scrape(mode: str, url: str) -> dict:
    errors, items = [], []
    for record in crawler.crawl(url, mode=mode, workers=4, depth=50, parse=scrapers.mixed):
        items.extend(record.items)
        if record.error == "parse_callback":
            errors.append([record.url, record.detail])
    return {"items": items, "errors": errors}


def main() -> None:
    mode, url = sys.argv[1], sys.argv[2]
    first = scrape(mode, url)
    second = scrape(mode, url)
    threads_before = len(threading.enumerate())
    for _record in crawler.crawl(url, mode=mode, workers=4, depth=50, parse=scrapers.mixed):
        break  # nothing else: the stream's last reference goes with the loop
    report = {
        "first": first,
        "second": second,
        "threads_before": threads_before,
        "threads_after": [t.name for t in threading.enumerate()],
        "children": children(),
        "greenlets": live_greenlets(),
        "patched": "gevent.monkey" in sys.modules,
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
