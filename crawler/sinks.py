"""Record sinks: JSON Lines, CSV, and a user callback. They run in the one pipeline consumer."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Callable
from typing import IO, Any

from crawler.record import FIELD_NAMES, EncodedRecord, Record
from crawler.safetext import writable


class _StreamSink:
    # A file this sink opens itself is opened in binary mode when True (JSON Lines: records
    # arrive already encoded); stdout and a caller's stream are text streams.
    binary = False

    def __init__(self, target: str | IO[str] | None) -> None:
        self._stream: Any
        if target is None or target == "-":
            self._stream = sys.stdout
            self._owned = False
        elif isinstance(target, str):
            if self.binary:
                self._stream = open(target, "wb")  # noqa: SIM115
            else:
                self._stream = open(target, "w", encoding="utf-8", newline="")  # noqa: SIM115
            self._owned = True
        else:
            self._stream, self._owned = target, False

    def flush(self) -> None:
        """Push buffered lines to the file (the pipeline calls this now and then)."""
        self._stream.flush()

    def close(self) -> None:
        """Flush, and close the file if this sink opened it."""
        try:
            self._stream.flush()
        finally:
            if self._owned:
                self._stream.close()


class JsonLinesSink(_StreamSink):
    """One JSON object per line (the default output format)."""

    binary = True

    def __init__(self, target: str | IO[str] | None) -> None:
        super().__init__(target)
        self._bytes_out = self._owned

    def write(self, record: Record) -> None:
        """Append one record."""
        self._write_line(record.to_json())

    def write_encoded(self, record: EncodedRecord) -> None:
        """Append one record as it was encoded, without decoding it."""
        self._write_line(record.json)

    def _write_line(self, data: bytes) -> None:
        if self._bytes_out:
            self._stream.write(data + b"\n")
        else:
            self._stream.write(data.decode() + "\n")


# A cell a spreadsheet would run as a formula (``=HYPERLINK(...)``, ``+``, ``-``, ``@``; tab and
# CR too, which some programs strip before looking): OWASP's rule is to make it text by
# prefixing a single quote. Page titles and callback items are written by strangers.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: object) -> object:
    """``value`` for a CSV cell: a string a spreadsheet could read as a formula gets a leading
    ``'`` (numbers and other strings are unchanged)."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def write_csv_row(writer: csv.DictWriter[str], row: dict[str, Any]) -> None:
    """Write one row (a dict of the caller's, changed in place) of spreadsheet-safe cells, lone
    surrogates escaped if the file cannot take them (the writer writes a whole row at once, so
    nothing is half written)."""
    for key, value in row.items():
        if isinstance(value, str) and value.startswith(_FORMULA_START):
            row[key] = "'" + value
    try:
        writer.writerow(row)
    except UnicodeEncodeError:
        writer.writerow(writable(row))


class CsvSink(_StreamSink):
    """Comma-separated values with a header row; list fields are joined with spaces. Cells
    that a spreadsheet would run as formulas are neutralised (``spreadsheet_safe``)."""

    def __init__(self, target: str | IO[str] | None) -> None:
        super().__init__(target)
        self._writer = csv.DictWriter(self._stream, fieldnames=FIELD_NAMES, extrasaction="ignore")
        self._writer.writeheader()

    def write(self, record: Record) -> None:
        """Append one record as a CSV row."""
        row: dict[str, Any] = record.to_dict()
        for key, value in row.items():
            if isinstance(value, (list, tuple)):
                # URL lists read best space-separated; anything nested (items) as JSON.
                if all(isinstance(v, str) for v in value):
                    row[key] = " ".join(value)
                else:
                    row[key] = json.dumps(value, ensure_ascii=False, default=str)
        write_csv_row(self._writer, row)


class CallbackSink:
    """Hands every record to a user function."""

    def __init__(self, callback: Callable[[Record], object]) -> None:
        self._callback = callback

    def write(self, record: Record) -> None:
        """Call the user function with the record."""
        self._callback(record)

    def close(self) -> None:
        """Nothing to release."""


def sink_for_path(path: str | None) -> JsonLinesSink | CsvSink:
    """The sink for ``-o PATH``: CSV for ``.csv``, else JSON Lines (stdout for None or -)."""
    if path and path != "-" and path.lower().endswith(".csv"):
        return CsvSink(path)
    return JsonLinesSink(path)
