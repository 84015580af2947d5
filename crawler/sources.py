"""Where seeds come from: a file of URLs, stdin, or one URL; and turning them into requests."""

from __future__ import annotations

import os
import re
import select
import stat
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from crawler.base import Request
from crawler.errors import InvalidURL, SourceError
from crawler.links.urls import host_of, normalize, strip_userinfo
from crawler.record import Record
from crawler.safetext import escape_surrogates

# Control characters, U+FFFD, and lone surrogates (undecodable bytes, PEP 383): not a URL line.
_NOT_TEXT = re.compile("[\x00-\x08\x0b-\x1f\x7f\ufffd\ud800-\udfff]")
_BOM = "\ufeff"
STOP_CHECK_S = 0.5  # how often a read waiting on a pipe looks whether the crawl was stopped


@dataclass(frozen=True, slots=True)
class Seed:
    """One seed URL as the user wrote it, and where it came from (for error records)."""

    text: str
    origin: str = "seed"


def read_source(source: str) -> Iterable[Seed]:
    """Seeds from ``source``: an ``http(s)://`` URL, ``-`` for stdin, or a file (one URL a line;
    blank lines and ``#`` comments skipped). Raises ``SourceError`` if it cannot be opened.

    A file or stdin is read as it is iterated (``SeedLines``), so a crawl starts on the first
    lines of a big list while the rest is still to be read."""
    lowered = source.lower()
    if lowered.startswith(("http://", "https://")):
        return [Seed(source, "argument")]
    if source == "-":
        try:
            fd = sys.stdin.fileno()
        except (AttributeError, OSError, ValueError):  # replaced by a stream with no file
            return parse_lines(_stdin_lines(), "stdin")
        return SeedLines(fd, "stdin")
    try:
        fd = os.open(source, os.O_RDONLY)  # a FIFO: waits for its writer
    except FileNotFoundError:
        raise SourceError(f"cannot read {source!r}: no such file") from None
    except IsADirectoryError:
        raise SourceError(f"cannot read {source!r}: it is a directory") from None
    except OSError as exc:
        raise SourceError(f"cannot read {source!r}: {exc.strerror or exc}") from None
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise SourceError(f"cannot read {source!r}: it is a directory")
        # Only a regular file is looked at first: a pipe's bytes can be read only once.
        if stat.S_ISREG(mode) and b"\0" in os.pread(fd, 8192, 0):
            raise SourceError(f"{source!r} is not a text file of URLs (it has NUL bytes)")
    except BaseException:
        os.close(fd)
        raise
    return SeedLines(fd, source, owned=True)


class SeedLines:
    """Seeds read from a file descriptor (a file, stdin, a pipe) as they are asked for.

    ``read`` takes what the descriptor has ready, so a crawl fed from a pipe starts on the
    first lines while the writer is still writing; it waits with ``select``, which yields to
    the other greenlets once gevent has patched. Lines are UTF-8 whatever the locale:
    undecodable bytes become lone surrogates (then ``invalid_url`` records). Iterating reads
    everything (blocking). ``credential_lines`` reads a regular file once more, quickly, for
    the seeds that carry userinfo (``crawler/http/credentials.py``).
    """

    BLOCK = 1 << 16

    def __init__(self, fd: int, name: str, *, owned: bool = False) -> None:
        self._fd, self.name, self._owned = fd, name, owned
        self._lines: list[bytes] = []  # whole lines read and not yet parsed, from ``_next``
        self._next = 0
        self._partial = b""  # a line read without its newline yet
        self._lineno = 0
        self._eof = False
        self._stop: Callable[[], bool] | None = None

    @property
    def finished(self) -> bool:
        """True once every line was read and parsed."""
        return self._eof and self._next >= len(self._lines)

    def __iter__(self) -> Iterator[Seed]:
        while (seeds := self.read(self.BLOCK, wait=True)) is not None:
            yield from seeds

    def read(
        self, most: int, *, wait: bool, stop: Callable[[], bool] | None = None
    ) -> list[Seed] | None:
        """Up to ``most`` seeds from what can be read now; ``wait``: block until at least one
        is there, or ``stop()`` is true (looked at twice a second). None once the input is
        over (a file opened here is closed then)."""
        self._stop = stop
        seeds: list[Seed] = []
        while len(seeds) < most:
            if self._next < len(self._lines):
                end = self._next + most - len(seeds)
                seeds += self._parse(self._lines[self._next : end])
                self._next = min(end, len(self._lines))
                continue
            self._lines, self._next = [], 0
            if self._eof or not self._fill(wait and not seeds):
                break
        if not seeds and self.finished:
            return None
        return seeds

    def _parse(self, lines: list[bytes]) -> list[Seed]:
        seeds = []
        for raw in lines:
            self._lineno += 1
            line = raw.decode("utf-8", "surrogateescape")
            if self._lineno == 1 and line.startswith(_BOM):
                line = line[1:]
            text = line.strip()
            if text and not text.startswith("#"):
                seeds.append(Seed(text, f"{self.name}:{self._lineno}"))
        return seeds

    def _fill(self, wait: bool) -> bool:
        """Read one block into ``_lines``; False when nothing was ready (``wait`` False, or
        the caller's ``stop`` came first)."""
        timeout = (None if self._stop is None else STOP_CHECK_S) if wait else 0
        while not select.select([self._fd], [], [], timeout)[0]:
            if not wait or (self._stop is not None and self._stop()):
                return False
        try:
            data = os.read(self._fd, self.BLOCK)
        except OSError as exc:
            raise SourceError(f"cannot read {self.name!r}: {exc.strerror or exc}") from None
        if not data:
            last = [self._partial] if self._partial else []  # a last line with no newline
            self.close()
            self._lines, self._partial = last, b""
            return True
        lines = (self._partial + data).split(b"\n")
        self._partial = lines.pop()
        self._lines += lines
        return True

    def close(self) -> None:
        """Stop reading: a file opened here is closed (a crawl that ended before its list)."""
        self._eof = True
        self._lines, self._next = [], 0
        if self._owned:
            os.close(self._fd)
            self._owned = False

    def credential_lines(self) -> list[str] | None:
        """The lines of a regular file that may carry credentials (they hold an ``@``), read
        without disturbing ``read``; None for a pipe or stdin (not readable twice)."""
        try:
            if not stat.S_ISREG(os.fstat(self._fd).st_mode):
                return None
            found: list[str] = []
            offset, tail = 0, b""
            while block := os.pread(self._fd, 1 << 20, offset):
                offset += len(block)
                block = tail + block
                cut = block.rfind(b"\n") + 1
                block, tail = block[:cut], block[cut:]
                found += _lines_with_at(block)
            return found + _lines_with_at(tail)
        except OSError:
            return None


def _stdin_lines() -> Iterable[str]:
    """Lines of a replaced stdin with no file descriptor (a test, an embedding program),
    decoded as UTF-8 whatever the locale: undecodable bytes become lone surrogates."""
    raw = getattr(sys.stdin, "buffer", None)
    if raw is None:  # a text-only stream
        return sys.stdin
    return (line.decode("utf-8", "surrogateescape") for line in raw)


def _lines_with_at(block: bytes) -> list[str]:
    found = []
    at = block.find(b"@")
    while at >= 0:
        start = block.rfind(b"\n", 0, at) + 1
        end = block.find(b"\n", at)
        end = len(block) if end < 0 else end
        found.append(block[start:end].decode("utf-8", "surrogateescape").strip())
        at = block.find(b"@", end)
    return found


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
