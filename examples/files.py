"""Collect links to non-HTML files (PDF, CSV, archives, office documents ...) without
downloading them.

    python examples/files.py http://127.0.0.1:8765/ --depth 3

Prints one JSON line per distinct file URL: the file, its extension and the first page that
linked to it. The crawl follows HTML pages only: links that end in a file extension are
reported by ``parse`` and kept out of the crawl with ``exclude``.
"""

from __future__ import annotations

import argparse
import json
import posixpath
import sys
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import crawler

EXTENSIONS = (
    *(".pdf", ".csv", ".tsv", ".txt", ".json", ".xml", ".zip", ".gz", ".tar", ".7z"),
    *(".doc", ".docx", ".xls", ".xlsx", ".ppt", ".pptx", ".odt", ".ods", ".epub"),
    *(".png", ".jpg", ".jpeg", ".gif", ".svg", ".mp3", ".mp4"),
)
# The same list as a regex for ``exclude``: a path ending in one of them (before any query).
EXCLUDE = r"\.(?:" + "|".join(e[1:] for e in EXTENSIONS) + r")(?:\?|$)"


def extension(url: str) -> str | None:
    """The file extension of ``url``'s path when it is one of ``EXTENSIONS``."""
    ext = posixpath.splitext(urlsplit(url).path)[1].lower()
    return ext if ext in EXTENSIONS else None


def parse(page: crawler.Page) -> Iterator[dict[str, Any]]:
    """One item per link to a file on this page (``page.links`` are absolute already)."""
    for url in page.links:
        ext = extension(url)
        if ext is not None:
            yield {"file": url, "type": ext[1:], "found_on": page.url}


def main(argv: list[str] | None = None) -> int:
    """Crawl from the URL given on the command line and print each file once."""
    args = _arguments().parse_args(argv)
    seen: set[str] = set()
    stream = crawler.crawl(
        args.url,
        mode=args.mode,
        workers=args.workers,
        depth=args.depth,
        exclude=[EXCLUDE],
        parse=parse,
    )
    with stream:
        for item in stream.items():
            if item["file"] not in seen:
                seen.add(item["file"])
                print(json.dumps(item), flush=True)
    print(f"{len(seen)} files; {stream.stats.summary()}", file=sys.stderr)
    return 0


def _arguments() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="Collect links to non-HTML files.")
    parser.add_argument("url", help="where to start, e.g. http://127.0.0.1:8765/")
    parser.add_argument("--depth", type=int, default=3, help="link hops to follow (default 3)")
    parser.add_argument("--mode", default="serial", help="serial, threads, gevent, processes")
    parser.add_argument("--workers", type=int, default=8, help="concurrent loops (default 8)")
    return parser


if __name__ == "__main__":
    sys.exit(main())
