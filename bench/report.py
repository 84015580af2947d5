"""The benchmark's tables, and the issue's targets checked against the figures of this run."""

from __future__ import annotations

from typing import Any

from bench.phases import render as render_phases
from crawler.compare.modes import bar

SCRAPY_0MS, SCRAPY_50MS = 220.0, 257.0  # Scrapy 2.19, 64 concurrent, same machine and site


def _loops(result: Any) -> int:
    spec = result.spec
    return spec.workers * (spec.greenlets or 1)


def _bound(result: Any, latency_ms: float) -> float | None:
    """Pages/s if every loop waited exactly the latency and spent no time otherwise."""
    return _loops(result) / (latency_ms / 1000) if latency_ms else None


def _ours(scenario: dict) -> list[Any]:
    """The crawler's own rows (not another crawler's, such as wget's)."""
    return [r["result"] for r in scenario["rows"] if not r.get("rival")]


def _serial(scenario: dict) -> Any:
    return next((r for r in _ours(scenario) if r.spec.mode == "serial"), None)


def _leanest(rows: list[Any]) -> Any:
    """The row of least CPU per page (a run compares fetchers: the user picks one)."""
    measured = [r for r in rows if r.cpu_ms_per_page]
    return min(measured, key=lambda r: r.cpu_ms_per_page, default=None)


def _lean_serial(scenario: dict) -> Any:
    """The serial row of least CPU per page, whichever fetcher it ran."""
    return _leanest([r for r in _ours(scenario) if r.spec.mode == "serial"])


def _lean_one_process(scenario: dict) -> Any:
    """The row of least CPU per page among the modes that crawl in one process (serial,
    threads, gevent): issue 14's "one process"."""
    return _leanest([r for r in _ours(scenario) if r.spec.mode != "processes"])


def _best(scenario: dict) -> Any:
    hybrid = [r for r in _ours(scenario) if r.spec.greenlets]
    return max(hybrid or _ours(scenario), key=lambda r: r.pages_per_s, default=None)


def _rival(scenario: dict) -> Any:
    rows = [r["result"] for r in scenario["rows"] if r.get("rival") and not r["result"].failure]
    return rows[0] if rows else None


def _fastest(scenario: dict) -> Any:
    return max(_ours(scenario), key=lambda r: r.pages_per_s, default=None)


def _name(result: Any) -> str:
    return f"{result.spec.label} {result.spec.concurrency}"


def _gevent(scenario: dict) -> Any:
    rows = [r for r in _ours(scenario) if r.spec.mode == "gevent"]
    return max(rows, key=lambda r: r.pages_per_s, default=None)


def _ratio(a: float | None, b: float | None, fmt: str = "{:.2f}") -> str:
    return fmt.format(a / b) if a and b else "-"


