"""Text that can always be written as UTF-8: lone surrogates shown as escapes.

Python decodes undecodable bytes in ``sys.argv`` (and stdin under a C locale) as lone
surrogates (``\\udcff``, PEP 383); user callbacks may produce them too. UTF-8 cannot encode
them, so a record holding one would make a sink raise ``UnicodeEncodeError`` and end the crawl.
They are replaced by a visible escape instead: ``\\xff`` for an undecodable byte, ``\\ud800``
for any other lone surrogate. Text without surrogates (nearly all of it) is returned as is.
"""

from __future__ import annotations

import re
from typing import Any

_SURROGATE = re.compile("[\ud800-\udfff]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if 0xDC80 <= code <= 0xDCFF:  # surrogateescape: one undecodable byte
        return f"\\x{code - 0xDC00:02x}"
    return f"\\u{code:04x}"


def escape_surrogates(text: str) -> str:
    """``text`` with every lone surrogate replaced by a backslash escape (see the module)."""
    return _SURROGATE.sub(_escape, text)


def has_surrogates(text: str) -> bool:
    """True when ``text`` holds a lone surrogate (it cannot be encoded as UTF-8)."""
    return _SURROGATE.search(text) is not None


def writable(data: Any) -> Any:
    """``data`` (JSON-like: dicts, lists, strings...) with surrogates escaped in every string,
    keys included; other values are returned unchanged."""
    if isinstance(data, str):
        return escape_surrogates(data)
    if isinstance(data, dict):
        return {writable(k): writable(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [writable(v) for v in data]
    return data
