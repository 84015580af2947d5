"""What ``--warc`` costs per page: ``python -m bench.warc`` (``--quick`` for a short run).

Starts the fixture site once and crawls it whole with each mode, with and without ``--warc``
(optionally ``--save-dir`` too), back to back in the same run and alternating, each crawl in a
fresh process through ``crawl run`` (``crawler/compare/modes.py``); each figure is the best of
``--repeat`` runs (other work on the machine only ever slows a run down). It prints pages/s and
CPU per page of each, and the ratios archived / plain of both, pages/s being the figure the
target is about: the archive should cost no more than 20% of the pages per second. On a busy
machine the CPU ratio is the steadier of the two. For the archive, the size of the file per
page too (what the compression level trades against CPU).
"""

from __future__ import annotations

import glob
import os
import tempfile

import click

from crawler.compare.modes import ModeResult, parse_modes, run_mode
from fixtures.site import SiteProcess

TARGET = 0.80  # archived pages/s over plain pages/s, at least


def best(results: list[ModeResult]) -> ModeResult:
    """The fastest of several runs of one crawl (failures last)."""
    return max(results, key=lambda r: (r.failure is None, r.pages_per_s))


def measure(
    spec, source: str, extra: list[str], repeat: int, tmp: str
) -> tuple[dict[str, ModeResult], int]:
    """``plain`` and each variant of ``extra`` for one mode, alternating, best of ``repeat``;
    and the size in bytes of the last archive written."""
    variants: dict[str, list[str]] = {"plain": [], **{name: [] for name in extra}}
    runs: dict[str, list[ModeResult]] = {name: [] for name in variants}
    base = ["--depth", "1000", "--ignore-robots"]
    archive_bytes = 0
    for attempt in range(repeat):
        for name in variants:
            args = list(base)
            if name == "warc":
                warc = os.path.join(tmp, f"{spec.label}-{attempt}.warc.gz")
                args += ["--warc", warc]
            elif name == "save":
                args += ["--save-dir", os.path.join(tmp, f"{spec.label}-{attempt}")]
            runs[name].append(run_mode(spec, source, args))
            if name == "warc":
                # The file and any numbered ones after it (--warc-max-size).
                files = [warc, *glob.glob(warc.replace(".warc.gz", "-*.warc.gz"))]
                archive_bytes = sum(os.path.getsize(f) for f in files if os.path.exists(f))
    return {name: best(results) for name, results in runs.items()}, archive_bytes


@click.command()
@click.option("--pages", type=int, default=2000, show_default=True)
@click.option("--page-bytes", type=int, default=11_000, show_default=True)
@click.option("--latency-ms", type=int, default=0, show_default=True)
@click.option("--modes", default="serial,threads:16,processes:2x16", show_default=True)
@click.option("--repeat", type=int, default=3, show_default=True)
@click.option("--save-dir", "with_save", is_flag=True, help="Also measure --save-dir.")
@click.option("--quick", is_flag=True, help="300 pages, one run each.")
def main(
    pages: int,
    page_bytes: int,
    latency_ms: int,
    modes: str,
    repeat: int,
    with_save: bool,
    quick: bool,
) -> None:
    """Pages/s with and without --warc, same site, same run."""
    if quick:
        pages, repeat = 300, 1
    extra = ["warc", "save"] if with_save else ["warc"]
    specs = parse_modes(modes, 16)
    site_options = dict(pages=pages, latency_ms=latency_ms, links=10, page_bytes=page_bytes)
    print(f"site: {pages} pages of ~{page_bytes} B, {latency_ms} ms latency; best of {repeat}")
    head = ("pages", "pages/s", "cpu ms/page", "ratio", "cpu ratio", "KB/page")
    print(f"{'mode':<26}{'variant':<8}" + "".join(f"{h:>12}" for h in head))
    worst = None
    with (
        SiteProcess(startup_timeout=120, **site_options) as site,
        tempfile.TemporaryDirectory() as tmp,
    ):
        for spec in specs:
            results, archive_bytes = measure(spec, site.url, extra, repeat, tmp)
            label = f"{spec.label} {spec.concurrency}"  # gevent 16 and gevent 64 apart
            plain = results["plain"]
            for name, result in results.items():
                if result.failure:
                    print(f"{label:<26}{name:<8} failed: {result.failure}")
                    continue
                ratio = result.pages_per_s / plain.pages_per_s if plain.pages_per_s else 0.0
                cpu_ms = 1000 * result.cpu_s / result.pages if result.pages else 0.0
                cpu_ratio = result.cpu_s / plain.cpu_s if plain.cpu_s else 0.0
                size = f"{archive_bytes / 1000 / result.pages:>12.2f}" if name == "warc" else ""
                print(
                    f"{label:<26}{name:<8}{result.pages:>12}{result.pages_per_s:>12.0f}"
                    f"{cpu_ms:>12.2f}{ratio:>12.2f}{cpu_ratio:>12.2f}{size}"
                )
                if name == "warc":
                    worst = ratio if worst is None else min(worst, ratio)
    if worst is not None:
        verdict = "within" if worst >= TARGET else "OVER"
        print(f"--warc: worst ratio {worst:.2f} ({verdict} the 20% budget)")


if __name__ == "__main__":
    main()
