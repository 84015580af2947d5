"""The saved-pages sink (``--save-dir DIR``): each 2xx body written under DIR in the layout of
``mirror.py``; the record's ``saved_path`` says where.

It never writes outside DIR. The names from ``mirror.py`` hold no separator and no ``..``; the
walk opens each directory relative to its parent's descriptor with ``O_NOFOLLOW`` (and the file
with ``O_NOFOLLOW`` too), so a symlink already in DIR is never followed, whatever it points at,
and no path is resolved as a whole (no ``PATH_MAX`` limit either).

A name collision never overwrites another URL's file. A name is passed over, for the next of
``NAME.1``, ``NAME.2``... (wget's suffixes), when it is: a file this crawl wrote for another
URL; a file where a directory is needed (``/a`` saved, then ``/a/b``), or a directory where a
file is needed (``/a/b`` saved, then ``/a``); a symlink, a device, or a file with other hard
links. A plain file left by an earlier run is replaced, as ``wget -r`` does.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat

from crawler.archive.mirror import cap, mirror_parts
from crawler.config import CrawlConfig
from crawler.errors import OutputError
from crawler.record import Record

MAX_SUFFIX = 100  # names tried per component before the page is left unsaved
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
# What opening a name we must pass over raises: a symlink (ELOOP, or EMLINK on some systems),
# a file where a directory is wanted (ENOTDIR), a directory where a file is (EISDIR).
_PASS_OVER = {errno.ELOOP, errno.EMLINK, errno.ENOTDIR, errno.EISDIR, errno.ENXIO}


class SaveSink:
    """Writes the bodies attached to records (``Record.archive.body``) under ``save_dir``."""

    def __init__(self, config: CrawlConfig) -> None:
        assert config.save_dir is not None
        self.root = config.save_dir
        try:
            os.makedirs(self.root, exist_ok=True)
            self._root_fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError as exc:
            raise OutputError(f"cannot save pages in {self.root!r}: {exc.strerror}") from None
        # What this crawl wrote: relative paths of files (-> their URL) and of directories.
        self._files: dict[tuple[str, ...], str] = {}
        self._dirs: set[tuple[str, ...]] = set()

    def write(self, record: Record) -> None:
        """Save the record's body, if it has one, and set ``record.saved_path``."""
        body = getattr(record.archive, "body", None)
        if body is None:
            return
        placed = self.save(record.url, body)
        if placed is not None:
            record.saved_path = os.path.join(self.root, *placed)

    def save(self, url: str, body: bytes) -> list[str] | None:
        """Write ``body`` as ``url``'s file; the components used, or None when every
        candidate name was taken (the page is then not saved)."""
        *directories, name = mirror_parts(url)
        fd = os.dup(self._root_fd)
        used: list[str] = []
        try:
            for directory in directories:
                found = self._enter(fd, used, directory)
                if found is None:
                    return None
                os.close(fd)
                fd, chosen = found
                used.append(chosen)
            chosen = self._write_file(fd, used, name, url, body)
            return None if chosen is None else [*used, chosen]
        finally:
            os.close(fd)

    def _enter(self, parent: int, used: list[str], name: str) -> tuple[int, str] | None:
        """Open (creating it if needed) the directory for ``name`` in ``parent``."""
        for candidate in _candidates(name):
            key = (*used, candidate)
            if key in self._files:
                continue
            with contextlib.suppress(FileExistsError):  # ours, or what the open below checks
                os.mkdir(candidate, 0o755, dir_fd=parent)
            try:
                fd = os.open(candidate, _DIR_FLAGS, dir_fd=parent)
            except OSError as exc:
                if exc.errno in _PASS_OVER:
                    continue
                raise
            self._dirs.add(key)
            return fd, candidate
        return None

    def _write_file(
        self, parent: int, used: list[str], name: str, url: str, body: bytes
    ) -> str | None:
        for candidate in _candidates(name):
            key = (*used, candidate)
            if self._files.get(key, url) != url or key in self._dirs:
                continue
            try:
                fd = os.open(candidate, _FILE_FLAGS, 0o644, dir_fd=parent)
            except OSError as exc:
                if exc.errno in _PASS_OVER:
                    continue
                raise
            try:
                info = os.fstat(fd)
                if not stat.S_ISREG(info.st_mode) or info.st_nlink > 1:
                    continue  # a FIFO, a device, or a hard link to a file elsewhere
                os.ftruncate(fd, 0)
                view = memoryview(body)
                while view:
                    view = view[os.write(fd, view) :]
            finally:
                os.close(fd)
            self._files[key] = url
            return candidate
        return None

    def close(self) -> None:
        """Release the save directory."""
        if self._root_fd >= 0:
            os.close(self._root_fd)
            self._root_fd = -1


def _candidates(name: str):
    """``name``, then ``name.1`` ... ``name.MAX_SUFFIX``, each within ``NAME_MAX`` bytes."""
    yield name
    for n in range(1, MAX_SUFFIX + 1):
        yield cap(name, f".{n}")
