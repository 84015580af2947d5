"""Two fetchers' CPU per page by phase, alternating: ``python -m bench.fetcher_phases``.

One site process per scenario; a serial crawl of it in a fresh process per run
(``bench/phases.py``), the fetchers taking turns (A, B, A, B ...), so both see the same load
over time; the medians of the runs are printed per fetcher, and their ratio.
"""

from __future__ import annotations

import statistics
import sys

import click

from bench.phases import PHASES
from bench.phases import measure as measure_phases
from bench.scenarios import SCENARIOS
from fixtures.site import SiteProcess


@click.command()
@click.option("--scenarios", default="small-0,large-0", show_default=True)
@click.option("--fetchers", default="urllib3,curl", show_default=True)
@click.option("--runs", type=click.IntRange(min=1), default=5, show_default=True)
def main(scenarios: str, fetchers: str, runs: int) -> None:
    """Medians of ``runs`` alternating serial crawls per fetcher: CPU ms per page by phase."""
    names = [f.strip() for f in fetchers.split(",") if f.strip()]
    print(f"command: python -m bench.fetcher_phases {' '.join(sys.argv[1:])}".rstrip())
    for name in scenarios.split(","):
        scenario = SCENARIOS[name]
        options = dict(latency_ms=0, links=scenario.links, page_bytes=scenario.page_bytes)
        with SiteProcess(pages=scenario.pages, **options) as site:
            results: dict[str, list[dict]] = {f: [] for f in names}
            for _ in range(runs):
                for fetcher in names:
                    extra = [] if fetcher == "urllib3" else ["--fetcher", fetcher]
                    data = measure_phases(site.url, ["--depth", "1000", *extra])
                    if "failure" in data:
                        raise click.ClickException(f"{fetcher}: {data['failure']}")
                    results[fetcher].append(data)
        base = None
        for fetcher, found in results.items():
            total = statistics.median(r["cpu_ms_per_page"] for r in found)
            phases = {
                k: statistics.median(r["phases_ms_per_page"][k] for r in found) for k in PHASES
            }
            base = base or total
            parts = ", ".join(f"{k} {v:.3f}" for k, v in phases.items())
            print(f"{name} {fetcher}: {parts}; total {total:.3f} ({total / base:.2f}×)")


if __name__ == "__main__":
    main()
