"""Collect every page's title and its h1/h2 headings.

    python examples/titles.py http://127.0.0.1:8765/ --depth 3 --mode threads

Prints one JSON item per HTML page on stdout; the crawl summary goes to stderr. Works in every
mode: ``parse`` is a module-level function, so processes mode can send it to its workers.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from typing import Any

import crawler  # light: gevent mode can still patch the process after this


def parse(page: crawler.Page) -> Iterator[dict[str, Any]]:
    """One item per page: its URL, title and headings in document order."""
    headings = [
        {"level": tag.name, "text": tag.get_text(" ", strip=True)}
        for tag in page.soup.find_all(["h1", "h2"])
    ]
    yield {"url": page.url, "title": page.title, "headings": headings}


def main(argv: list[str] | None = None) -> int:
    """Crawl from the URL given on the command line and print the items."""
    args = _arguments().parse_args(argv)
    stream = crawler.crawl(
        args.url, mode=args.mode, workers=args.workers, depth=args.depth, parse=parse
    )
    with stream:
        for item in stream.items():
            print(json.dumps(item, ensure_ascii=False), flush=True)
    print(stream.stats.summary(), file=sys.stderr)
    return 0


def _arguments() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="Collect page titles and h1/h2 headings.")
    parser.add_argument("url", help="where to start, e.g. http://127.0.0.1:8765/")
    parser.add_argument("--depth", type=int, default=2, help="link hops to follow (default 2)")
    parser.add_argument("--mode", default="serial", help="serial, threads, gevent, processes")
    parser.add_argument("--workers", type=int, default=8, help="concurrent loops (default 8)")
    return parser


if __name__ == "__main__":
    sys.exit(main())
