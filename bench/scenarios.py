"""The benchmark's sites and the crawls run against them.

Every figure of one scenario is measured in the same run, against the same site process, so the
ratios (vs serial, vs the ``workers / latency`` bound, vs the fetch-only ceiling) compare like
with like on whatever the machine is doing at the time.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Scenario:
    """A fixture site and how it is crawled."""

    name: str
    pages: int
    page_bytes: int
    links: int
    latency_ms: float
    # "site": crawl from / following links; "list": fetch /urls.txt's URLs, depth 0.
    crawl: str = "site"
    # Also print where a serial crawl's CPU goes (fetch, parse, links, records): bench/phases.py.
    phases: bool = False

    def describe(self) -> str:
        """One line for the report."""
        how = "crawled from /" if self.crawl == "site" else "as a URL list, depth 0"
        return (
            f"{self.name}: {self.pages} pages of ~{self.page_bytes // 1000} KB, "
            f"{self.links} links each, {self.latency_ms:g} ms latency, {how}"
        )


SCENARIOS = {
    s.name: s
    for s in (
        Scenario("small-0", 2000, 10_000, 10, 0, phases=True),
        Scenario("small-50", 2000, 10_000, 10, 50),
        Scenario("list-50", 2000, 10_000, 10, 50, crawl="list"),
        Scenario("large-0", 300, 100_000, 300, 0, phases=True),
        Scenario("large-50", 300, 100_000, 300, 50),
    )
}
DEFAULT_SCENARIOS = "small-0,small-50,list-50,large-0"
QUICK_SCENARIOS = "small-0,small-50"
QUICK_PAGES = 500

# The strategies compared: serial, lookahead (serial sending its next request ahead), 64
# threads, 64 greenlets, processes, and the best mode
# (processes × greenlets: one process per core, 64 greenlets in all).
DEFAULT_MODES = "serial,lookahead,threads:64,gevent:64,processes:16,processes:{cpus}x{per_cpu}"
QUICK_MODES = "serial,lookahead,gevent:64,processes:{cpus}x{per_cpu}"
# Serial at 50 ms is ~20 pages/s: its rate is measured on the first pages only.
SERIAL_SAMPLE = 300
