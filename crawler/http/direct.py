"""A request straight to its host's connection pool, without ``PoolManager.urlopen``'s
per-request work for the usual URL.

``PoolManager.urlopen`` parses the URL (``parse_url``: host normalisation, dot segments,
percent-encoding) and looks its pool up by a key it rebuilds from a dozen settings on every
request: ~50 µs per page, a sixth of the urllib3 fetcher's CPU. A crawl's URLs are in normal
form already, so for a URL made only of characters ``parse_url`` leaves as they are (a
lowercase host name or IPv4 address, an optional port, a path without dot segments and a query
of unreserved, sub-delimiter and ``:@/?`` characters and upper-case percent escapes, no
fragment), the scheme, host, port and request target are cut out with one regular expression,
and the pool is kept per origin. Any other URL goes through ``PoolManager.urlopen`` as before;
``tests/test_direct.py`` checks the cut gives what ``parse_url`` gives.
"""

from __future__ import annotations

import re
from typing import Any

from urllib3 import PoolManager
from urllib3.exceptions import ClosedPoolError

_PATH = r"(?:[-A-Za-z0-9._~!$&'()*+,;=:@/]|%[0-9A-F]{2})*"
_QUERY = r"(?:[-A-Za-z0-9._~!$&'()*+,;=:@/?]|%[0-9A-F]{2})*"
_USUAL = re.compile(rf"(https?)://([a-z0-9.-]+)(?::([0-9]{{1,5}}))?(/{_PATH})(\?{_QUERY})?")


def request_target(url: str) -> tuple[str, str, int | None, str] | None:
    """``(scheme, host, port, target)`` of ``url`` as ``urllib3.util.parse_url`` gives them
    (``target``: its ``request_uri``), or None for a URL this does not read."""
    match = _USUAL.fullmatch(url)
    if match is None:
        return None
    scheme, host, port, path, query = match.groups()
    if "/." in path or not host.strip("."):  # dot segments, or a host of dots: parse_url's
        return None
    number = None
    if port is not None:
        number = int(port)
        if number > 65535:
            return None
    return scheme, host, number, path + query if query else path


class DirectPools:
    """One fetcher's way to its pools: the usual URL straight to its origin's pool (kept,
    up to ``size`` origins), any other through ``manager.urlopen``."""

    def __init__(self, manager: PoolManager, size: int = 256) -> None:
        self.manager = manager
        self.size = size
        self._pools: dict[tuple[str, str, int | None], Any] = {}

    def urlopen(self, url: str, **kw: Any) -> Any:
        """GET ``url`` as ``manager.urlopen("GET", url, **kw)`` would."""
        cut = request_target(url)
        if cut is None:
            return self.manager.urlopen("GET", url, **kw)
        scheme, host, port, target = cut
        key = (scheme, host, port)
        pool = self._pools.get(key)
        if pool is None or pool.pool is None:  # new, or closed by the manager (evicted)
            pool = self.manager.connection_from_host(host, port=port, scheme=scheme)
            if len(self._pools) >= self.size:
                self._pools.clear()
            self._pools[key] = pool
        try:
            return pool.urlopen("GET", target, assert_same_host=False, **kw)
        except ClosedPoolError:  # evicted between the check and the request (another loop)
            self._pools.pop(key, None)
            return self.manager.urlopen("GET", url, **kw)