def scenario_table(data: dict) -> str:
    """One scenario: its ceiling, then a row per mode."""
    scenario, ceiling = data["scenario"], data["ceiling"]
    latency = scenario.latency_ms
    serial = _serial(data)
    lines = [
        scenario.describe() + f" [{data['pages']} pages]",
        f"fetch-only ceiling (gevent+urllib3, no parsing, 64 connections): "
        f"{ceiling['pages_per_s']:.0f} pages/s ({ceiling['pages']} pages, "
        f"{ceiling['errors']} errors)",
    ]
    if discovery := data.get("discovery"):
        lines.append(
            "discovery-limited bound (an ideal breadth-first crawl from / over the site's links, "
            f"robots.txt first, 64 fetches in flight at the ceiling's per-request time, no CPU): "
            f"{discovery['pages_per_s']:.0f} pages/s "
            f"({discovery['pages_per_s'] / ceiling['pages_per_s']:.2f} of the ceiling)"
        )
    head = (
        "mode", "loops", "pages", "wall s", "pages/s", "×serial", "/bound", "/ceiling",
        "CPU ms/page", "site ms/page", "cores", "peak MB",
    )  # fmt: skip
    rows = [head]
    for row in data["rows"]:
        r = row["result"]
        if r.failure:
            rows.append((r.spec.label, r.spec.concurrency, "failed: " + r.failure))
            continue
        site_ms = row["site_cpu_s"] * 1000 / r.pages if r.pages else 0.0
        rows.append(
            (
                r.spec.label,
                r.spec.concurrency,
                str(r.pages),
                f"{r.wall_s:.2f}",
                f"{r.pages_per_s:.0f}",
                _ratio(r.pages_per_s, serial.pages_per_s if serial else None, "{:.1f}×"),
                _ratio(r.pages_per_s, _bound(r, latency)),
                _ratio(r.pages_per_s, ceiling["pages_per_s"]),
                f"{r.cpu_ms_per_page or 0:.2f}",
                f"{site_ms:.2f}",
                f"{(r.cpu_s + row['site_cpu_s']) / r.wall_s:.2f}" if r.wall_s else "-",
                f"{r.peak_mb:.0f}" if r.peak_mb is not None else "-",
            )
        )
    widths = [max(len(row[i]) for row in rows if len(row) > i) for i in range(len(head))]
    best = max((row["result"].pages_per_s for row in data["rows"]), default=0.0)
    for i, row in enumerate(rows):
        if len(row) < len(head):
            lines.append("  ".join(row))
            continue
        cells = [
            c.ljust(w) if j < 2 else c.rjust(w)
            for j, (c, w) in enumerate(zip(row, widths, strict=False))
        ]
        tail = "  " + bar(data["rows"][i - 1]["result"].pages_per_s, best, 16) if i else ""
        lines.append("  ".join(cells) + tail)
    if serial is not None and latency and serial.pages < data["pages"]:
        lines.append(f"(serial measured on its first {serial.pages} pages: its rate is steady)")
    for row in data["rows"]:
        if row.get("rival") and not row["result"].failure:
            lines.append(
                f"(wget: {row['result'].pages} requests, counted by the server"
                + (", a sample" if latency else "")
                + "; it fetches each spelling of a URL, and follows a redirect loop, as a page"
                " of its own)"
            )
    by_fetcher = data.get("phases_by_fetcher") or {}
    if len(by_fetcher) > 1:
        lines += [render_phases(phases, fetcher) for fetcher, phases in by_fetcher.items()]
    elif data.get("phases"):
        lines.append(render_phases(data["phases"]))
    return "\n".join(lines)


def targets(results: list[dict]) -> str:
    """The issue's performance targets, as ratios of this run's figures."""
    by_name = {d["scenario"].name: d for d in results}
    checks: list[tuple[str, float | None, float, str]] = []
    if (zero := by_name.get("small-0")) and (best := _best(zero)):
        checks.append(
            (f"latency 0: best mode ({_name(best)}) pages/s",
             best.pages_per_s, 5 * SCRAPY_0MS, "≥ 5× Scrapy's 220"),
        )  # fmt: skip
    if fifty := by_name.get("small-50"):
        ceiling = fifty["ceiling"]["pages_per_s"]
        if fastest := _fastest(fifty):
            checks.append(
                (f"latency 50 ms, crawled from /: fastest mode ({_name(fastest)}) / ceiling",
                 fastest.pages_per_s / ceiling, 0.9, f"≥ 0.9 of {ceiling:.0f}"),
            )  # fmt: skip
        if gevent := _gevent(fifty):
            checks.append(
                (f"latency 50 ms: gevent {gevent.spec.concurrency} pages/s",
                 gevent.pages_per_s, 3 * SCRAPY_50MS, "≥ 3× Scrapy's 257"),
            )  # fmt: skip
            if (serial := _serial(fifty)) and serial.pages_per_s:
                checks.append(
                    ("latency 50 ms: gevent / serial",
                     gevent.pages_per_s / serial.pages_per_s, 40.0, "≥ 40×"),
                )  # fmt: skip
    if (listed := by_name.get("list-50")) and (fastest := _fastest(listed)):
        ceiling = listed["ceiling"]["pages_per_s"]
        checks.append(
            (f"latency 50 ms, as a URL list: fastest mode ({_name(fastest)}) / ceiling",
             fastest.pages_per_s / ceiling, 0.9, f"≥ 0.9 of {ceiling:.0f}"),
        )  # fmt: skip
    checks += _cpu_checks(by_name)
    lines = ["targets (issues 3 and 14), from the figures above:"]
    for name, value, goal, text in checks:
        verdict = "met " if value is not None and value >= goal else "MISS"
        shown = f"{value:.2f}" if value is not None and value < 100 else f"{value:.0f}"
        lines.append(f"  [{verdict}] {name}: {shown}  (target {text})")
    if fifty and (discovery := fifty.get("discovery")) and (fastest := _fastest(fifty)):
        lines.append(
            f"  [info] latency 50 ms: no crawl from / can beat "
            f"{discovery['pages_per_s'] / fifty['ceiling']['pages_per_s']:.2f} of the ceiling "
            f"on this site (discovery); the fastest mode ({_name(fastest)}) reached "
            f"{fastest.pages_per_s / discovery['pages_per_s']:.2f} of that bound"
        )
    for data in (d for d in (fifty, listed) if d):
        if (hybrid := _best(data)) and hybrid.spec.greenlets:
            lines.append(
                f"  [info] {data['scenario'].name}: {_name(hybrid)} / ceiling: "
                f"{hybrid.pages_per_s / data['ceiling']['pages_per_s']:.2f}"
            )
    return "\n".join(lines)


