"""Which text encoding a page is in: the HTTP header, then ``<meta>``, then detection.

The order browsers use (the WHATWG "encoding sniffing" steps, minus the BOM details): a charset
in ``Content-Type`` wins; else a ``<meta charset>`` or ``<meta http-equiv="Content-Type">`` in
the first 1024 bytes; else UTF-8 if the bytes are valid UTF-8; else ``charset_normalizer``'s
best guess (a dependency of requests already); else windows-1252. Undecodable bytes become
U+FFFD, so a page that lies about its charset is still parsed for links, never a crash.
"""

from __future__ import annotations

import codecs
import re

_META_SCAN = 1024
_META_CHARSET = re.compile(
    rb"""<meta[^>]+?charset\s*=\s*["']?\s*([a-zA-Z0-9_.:-]+)""",
    re.IGNORECASE,
)
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def charset_of(content_type_header: str | None) -> str | None:
    """The charset parameter of a Content-Type header, if it names a codec Python knows."""
    if not content_type_header:
        return None
    for param in content_type_header.split(";")[1:]:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            value = value.strip().strip("\"'")
            try:
                return codecs.lookup(value).name
            except LookupError:
                return None
    return None


def _known(name: str | None) -> str | None:
    if not name:
        return None
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def meta_charset(body: bytes) -> str | None:
    """The charset a ``<meta>`` tag near the top of ``body`` declares, if Python knows it."""
    match = _META_CHARSET.search(body, 0, _META_SCAN)
    return _known(match.group(1).decode("ascii")) if match else None


def is_utf8(body: bytes) -> bool:
    """Whether ``body`` is valid UTF-8 (ASCII is told apart without decoding it)."""
    if body.isascii():
        return True
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def sniff(body: bytes, content_type: str | None) -> str:
    """The encoding to decode ``body`` with (a Python codec name)."""
    return _sniffed(body, content_type)[0]


def _sniffed(body: bytes, content_type: str | None) -> tuple[str, bool]:
    """``sniff``'s answer, and whether it found ``body`` valid UTF-8 on the way."""
    for bom, name in _BOMS:
        if body.startswith(bom):
            return name, False
    declared = charset_of(content_type) or meta_charset(body)
    if declared:
        # A page labelled ISO-8859-1 or ASCII is windows-1252 in every browser.
        return ("cp1252" if declared in ("iso8859-1", "ascii") else declared), False
    if not is_utf8(body):
        # Imported here: few pages get this far, and every crawl process would pay for it at
        # start-up.
        from charset_normalizer import from_bytes

        guess = from_bytes(body[:65536]).best()
        return (_known(guess.encoding if guess else None) or "cp1252"), False
    return "utf-8", True


def to_utf8(body: bytes, content_type: str | None) -> tuple[bytes, str]:
    """``body`` re-encoded as UTF-8 (bad bytes as U+FFFD) and the encoding it was read as.

    Bytes, not text, go to the link scanner and to lexbor: one copy of the page, not two.
    """
    encoding, valid = _sniffed(body, content_type)
    if encoding == "utf-8" and (valid or is_utf8(body)):
        return body, encoding  # valid already: no copy
    try:
        return body.decode(encoding, "replace").encode("utf-8"), encoding
    except LookupError:  # a codec that is not a text encoding (hex, rot13 ...)
        return body, "utf-8"
