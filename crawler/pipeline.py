"""The single consumer of records: counts them, feeds the sinks, drives the progress bar."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from crawler.base import Sink
from crawler.record import EncodedRecord, Record
from crawler.stats import Stats


class Pipeline:
    """Everything a record goes through after a worker emits it. Not thread-safe by design:
    strategies call ``write`` from one consumer only."""

    def __init__(self, sinks: Sequence[Sink], stats: Stats, *, progress: bool = False) -> None:
        self.sinks = list(sinks)
        self.stats = stats
        self._bar = _progress_bar() if progress else None
        self._encoded_writers = [getattr(sink, "write_encoded", None) for sink in self.sinks]
        # Several sinks that each would encode a record (the output file, a durable backend's
        # store): encode it once for all, when every sink takes it encoded.
        self._encode_first = len(self.sinks) > 1 and all(self._encoded_writers)

    def write(self, record: Record | EncodedRecord) -> None:
        """Count the record and hand it to every sink (an encoded record is decoded once, and
        only if a sink cannot take it encoded)."""
        self.stats.add(record)
        if isinstance(record, EncodedRecord):
            if getattr(record.archive, "body", None) is not None:
                # A page to save (--save-dir) gains ``saved_path`` here, in the save sink: its
                # JSON from the child is stale, so it goes on decoded (only saved pages pay).
                record = record.decode()
        elif self._encode_first and not record.items and record.archive is None:
            # (with items or page data: their sinks would decode the record again)
            record = EncodedRecord.of(record)
        if isinstance(record, EncodedRecord):
            self._write_encoded(record)
        else:
            for sink in self.sinks:
                sink.write(record)
        if self._bar is not None:
            self._bar.update(1)
            if self.stats.pages % 20 == 0:
                self._bar.set_postfix(ok=self.stats.ok, errors=self.stats.failed, refresh=False)

    def _write_encoded(self, record: EncodedRecord) -> None:
        decoded = None
        for sink, write_encoded in zip(self.sinks, self._encoded_writers, strict=True):
            if write_encoded is not None:
                write_encoded(record)
                continue
            if decoded is None:
                decoded = record.decode()
            sink.write(decoded)

    def close(self) -> None:
        """Close the progress bar and every sink (each one even if another fails)."""
        if self._bar is not None:
            self._bar.close()
        errors = []
        for sink in self.sinks:
            try:
                sink.close()
            except Exception as exc:  # close the rest, report the first
                errors.append(exc)
        if errors:
            raise errors[0]


def _progress_bar():  # pragma: no cover - only on a terminal
    if not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    return tqdm(unit="page", file=sys.stderr, dynamic_ncols=True, leave=False)
