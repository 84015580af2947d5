"""Where seeds come from: a file of URLs, stdin, or one URL; and turning them into requests."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass

from crawler.base import Request
from crawler.errors import InvalidURL, SourceError
from crawler.links.urls import host_of, normalize, strip_userinfo
from crawler.record import Record

_NOT_TEXT = re.compile("[\x00-\x08\x0b-\x1f\x7f\ufffd]")


@dataclass(frozen=True, slots=True)
class Seed:
    """One seed URL as the user wrote it, and where it came from (for error records)."""

    text: str
    origin: str = "seed"


def read_source(source: str) -> list[Seed]:
    """Seeds from ``source``: an ``http(s)://`` URL, ``-`` for stdin, or a file (one URL a line;
    blank lines and ``#`` comments skipped). Raises ``SourceError`` if it cannot be read."""
    lowered = source.lower()
    if lowered.startswith(("http://", "https://")):
        return [Seed(source, "argument")]
    if source == "-":
        return list(parse_lines(sys.stdin, "stdin"))
    try:
        with open(source, "rb") as probe:
            if b"\0" in probe.read(8192):
                raise SourceError(f"{source!r} is not a text file of URLs (it has NUL bytes)")
        with open(source, encoding="utf-8", errors="replace") as handle:
            return list(parse_lines(handle, source))
    except FileNotFoundError:
        raise SourceError(f"cannot read {source!r}: no such file") from None
    except IsADirectoryError:
        raise SourceError(f"cannot read {source!r}: it is a directory") from None
    except OSError as exc:
        raise SourceError(f"cannot read {source!r}: {exc.strerror or exc}") from None


def parse_lines(lines: Iterable[str], name: str) -> Iterable[Seed]:
    """Seeds from text lines, each tagged ``name:lineno``."""
    for lineno, line in enumerate(lines, 1):
        text = line.strip()
        if text and not text.startswith("#"):
            yield Seed(text, f"{name}:{lineno}")


def to_requests(seeds: Iterable[Seed | str], mode: str) -> tuple[list[Request], list[Record]]:
    """Valid seeds as depth-0 requests; invalid ones as ``invalid_url`` records (never raised)."""
    requests: list[Request] = []
    invalid: list[Record] = []
    for seed in seeds:
        if isinstance(seed, str):
            seed = Seed(seed)
        try:
            if _NOT_TEXT.search(seed.text):
                # Undecodable bytes (shown as U+FFFD) or control characters: not a URL line.
                raise InvalidURL(f"not a text URL: {seed.text[:80]!r}")
            url = normalize(seed.text)
        except InvalidURL as exc:
            shown = strip_userinfo  # never echo a password the seed carried
            invalid.append(
                Record(
                    url=shown(seed.text),
                    error="invalid_url",
                    detail=shown(f"{seed.origin}: {exc}"),
                    mode=mode,
                )
            )
            continue
        requests.append(Request(url, 0, None, host_of(url)))
    return requests, invalid
