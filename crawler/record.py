"""The result record: one per scheduled URL, success or failure.

The field list is the stable output schema documented in docs/records.md; add fields at the end,
before ``items`` (the one that can be long, kept last).
A record crosses process and network boundaries as its JSON (``to_json``, the very bytes a JSON
Lines sink writes), or as an ``EncodedRecord`` that carries that JSON with the few fields read on
every record, so a process that only writes or counts records never decodes them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from json.encoder import c_make_encoder  # type: ignore[attr-defined]
from operator import attrgetter
from typing import Any

from crawler.safetext import writable


@dataclass(slots=True)
class Record:
    """What happened to one scheduled URL."""

    url: str
    final_url: str | None = None
    status: int | None = None
    error: str | None = None
    depth: int = 0
    parent: str | None = None
    content_type: str | None = None
    bytes: int = 0
    elapsed_ms: float = 0.0
    title: str | None = None
    links: int = 0
    mode: str | None = None
    worker: str | None = None
    detail: str | None = None
    redirects: list[str] = field(default_factory=list)
    attempts: int = 0
    # Against what a durable crawl kept of the page (crawler/recrawl.py): answered 304 to a
    # conditional request (its stored links were followed; a WARC writer makes it a
    # ``revisit``), and whether it differs from the last crawl (None: nothing to compare).
    not_modified: bool = False
    changed: bool | None = None
    # Links on the page left out for being longer than the URL length limit (8 KiB).
    dropped_links: int = 0
    # SHA-1 of the decoded body, base32, as WARC payload digests are written ("sha1:...").
    digest: str | None = None
    # Where --save-dir wrote the body (DIR/host/path), or None.
    saved_path: str | None = None
    # How the URL entered the crawl when not as a seed or a link: "sitemap", "robots".
    via: str | None = None
    # For a sitemap (or robots.txt read for its Sitemap lines): how many URLs it added.
    sitemap_urls: int | None = None
    # What the parse callback produced on this page (plain JSON objects). Kept last: the
    # longest field ends the line.
    items: list[dict[str, Any]] = field(default_factory=list)
    # Not part of the schema: what the archive sinks need of the page (``ArchivePayload``:
    # the WARC records for --warc, the body for --save-dir), only when one of them is on. It
    # travels from a processes child with the record (``EncodedRecord.archive``), never into JSON.
    archive: Any = field(default=None, repr=False, compare=False, metadata={"schema": False})

    @property
    def ok(self) -> bool:
        """True when the URL was fetched without an error."""
        return self.error is None

    @property
    def item_count(self) -> int:
        """How many items the parse callback produced on this page."""
        return len(self.items)

    def to_dict(self) -> dict[str, Any]:
        """The record as a plain, JSON-ready dict."""
        # Not dataclasses.asdict: its recursive deep copy cost ~70 us per record, once in the
        # child and once in the sink; the mutable fields are the redirects and items lists.
        data = {name: getattr(self, name) for name in FIELD_NAMES}
        data["redirects"] = list(self.redirects)
        data["items"] = [dict(item) for item in self.items]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Record:
        """Rebuild a record from ``to_dict`` output, ignoring unknown keys."""
        names = _FIELD_NAMES
        if data.keys() == names:  # what to_dict and to_json give: no filtering to pay for
            return cls(**data)
        return cls(**{k: v for k, v in data.items() if k in names})

    def to_json(self) -> bytes:
        """The record as one line of JSON (UTF-8, no newline): what a JSON Lines sink writes
        and a durable backend stores, the one encoding of a record."""
        # No copy of the lists, unlike to_dict: the encoder only reads them. The fields read
        # and paired with their names in C loops, not a comprehension.
        data = dict(zip(FIELD_NAMES, _FIELD_VALUES(self), strict=True))
        try:
            if _ENCODE_PLAIN is not None and not self.items:
                return "".join(_ENCODE_PLAIN(data, 0)).encode()
            return _ENCODER.encode(data).encode()
        except UnicodeEncodeError:
            # A lone surrogate (argv, a callback's text) that UTF-8 cannot hold: escaped, so
            # every sink and backend can still write the record (crawler/safetext.py).
            return _ENCODER.encode(writable(data)).encode()


@dataclass(frozen=True, slots=True)
class EncodedRecord:
    """A record already encoded (``Record.to_json``) where it was made, with the fields that
    are read on every record: totals and the progress bar (``error``, ``bytes``,
    ``item_count``, ``dropped_links``; ``status`` and ``changed`` for a re-crawl's counts), a
    durable backend's record key (``url``, ``error``, ``detail``) and the metrics (``status``,
    ``elapsed_ms``, ``attempts``). A sink that can work from these and the JSON offers
    ``write_encoded``; any other gets the ``Record`` back from ``decode``."""

    json: bytes
    url: str
    status: int | None
    error: str | None
    detail: str | None
    bytes: int
    elapsed_ms: float
    attempts: int
    item_count: int
    changed: bool | None = None
    dropped_links: int = 0
    # The page data for the archive sinks (``Record.archive``), not part of the JSON: it
    # travels from the child with the record, and ``decode`` gives it back.
    archive: Any = None

    @classmethod
    def of(cls, record: Record) -> EncodedRecord:
        """Encode ``record``."""
        return cls(
            record.to_json(),
            record.url,
            record.status,
            record.error,
            record.detail,
            record.bytes,
            record.elapsed_ms,
            record.attempts,
            len(record.items),
            record.changed,
            record.dropped_links,
            record.archive,
        )

    def decode(self) -> Record:
        """The full record (a new one each call)."""
        record = Record.from_dict(json.loads(self.json.decode()))
        record.archive = self.archive
        return record

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        # Rebuilt by one constructor call: less than half the cost of unpickling the
        # field-by-field state a frozen dataclass pickles by default, paid once per page.
        return EncodedRecord, _ENCODED_VALUES(self)


# json.dumps with any non-default option builds a new encoder per call; this is the same one.
_ENCODER = json.JSONEncoder(ensure_ascii=False)
# _ENCODER's C encoder, built once: ``encode`` builds one per call (with a dict of the
# containers seen, against cycles). Used for records without items, whose only container is
# the list of redirect URLs: nothing there can hold itself. Same separators, same strings and
# numbers, the same bytes (the tests compare both).
_ENCODE_PLAIN = (
    c_make_encoder(
        None,  # no cycle check
        _ENCODER.default,
        json.encoder.encode_basestring,  # what ensure_ascii=False uses
        None,  # indent
        _ENCODER.key_separator,
        _ENCODER.item_separator,
        False,  # sort_keys
        False,  # skipkeys
        True,  # allow_nan
    )
    if c_make_encoder is not None
    else None
)
# The schema: every field but ``archive`` (page data, never written out).
_SCHEMA = tuple(f for f in fields(Record) if f.metadata.get("schema", True))
_FIELD_NAMES = frozenset(f.name for f in _SCHEMA)
_ENCODED_FIELDS = tuple(f.name for f in fields(EncodedRecord))
# Its field values in order, in one C call (a tuple: ``attrgetter`` of two names or more).
_ENCODED_VALUES = attrgetter(*_ENCODED_FIELDS)
FIELD_NAMES: tuple[str, ...] = tuple(f.name for f in _SCHEMA)
_FIELD_VALUES = attrgetter(*FIELD_NAMES)
