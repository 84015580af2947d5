"""The head of a libcurl exchange as the other fetchers see it: request header lines checked as
``http.client`` checks them (libcurl sends any line as given, so a value with a line end would
inject a header), and the response's status, headers and cookies read from the lines libcurl
hands its header callback."""

from __future__ import annotations

import re

# http.client's rules for a header line: a name without colon or line end, a value without
# a line end (curl would send either as given: a header injection).
_LEGAL_NAME = re.compile(r"[^:\s][^:\r\n]*").fullmatch
_ILLEGAL_VALUE = re.compile(r"[\r\n\0]").search


def header_line(name: str, value: str) -> bytes:
    """One header line for libcurl (``Name;`` sends an empty value: ``Name:`` would remove
    the header). Raises ValueError for a line http.client would refuse."""
    if not _LEGAL_NAME(name) or _ILLEGAL_VALUE(value):
        raise ValueError(f"Invalid header {name!r}: a name or value that would break the request")
    text = f"{name}: {value}" if value else f"{name};"
    return text.encode("latin-1")


def last_status(lines: list[bytes]) -> int | None:
    """Where the last response's status line is (after a 100 Continue, a proxy's CONNECT), or
    None when there is none, or its head did not end (as urllib3, a head cut short is no
    response at all)."""
    if not lines or lines[-1].strip():
        return None
    for i in range(len(lines) - 1, -1, -1):
        if lines[i][:5] == b"HTTP/":
            return i
    return None


def read_head(lines: list[bytes]) -> tuple[int | None, dict[str, str], tuple[str, ...]]:
    """Status, headers (names lower-cased, repeated ones joined by ", " as urllib3 joins
    them) and the Set-Cookie values of the last response in ``lines`` (as libcurl gave
    them, each with its line end)."""
    start = last_status(lines)
    if start is None:
        return None, {}, ()
    try:
        status: int | None = int(lines[start].split(None, 2)[1])
    except (IndexError, ValueError):
        status = None
    if status is not None and 100 <= status < 200:
        return None, {}, ()  # an interim response only: the real one never came
    headers: dict[str, str] = {}
    cookies: list[str] = []
    name = ""
    for raw in lines[start + 1 :]:
        text = raw.decode("latin-1")
        if text[:1] in (" ", "\t") and name:  # an obsolete folded line: part of the last
            headers[name] = f"{headers[name]} {text.strip()}"
            continue
        field, colon, value = text.partition(":")
        if not colon:
            continue  # the blank line that ends the head
        name, value = field.strip().lower(), value.strip()
        if name in headers:
            headers[name] = f"{headers[name]}, {value}"
        else:
            headers[name] = value
        if name == "set-cookie":
            cookies.append(value)
    return status, headers, tuple(cookies)
