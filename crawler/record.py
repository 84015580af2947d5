"""The result record: one per scheduled URL, success or failure.

The field list is the stable output schema documented in docs/records.md; add fields at the end.
Records cross process and network boundaries as plain dicts (``to_dict`` / ``from_dict``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any


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
    # What the parse callback produced on this page (plain JSON objects).
    items: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the URL was fetched without an error."""
        return self.error is None

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
        return cls(**{k: v for k, v in data.items() if k in names})


_FIELD_NAMES = frozenset(f.name for f in fields(Record))
FIELD_NAMES: tuple[str, ...] = tuple(f.name for f in fields(Record))
