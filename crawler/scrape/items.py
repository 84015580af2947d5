"""Item sinks: where the items of parse callbacks go, one item at a time.

Each is a record ``Sink`` (it receives every record, in the one pipeline consumer) that passes
on the record's ``items``, so items need no second queue and keep the order of their pages.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from typing import IO, Any

from crawler.record import EncodedRecord, Record
from crawler.safetext import writable
from crawler.sinks import _StreamSink, write_csv_row

Item = dict[str, Any]


class _ItemsOnly:
    """An encoded record is decoded for its items only, so a page without any costs nothing."""

    write: Callable[[Record], None]  # each sink's own

    def write_encoded(self, record: EncodedRecord) -> None:
        """Pass on the items of a record a child process encoded."""
        if record.item_count:
            self.write(record.decode())


class JsonLinesItemSink(_ItemsOnly, _StreamSink):
    """One item per line as a JSON object."""

    def write(self, record: Record) -> None:
        """Append the record's items."""
        for item in record.items:
            try:
                self._stream.write(json.dumps(item, ensure_ascii=False, default=str) + "\n")
            except UnicodeEncodeError:  # lone surrogates, or a narrow stdout: ASCII JSON fits
                self._stream.write(json.dumps(writable(item), default=str) + "\n")


class CsvItemSink(_ItemsOnly, _StreamSink):
    """Items as CSV rows. The header is the first item's keys (as Scrapy's CSV exporter does):
    keys that only later items have are left out, missing ones are empty cells; nested values
    are written as JSON. Cells (header included) that a spreadsheet would run as formulas are
    neutralised with a leading ``'``."""

    def __init__(self, target: str | IO[str] | None) -> None:
        super().__init__(target)
        self._writer: csv.DictWriter[str] | None = None

    def write(self, record: Record) -> None:
        """Append the record's items as rows."""
        for item in record.items:
            if self._writer is None:
                self._writer = csv.DictWriter(self._stream, list(item), extrasaction="ignore")
                # The header is page data too: written through the same neutralising path.
                write_csv_row(self._writer, {k: k for k in item})
            write_csv_row(self._writer, {k: _cell(v) for k, v in item.items()})


def _cell(value: object) -> object:
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, default=str)
    return value


class ItemCallbackSink(_ItemsOnly):
    """Calls a user function with every item (in the consumer: it needs no lock, and in
    processes mode it runs in the parent, so it may be a lambda)."""

    def __init__(self, callback: Callable[[Item], object]) -> None:
        self._callback = callback

    def write(self, record: Record) -> None:
        """Call the function once per item of the record."""
        for item in record.items:
            self._callback(item)

    def close(self) -> None:
        """Nothing to release."""


def item_sink_for_path(path: str) -> JsonLinesItemSink | CsvItemSink:
    """The sink for ``items_output=PATH``: CSV for ``.csv``, else JSON Lines (``-``: stdout)."""
    if path != "-" and path.lower().endswith(".csv"):
        return CsvItemSink(path)
    return JsonLinesItemSink(path)
