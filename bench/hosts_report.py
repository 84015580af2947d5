"""The many-host benchmark's figures: what the server saw per host, the tables, the targets.

Everything politeness-related is counted on the server (``bench/hosts_site.py``), from the start
time of every request to every host, so a crawler's own bookkeeping is never taken on trust.
"""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

# A gap this much shorter than the delay is a violation: timer and scheduling jitter are not.
SLACK_S = 0.05


@dataclass
class HostsRun:
    """One crawl of the many-host site: the crawler's totals and the server's accounting."""

    order: str
    label: str
    loops: str
    pages: int = 0
    wall_s: float = 0.0
    failure: str | None = None
    server: dict[str, Any] = field(default_factory=dict)
    rival: bool = False

    @property
    def pages_per_s(self) -> float:
        """Pages per second of the crawl's own wall time."""
        return self.pages / self.wall_s if self.wall_s > 0 else 0.0


def account(
    log: dict[str, dict],
    hosts: list[str],
    paths: list[str],
    delay: float,
    span: tuple[float, float] | None = None,
) -> dict:
    """Per-host figures from the server's log (``HostsSite.log()``), summed or extreme over hosts.

    ``min_gap_ms``: the smallest gap between two request starts to one host, over all hosts
    (``median_min_gap_ms``: the median of each host's smallest gap); ``peak``: the most requests
    one host had in flight at once; ``violations``: gaps shorter than ``delay - SLACK_S`` (none
    counted without a delay); ``duplicates``: requests for a path that host had already served;
    ``missing``: expected pages never requested. robots.txt counts as a request like any other.

    Where the wall time went (``span``: when the crawl was launched and when it exited, by
    ``time.monotonic()``, which on Linux is one clock for every process of the machine):
    ``first_s``, from the launch to the first request; ``spread_s``, from the first request to
    the last host's first; ``gap_excess_ms``, the mean gap beyond the delay; ``tail_s``, from
    the last request to the exit.
    """
    min_gaps, peak, violations, duplicates, missing, requests = [], 0, 0, 0, 0, 0
    all_gaps: list[float] = []
    firsts: list[float] = []
    last = None
    for host in hosts:
        entry = log.get(host, {"starts": [], "peak": 0})
        starts = sorted(t for t, _ in entry["starts"])
        gaps = [b - a for a, b in zip(starts, starts[1:], strict=False)]
        if gaps:
            min_gaps.append(min(gaps))
            all_gaps += gaps
        if starts:
            firsts.append(starts[0])
            last = starts[-1] if last is None else max(last, starts[-1])
        if delay > 0:
            violations += sum(gap < delay - SLACK_S for gap in gaps)
        counts = Counter(path for _, path in entry["starts"])
        duplicates += sum(n - 1 for n in counts.values())
        missing += sum(path not in counts for path in paths)
        peak = max(peak, entry["peak"])
        requests += len(starts)
    return {
        "requests": requests,
        "min_gap_ms": min(min_gaps) * 1000 if min_gaps else None,
        "median_min_gap_ms": statistics.median(min_gaps) * 1000 if min_gaps else None,
        "peak": peak,
        "violations": violations if delay > 0 else None,
        "duplicates": duplicates,
        "missing": missing,
        "strangers": sum(len(v["starts"]) for h, v in log.items() if h not in set(hosts)),
        "first_s": min(firsts) - span[0] if span and firsts else None,
        "spread_s": max(firsts) - min(firsts) if firsts else None,
        "gap_excess_ms": (statistics.mean(all_gaps) - delay) * 1000 if all_gaps else None,
        "tail_s": span[1] - last if span and last is not None else None,
    }


def _table(head: tuple[str, ...], rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(r[i]) for r in (head, *rows) if len(r) > i) for i in range(len(head))]
    out = []
    for row in (head, *rows):
        if len(row) < len(head):  # a failed run: its reason, unaligned
            out.append("  ".join(row))
            continue
        pairs = enumerate(zip(row, widths, strict=True))
        cells = [c.ljust(w) if j < 3 else c.rjust(w) for j, (c, w) in pairs]
        out.append("  ".join(cells).rstrip())
    return out


def _num(value: float | None, fmt: str = "{:.0f}") -> str:
    return "-" if value is None else fmt.format(value)


def polite_table(runs: list[HostsRun], bound_s: float, scrapy: HostsRun | None) -> list[str]:
    """One row per order × mode (and Scrapy): wall against the bound, and the server's counts."""
    head = (
        "order", "mode", "loops", "pages", "wall s", "bound/wall", "pages/s", "×Scrapy",
        "min gap ms", "med gap ms", "peak/host", "violations", "dup", "missing",
    )  # fmt: skip
    rows = []
    for r in runs:
        if r.failure:
            rows.append((r.order, r.label, r.loops, "failed: " + r.failure))
            continue
        s = r.server
        vs_scrapy = (
            r.pages_per_s / scrapy.pages_per_s
            if scrapy and not r.rival and r.order == "sorted" and scrapy.pages_per_s
            else None
        )
        rows.append(
            (
                r.order,
                r.label,
                r.loops,
                str(r.pages),
                f"{r.wall_s:.2f}",
                _num(bound_s / r.wall_s if r.wall_s else None, "{:.2f}"),
                f"{r.pages_per_s:.1f}",
                _num(vs_scrapy, "{:.2f}"),
                _num(s.get("min_gap_ms")),
                _num(s.get("median_min_gap_ms")),
                str(s.get("peak", "-")),
                _num(s.get("violations")),
                str(s.get("duplicates", "-")),
                str(s.get("missing", "-")),
            )
        )
    return _table(head, rows)


