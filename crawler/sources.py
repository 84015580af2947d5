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
from crawler.safetext import escape_surrogates

# Control characters, U+FFFD, and lone surrogates (undecodable bytes, PEP 383): not a URL line.
_NOT_TEXT = re.compile("[\x00-\x08\x0b-\x1f\x7f\ufffd\ud800-\udfff]")
_BOM = "\ufeff"


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
        return list(parse_lines(_stdin_lines(), "stdin"))
    try:
        with open(source, "rb") as probe:
            if b"\0" in probe.read(8192):
                raise SourceError(f"{source!r} is not a text file of URLs (it has NUL bytes)")
        # surrogateescape: an undecodable byte becomes an ``invalid_url`` record showing it.
        with open(source, encoding="utf-8", errors="surrogateescape") as handle:
            return list(parse_lines(handle, source))
    except FileNotFoundError:
        raise SourceError(f"cannot read {source!r}: no such file") from None
    except IsADirectoryError:
        raise SourceError(f"cannot read {source!r}: it is a directory") from None
    except OSError as exc:
        raise SourceError(f"cannot read {source!r}: {exc.strerror or exc}") from None


def _stdin_lines() -> Iterable[str]:
    """Lines of stdin decoded as UTF-8 whatever the locale: undecodable bytes become lone
    surrogates (then ``invalid_url`` records), never a ``UnicodeDecodeError``."""
    raw = getattr(sys.stdin, "buffer", None)
    if raw is None:  # replaced by a text-only stream (a test, an embedding program)
        return sys.stdin
    return (line.decode("utf-8", "surrogateescape") for line in raw)


def parse_lines(lines: Iterable[str], name: str) -> Iterable[Seed]:
    """Seeds from text lines, each tagged ``name:lineno``. A UTF-8 byte-order mark opening the
    first line (Windows editors write one) is dropped."""
    for lineno, line in enumerate(lines, 1):
        if lineno == 1 and line.startswith(_BOM):
            line = line[1:]
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
                # Undecodable bytes or control characters: not a URL line.
                raise InvalidURL(f"not a text URL: {seed.text[:80]!r}")
            url = normalize(seed.text)
        except InvalidURL as exc:
            invalid.append(
                Record(
                    url=_shown(seed.text),
                    error="invalid_url",
                    detail=_shown(f"{seed.origin}: {exc}"),
                    mode=mode,
                )
            )
            continue
        requests.append(Request(url, 0, None, host_of(url)))
    return requests, invalid


def _shown(text: str) -> str:
    """What the user wrote, as a record may show it: never a password the seed carried, and
    lone surrogates escaped (argv may hold them; the record must be writable as UTF-8)."""
    return escape_surrogates(strip_userinfo(text))
