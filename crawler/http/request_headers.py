"""The headers a crawl's requests carry, whichever fetcher sends them: ours (User-Agent,
Accept), the user's ``-H`` ones, a seed's credentials on its own origin, and a request's own.

Apart from the fetch core (``core.py``) so that a fetcher that reads responses itself (the curl
fetcher) needs no urllib3: importing urllib3 costs a crawl more CPU than a hundred 100 KB pages
(docs/performance.md).
"""

from __future__ import annotations

from collections.abc import Mapping

from crawler.config import CrawlConfig
from crawler.http.credentials import origin_of


class RequestHeaders:
    """One fetcher's settings turned into request headers: ``fixed_headers`` for every
    request, ``headers`` for what a given request adds."""

    def __init__(self, config: CrawlConfig) -> None:
        self.config = config
        self._user_headers = dict(config.headers)
        self.user_header_names = frozenset(name.lower() for name in self._user_headers)
        # Sent with every request (unless a -H header of the same name replaces it): identify
        # ourselves and say what we read.
        self.fixed_headers = {
            name: value
            for name, value in (
                ("User-Agent", config.user_agent),
                ("Accept", ",".join((*config.accept, "*/*;q=0.8"))),
            )
            if name.lower() not in self.user_header_names
        }
        self._credentials = dict(config.credentials)

    def every_request(self) -> dict[str, str]:
        """What a fetcher that decodes bodies itself sends with every request: ``fixed_headers``
        and ``Accept-Encoding`` (the encodings ``decoding.py`` reads: gzip, deflate, and br / zstd
        when their decoders are installed, as urllib3 and requests ask), unless a ``-H`` header
        names it."""
        from crawler.http.decoding import ACCEPT_ENCODING

        sent = dict(self.fixed_headers)
        if "accept-encoding" not in self.user_header_names:
            sent["Accept-Encoding"] = ACCEPT_ENCODING
        return sent

    def headers(
        self, url: str, *, user_headers: bool = True, own: Mapping[str, str] | None = None
    ) -> dict[str, str]:
        """What ``url``'s request adds to ``fixed_headers``: the user's ``-H`` headers (unless
        ``user_headers`` is False), on the origin of a seed that carried them the seed's
        credentials as Basic auth (never on another origin), then the request's ``own``."""
        extra = dict(self._user_headers) if user_headers else {}
        if self._credentials and (auth := self._credentials.get(origin_of(url))):
            # The seed's own credentials win over an -H Authorization on their origin.
            extra = {k: v for k, v in extra.items() if k.lower() != "authorization"}
            extra["Authorization"] = auth
        if own:
            extra.update(own)
        return extra
