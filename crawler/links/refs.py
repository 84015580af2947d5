"""Character references (``&amp;``, ``&#47;``, ``&eacute``) as the HTML Standard decodes them.

``html.unescape`` is close but not the same: it decodes a legacy name without its ``;`` inside an
attribute value where the Standard does not (``href="?a=1&copy=2"`` keeps ``&copy=2``), and it
drops the code points the Standard only warns about (``&#1;``, noncharacters). This is the
Standard's "character reference state" on text a tokenizer has already cut out.
"""

from __future__ import annotations

import re
from html.entities import html5 as NAMED

__all__ = ["unescape"]

# A reference and what may follow it: digits, or a name of up to 32 characters (the longest in
# the table is 32 with its ';'), as ``html.unescape`` cuts them.
_REFERENCE = re.compile(r"&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)")


def _windows_1252(n: int) -> str:
    try:
        return bytes([n]).decode("cp1252")
    except UnicodeDecodeError:  # 0x81, 0x8D, 0x8F, 0x90, 0x9D: kept as they are
        return chr(n)


# Numeric references to C1 controls mean the windows-1252 character (the Standard's table).
_C1 = {n: _windows_1252(n) for n in range(0x80, 0xA0)}


def _numeric(digits: str) -> str:
    hexadecimal = digits[0] in "xX"
    digits = (digits[1:] if hexadecimal else digits).lstrip("0") or "0"
    if len(digits) > 8:  # past U+10FFFF, and int() refuses very long digit strings
        return "\ufffd"
    number = int(digits, 16 if hexadecimal else 10)
    if number == 0 or number > 0x10FFFF or 0xD800 <= number <= 0xDFFF:
        return "\ufffd"
    return _C1.get(number) or chr(number)


def _named(name: str, attribute: bool) -> str:
    if name in NAMED:  # a whole name: with its ';', or a legacy one the text ends after
        return NAMED[name]
    for length in range(len(name) - 1, 1, -1):  # the longest legacy name it starts with
        legacy = name[:length]
        if legacy in NAMED:
            after = name[length]
            if attribute and (after == "=" or after.isascii() and after.isalnum()):
                return "&" + name  # "&copy=2" in an attribute is text
            return NAMED[legacy] + name[length:]
    return "&" + name


def unescape(text: str, *, attribute: bool = False) -> str:
    """``text`` with its character references decoded (``attribute``: as in a value)."""
    if "&" not in text:
        return text

    def decode(match: re.Match[str]) -> str:
        body = match.group(1)
        if body[0] == "#":
            return _numeric(body[1:].rstrip(";"))
        return _named(body, attribute)

    return _REFERENCE.sub(decode, text)