def time_table(runs: list[HostsRun]) -> list[str]:
    """Where each polite run's time went beyond the politeness itself (``account``)."""
    head = ("order", "mode", "loops", "launch→1st s", "hosts' 1st spread s", "gap − delay ms",
            "last→exit s")  # fmt: skip
    rows = []
    for r in runs:
        if r.failure:
            continue
        s = r.server
        rows.append(
            (
                r.order,
                r.label,
                r.loops,
                _num(s.get("first_s"), "{:.2f}"),
                _num(s.get("spread_s"), "{:.2f}"),
                _num(s.get("gap_excess_ms"), "{:.1f}"),
                _num(s.get("tail_s"), "{:.2f}"),
            )
        )
    return _table(head, rows)


def _ratio(pair: tuple[HostsRun, HostsRun]) -> float | None:
    many, one = pair
    if many.failure or one.failure or not one.pages_per_s:
        return None
    return many.pages_per_s / one.pages_per_s


def median_pair(pairs: list[tuple[HostsRun, HostsRun]]) -> tuple[HostsRun, HostsRun] | None:
    """The pair whose many/one ratio is the median of a mode's rounds (the lower middle one of
    an even count); None when any pair failed (a failure is never averaged away)."""
    ratios = [_ratio(p) for p in pairs]
    if not pairs or any(r is None for r in ratios):
        return None
    ranked = sorted(range(len(pairs)), key=lambda i: ratios[i])
    return pairs[ranked[(len(pairs) - 1) // 2]]


def spread_table(modes: list[list[tuple[HostsRun, HostsRun]]]) -> list[str]:
    """Per mode: pages/s on many hosts and on one host with the same pages, and their ratio,
    from the median round; every round's ratio; duplicates and missing pages over all rounds."""
    head = (
        "mode", "loops", "", "pages many", "pages/s many", "pages one", "pages/s one", "many/one",
        "each round", "dup", "missing",
    )  # fmt: skip
    rows = []
    for pairs in modes:
        if not pairs:
            continue
        middle = median_pair(pairs)
        first = pairs[0][0]
        if middle is None:
            failed = next(r.failure for p in pairs for r in p if r.failure) or "no pages"
            rows.append((first.label, first.loops, "", "failed: " + failed))
            continue
        many, one = middle
        each = " ".join(_num(_ratio(p), "{:.2f}") for p in pairs)
        dup = sum(r.server.get("duplicates", 0) for p in pairs for r in p)
        missing = sum(r.server.get("missing", 0) for p in pairs for r in p)
        rows.append(
            (
                many.label,
                many.loops,
                "",
                str(many.pages),
                f"{many.pages_per_s:.0f}",
                str(one.pages),
                f"{one.pages_per_s:.0f}",
                _num(_ratio(middle), "{:.2f}"),
                each,
                str(dup),
                str(missing),
            )
        )
    return _table(head, rows)


def targets(
    runs: list[HostsRun],
    bound_s: float | None,
    scrapy: HostsRun | None,
    spread: list[list[tuple[HostsRun, HostsRun]]],
    floor_s: float | None = None,
) -> list[str]:
    """The issue's targets as ratios of this run's figures; nothing here judges pass or fail."""
    lines = ["targets (issue 12), as ratios of the figures above (shown, not judged):"]
    for r in runs:
        if r.failure or r.rival or not r.wall_s or not bound_s:
            continue
        line = f"  {r.order:<11} {r.label} {r.loops}: wall/bound {r.wall_s / bound_s:.2f} (≤ 1.15)"
        if floor_s:
            line += f", wall/floor {r.wall_s / floor_s:.2f}"
        if r.order == "sorted" and scrapy and scrapy.pages_per_s:
            line += f", pages/s ÷ Scrapy's {r.pages_per_s / scrapy.pages_per_s:.2f} (≥ 1.3)"
        lines.append(line)
    if scrapy and scrapy.pages_per_s and bound_s:
        lines.append(reachable_vs_scrapy(scrapy, bound_s))
    for pairs in spread:
        middle = median_pair(pairs)
        if middle is not None:
            many = middle[0]
            lines.append(
                f"  no delay    {many.label} {many.loops}: many hosts ÷ one host pages/s "
                f"{_ratio(middle):.2f} (≥ 0.8; median of {len(pairs)})"
            )
    return lines


def reachable_vs_scrapy(scrapy: HostsRun, bound_s: float) -> str:
    """How far ahead of Scrapy a crawler that keeps every delay can be in this run.

    No such crawler finishes the sorted list before the bound, so its pages/s is at most
    Scrapy's × Scrapy's wall ÷ the bound. Scrapy counts a slot's delay from the moment it hands
    a request to the downloader, not from when the request reaches the server, and its requests
    leave late by varying amounts: some of its gaps come out shorter than the delay (its
    violations, counted by the server), and its wall can then be under 1.3 × the bound, where
    1.3 × its pages/s is out of reach of any crawler that keeps the delay."""
    best = scrapy.wall_s / bound_s
    needed = scrapy.wall_s / 1.3
    violations = scrapy.server.get("violations")
    return (
        f"  sorted      Scrapy: wall/bound {best:.2f}, {_num(violations)} gaps shorter than the "
        f"delay; a crawler that keeps every delay reaches at most {best:.2f} × its pages/s "
        f"(1.3 × needs a wall of {needed:.2f} s, {'under' if needed < bound_s else 'over'} "
        f"the bound of {bound_s:.2f} s)"
    )
