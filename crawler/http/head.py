"""Reading a response's head (status line and headers) at a fraction of ``http.client``'s cost.

``http.client`` hands every header block to the ``email`` package's feed parser: a general MIME
parser that, for the five or ten plain ``Name: value`` lines of an HTTP response, cost a fifth of
a page's whole fetch (measured: 955k instructions per 10 KB fetch, 827k with this module). A
block whose every line is a plain header line (a token, a colon, a value without CR or LF) is
read here into the same ``HTTPMessage`` the email parser would build; anything else (folded
lines, a bare CR, a line without a colon, a missing name) still goes to the email parser, so
odd heads parse exactly as before. ``tests/test_head.py`` checks both give the same message.

``HeadResponse.begin`` is ``http.client.HTTPResponse.begin`` (the same in CPython 3.11 to 3.13)
with that one call changed: ``begin`` looks ``parse_headers`` up in ``http.client``'s globals, so
a subclass cannot swap it otherwise without patching the module for every user of it.
"""

from __future__ import annotations

import email.parser
import http.client
import re
from typing import Any, BinaryIO

# One plain header line, as http.client's line reader returns them (LF or CRLF ended). The name:
# the characters the email parser accepts before a colon; the value: anything but CR and LF
# (the email parser would split a line at a bare CR). Leading blanks are not part of the value.
_LINE = re.compile(r"([\041-\071\073-\176]+):[ \t]*([^\r\n]*)\r?\n")
# A whole block of such lines, then the blank line (or nothing, when the peer closed early).
_BLOCK = re.compile(r"(?:[\041-\071\073-\176]+:[^\r\n]*\r?\n)*(?:\r?\n)?")


def parse_headers(fp: BinaryIO) -> http.client.HTTPMessage:
    """The header block at ``fp`` as ``http.client.parse_headers`` returns it (same limits on
    line length and count, same errors), built directly when every line is a plain one."""
    text = b"".join(http.client._read_headers(fp)).decode("iso-8859-1")
    if _BLOCK.fullmatch(text) is None:
        return email.parser.Parser(_class=http.client.HTTPMessage).parsestr(text)
    message = http.client.HTTPMessage()
    message._headers = _LINE.findall(text)  # type: ignore[attr-defined]
    message.set_payload("")  # what the email parser leaves: an empty body
    return message


class HeadResponse(http.client.HTTPResponse):
    """``http.client``'s response, its head read by ``parse_headers`` above."""

    def begin(self) -> None:
        """Read the status line and headers (``http.client.HTTPResponse.begin``)."""
        if self.headers is not None:
            return  # already read
        while True:  # skip interim 100 Continue responses
            version, status, reason = self._read_status()  # type: ignore[attr-defined]
            if status != http.client.CONTINUE:
                break
            http.client._read_headers(self.fp)  # type: ignore[attr-defined]
        self.code = self.status = status
        self.reason = reason.strip()
        if version in ("HTTP/1.0", "HTTP/0.9"):
            self.version = 10
        elif version.startswith("HTTP/1."):
            self.version = 11  # HTTP/1.x for x >= 1
        else:
            raise http.client.UnknownProtocol(version)
        self.headers = self.msg = parse_headers(self.fp)  # type: ignore[arg-type]
        headers: Any = self.headers
        encoding = headers.get("transfer-encoding")
        if encoding and encoding.lower() == "chunked":
            self.chunked = True
            self.chunk_left = None
        else:
            self.chunked = False
        self.will_close = self._check_close()  # type: ignore[attr-defined]
        # Content-Length counts unless the body is chunked (RFC 9112 6.3).
        self.length = None
        length = headers.get("content-length")
        if length and not self.chunked:
            try:
                self.length = int(length)
            except ValueError:
                self.length = None
            else:
                if self.length < 0:  # a nonsensical negative length is ignored
                    self.length = None
        if (
            status in (http.client.NO_CONTENT, http.client.NOT_MODIFIED)
            or 100 <= status < 200
            or self._method == "HEAD"  # type: ignore[attr-defined]
        ):
            self.length = 0
        # Neither chunked nor a length on a connection left open: the body ends at its close.
        if not self.will_close and not self.chunked and self.length is None:
            self.will_close = True
