"""libcurl's error codes as the crawler's error kinds (the ``error`` field of a record), named
as the fetch core names urllib3's exceptions (``crawler/http/core.py`` ``classify``), so a crawl
records the same kind for the same failure whichever fetcher ran it."""

from __future__ import annotations

import pycurl

# By name, not number: a name this pycurl does not know is left out (then the kind is "fetch").
_NAMES = {
    "dns": ("E_COULDNT_RESOLVE_HOST",),
    # urllib3 reports a proxy it cannot reach or resolve as ProxyError: "connect".
    "connect": ("E_COULDNT_CONNECT", "E_COULDNT_RESOLVE_PROXY", "E_PROXY"),
    "timeout": ("E_OPERATION_TIMEDOUT",),
    "tls": (
        "E_SSL_CONNECT_ERROR",
        "E_PEER_FAILED_VERIFICATION",
        "E_SSL_CERTPROBLEM",
        "E_SSL_CIPHER",
        "E_SSL_CACERT_BADFILE",
        "E_SSL_CRL_BADFILE",
        "E_SSL_ISSUER_ERROR",
        "E_SSL_PINNEDPUBKEYNOTMATCH",
        "E_SSL_INVALIDCERTSTATUS",
        "E_SSL_SHUTDOWN_FAILED",
        "E_SSL_ENGINE_NOTFOUND",
        "E_SSL_ENGINE_SETFAILED",
        "E_SSL_ENGINE_INITFAILED",
        "E_USE_SSL_FAILED",
    ),
    # A connection broken or a reply that is not HTTP: urllib3's ProtocolError and kin.
    "protocol": (
        "E_PARTIAL_FILE",
        "E_GOT_NOTHING",
        "E_RECV_ERROR",
        "E_SEND_ERROR",
        "E_WEIRD_SERVER_REPLY",
        "E_HTTP2",
        "E_HTTP2_STREAM",
        "E_HTTP3",
        "E_UNSUPPORTED_PROTOCOL",
    ),
    "decode": ("E_BAD_CONTENT_ENCODING",),
    "invalid_url": ("E_URL_MALFORMAT",),
    "too_large": ("E_FILESIZE_EXCEEDED",),
}
KINDS = {
    getattr(pycurl, name): kind
    for kind, names in _NAMES.items()
    for name in names
    if hasattr(pycurl, name)
}
# Details name the failure as urllib3's exception would, where a test or a user greps for it.
_DETAIL_NAMES = {getattr(pycurl, "E_PARTIAL_FILE", 18): "IncompleteRead"}


def kind_of(code: int, message: str) -> tuple[str, str]:
    """The error kind of libcurl error ``code`` and a one-line detail from its ``message``."""
    name = _DETAIL_NAMES.get(code, "curl error")
    return KINDS.get(code, "fetch"), f"{name} ({code}): {message}"[:300]
