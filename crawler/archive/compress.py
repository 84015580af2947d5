"""One gzip member per WARC record: ISA-L's igzip (the ``isal`` package) when it is installed,
else zlib. Both write standard gzip (RFC 1952) that any reader (warcio, zcat, pywb) takes.

Why igzip: compression is the largest single cost of archiving a page, paid on every page in
the crawl's own processes, and igzip's level 1 deflates HTML several times faster than zlib's
fastest level, to about the same size (docs/archiving.md has the figures). Requests and other
small records go at igzip's level 0, whose set-up is cheaper still; on a few hundred bytes the
two levels differ by a handful of bytes.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable

# zlib's fastest level, for installs without igzip.
ZLIB_LEVEL = 1
# Records at most this long are compressed at igzip's level 0 (its cheapest set-up).
SMALL = 1024


def zlib_member(data: bytes) -> bytes:
    """``data`` as one gzip member, with zlib. The window is no larger than ``data`` (the
    output is the same: no back-reference reaches further), because setting up zlib's default
    32 KiB window and hash tables cost more than compressing a small request record."""
    window = min(zlib.MAX_WBITS, max(9, len(data).bit_length()))
    compressor = zlib.compressobj(ZLIB_LEVEL, zlib.DEFLATED, window + 16, max(1, window - 6))
    return compressor.compress(data) + compressor.flush()


def _igzip_member() -> Callable[[bytes], bytes] | None:
    try:
        from isal import igzip_lib
    except ImportError:  # pragma: no cover - isal is a dependency; a build without it works
        return None
    compress, gzip_flag = igzip_lib.compress, igzip_lib.COMP_GZIP

    def igzip_member(data: bytes) -> bytes:
        """``data`` as one gzip member, with ISA-L's igzip."""
        return compress(data, 1 if len(data) > SMALL else 0, gzip_flag)

    return igzip_member


igzip_member = _igzip_member()
# What the records are compressed with: igzip when installed.
gzip_member: Callable[[bytes], bytes] = igzip_member or zlib_member
