"""Which discovered links a crawl follows: domain rules and exclusions."""

from __future__ import annotations

from typing import TYPE_CHECKING

from crawler.links.urls import host_of

if TYPE_CHECKING:
    from crawler.config import CrawlConfig


def _within(host: str, domain: str) -> bool:
    return host == domain or host.endswith("." + domain)


class Scope:
    """Decides whether a link found under a given seed host is in scope."""

    def __init__(self, config: CrawlConfig) -> None:
        self.same_domain = config.same_domain
        self.allow_domains = config.allow_domains
        self.exclude = config.exclude_patterns

    def allows(self, url: str, seed_host: str) -> bool:
        """True when ``url`` (normal form) may be followed from a page under ``seed_host``."""
        if self.exclude and any(p.search(url) for p in self.exclude):
            return False
        if not self.same_domain and not self.allow_domains:
            return True
        host = host_of(url)
        if self.same_domain and _within(host, seed_host):
            return True
        return any(_within(host, d) for d in self.allow_domains)
