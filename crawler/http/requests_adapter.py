"""The requests fetcher's transport adapter: requests' ``HTTPAdapter`` on the deadline-bounded
(and, with ``--block-private``, pinned) pools of ``crawler/http/adapter.py``.

Its own module because importing requests costs every crawl process start-up time, and the
default fetcher (urllib3) does not need it.
"""

from __future__ import annotations

from typing import Any

from requests.adapters import HTTPAdapter

from crawler.http.adapter import pool_classes


class CrawlAdapter(HTTPAdapter):
    """``HTTPAdapter`` with deadline-bounded reads; ``pin=True`` adds ``--block-private``.

    Connections to a proxy are never pinned: the proxy is the user's own choice, often on a
    private address, and it resolves the target itself (the fetcher checks the target first).
    """

    def __init__(self, *, pin: bool = False, **kwargs: Any) -> None:
        self._pools = pool_classes(pin=pin)
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = dict(self._pools)

    def proxy_manager_for(self, proxy: str, **kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **kwargs)
        manager.pool_classes_by_scheme = pool_classes(pin=False)
        return manager
