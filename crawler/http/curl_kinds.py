"""libcurl's error codes as the crawler's error kinds (the ``error`` field of a record), named
as the fetch core names urllib3's exceptions (``crawler/http/core.py`` ``classify``), so a crawl
records the same kind for the same failure whichever fetcher ran it.

By number, as ``curl.h`` defines them (part of libcurl's ABI, never renumbered): pycurl names
only some (``CURLE_WEIRD_SERVER_REPLY`` is its ``E_FTP_WEIRD_SERVER_REPLY``; newer codes such
as ``CURLE_PROXY`` or ``CURLE_TOO_LARGE`` it does not name at all). A code not listed is
``fetch``.
"""

from __future__ import annotations

KINDS = {
    6: "dns",  # COULDNT_RESOLVE_HOST
    # Not reached, refused, or a proxy that failed us (urllib3: NewConnectionError, ProxyError).
    5: "connect",  # COULDNT_RESOLVE_PROXY
    7: "connect",  # COULDNT_CONNECT
    96: "connect",  # QUIC_CONNECT_ERROR
    97: "connect",  # PROXY (a proxy's handshake or its refusal)
    28: "timeout",  # OPERATION_TIMEDOUT
    # The TLS handshake, the certificate, the TLS engine.
    **dict.fromkeys((35, 53, 54, 58, 59, 60, 64, 66, 77, 80, 82, 83, 90, 91, 98, 101), "tls"),
    # A connection broken or a reply that is not HTTP: urllib3's ProtocolError and kin.
    1: "protocol",  # UNSUPPORTED_PROTOCOL (also an HTTP/0.9 reply)
    8: "protocol",  # WEIRD_SERVER_REPLY (a malformed status line or header, a NUL in one)
    16: "protocol",  # HTTP2
    18: "protocol",  # PARTIAL_FILE: the body ended before its length
    52: "protocol",  # GOT_NOTHING
    55: "protocol",  # SEND_ERROR
    56: "protocol",  # RECV_ERROR
    92: "protocol",  # HTTP2_STREAM
    95: "protocol",  # HTTP3
    100: "protocol",  # TOO_LARGE: a head past libcurl's limits (http.client: too many headers)
    61: "decode",  # BAD_CONTENT_ENCODING
    3: "invalid_url",  # URL_MALFORMAT
    63: "too_large",  # FILESIZE_EXCEEDED
}
# Details name the failure as urllib3's exception would, where a test or a user greps for it.
_DETAIL_NAMES = {18: "IncompleteRead"}


def kind_of(code: int, message: str) -> tuple[str, str]:
    """The error kind of libcurl error ``code`` and a one-line detail from its ``message``."""
    name = _DETAIL_NAMES.get(code, "curl error")
    return KINDS.get(code, "fetch"), f"{name} ({code}): {message}"[:300]
