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
        return self._host_allowed(host_of(url), seed_host)

    def filter(self, urls: list[str], seed_host: str) -> list[str]:
        """Those of ``urls`` (normal form) that ``allows``, in order: one decision per host,
        hosts read from ``host_of``'s cache in a C loop (a page's links share a few hosts)."""
        if self.exclude:
            return [url for url in urls if self.allows(url, seed_host)]
        if not self.same_domain and not self.allow_domains:
            return list(urls)
        hosts = list(map(host_of.cache.get, urls))  # type: ignore[attr-defined]
        if None in hosts:
            hosts = [
                host if host is not None else host_of(url)
                for url, host in zip(urls, hosts, strict=True)
            ]
        allowed = {host: self._host_allowed(host, seed_host) for host in set(hosts)}
        if all(allowed.values()):
            return list(urls)
        return [url for url, host in zip(urls, hosts, strict=True) if allowed[host]]

    def _host_allowed(self, host: str, seed_host: str) -> bool:
        if self.same_domain and _within(host, seed_host):
            return True
        return any(_within(host, d) for d in self.allow_domains)