def _cpu_checks(by_name: dict[str, dict]) -> list[tuple[str, float | None, float, str]]:
    """Issue 14's targets: CPU per page and pages/s against wget's, in this run."""
    checks: list[tuple[str, float | None, float, str]] = []
    if (large := by_name.get("large-0")) and (serial := _lean_serial(large)):
        cpu = serial.cpu_ms_per_page
        name = _name(serial)
        # "≤ x" targets as "x / value ≥ 1", so every check reads "value ≥ goal".
        checks.append((f"large-0: 0.6 ms / serial CPU per page ({name})",
                       0.6 / cpu if cpu else None, 1.0,
                       f"≥ 1: serial at {cpu or 0:.2f} ms ≤ 0.6 ms"))  # fmt: skip
        if (wget := _rival(large)) and wget.pages_per_s:
            wcpu = wget.cpu_ms_per_page
            checks += [
                (f"large-0: wget CPU per page / serial's ({name})",
                 wcpu / cpu if cpu and wcpu else None,
                 1.0, f"≥ 1: serial {cpu or 0:.2f} ms vs wget {wcpu or 0:.2f} ms"),
                (f"large-0: serial pages/s / wget's ({name})",
                 serial.pages_per_s / wget.pages_per_s, 1.0,
                 f"≥ 1: wget {wget.pages_per_s:.0f} pages/s"),
            ]  # fmt: skip
            if fastest := _fastest(large):
                checks.append(
                    (f"large-0: best mode ({_name(fastest)}) pages/s / wget's",
                     fastest.pages_per_s / wget.pages_per_s, 2.0, "≥ 2"),
                )  # fmt: skip
    if small := by_name.get("small-0"):
        if (lean := _lean_one_process(small)) and (cpu := lean.cpu_ms_per_page):
            checks.append((f"small-0: 0.35 ms / one process's CPU per page ({_name(lean)})",
                           0.35 / cpu, 1.0, f"≥ 1: {cpu:.2f} ms ≤ 0.35 ms"))  # fmt: skip
        if fastest := _fastest(small):
            checks.append((f"small-0: best mode ({_name(fastest)}) pages/s",
                           fastest.pages_per_s, 2000.0, "≥ 2,000"))  # fmt: skip
    return checks


def to_json(results: list[dict], machine: str) -> dict:
    """Everything measured, as plain data."""
    return {
        "machine": machine,
        "scenarios": [
            {
                "scenario": d["scenario"].describe(),
                "pages": d["pages"],
                "ceiling": d["ceiling"],
                "discovery_bound": d.get("discovery"),
                "phases": d.get("phases"),
                "phases_by_fetcher": d.get("phases_by_fetcher"),
                "modes": [
                    {**row["result"].to_dict(), "site_cpu_s": row["site_cpu_s"]}
                    for row in d["rows"]
                ],
            }
            for d in results
        ],
    }
