"""What ``--warc`` costs per page: ``python -m bench.warc`` (``--quick`` for a short run).

Starts the fixture site once and crawls it whole with each mode, with and without ``--warc``
(optionally ``--save-dir`` too), each crawl in a fresh process through ``crawl run``
(``crawler/compare/modes.py``: wall time is the crawl's own, interpreter start-up excluded).

Built for a shared machine, where other work slows any run down by a different amount each
time:

- one unmeasured crawl per mode first (cold file cache, the site's first pages);
- the variants alternate, and their order flips every round (plain, warc; warc, plain; ...),
  so a load that rises or falls during the run weighs on both alike;
- each round gives a *paired* ratio (archived / plain pages/s of that round, crawls back to
  back): the verdict is their median, which neither one lucky run nor a slow drift moves;
- beside it: the ratio of the best pages/s of each (other work only ever slows a run down),
  and the ratio of the least CPU per page of each, the steadiest of the three on a busy machine;
- the load average at the start and the end, so that figures are read with it.

``--baseline DIR`` adds another checkout's crawler (``git worktree add DIR main``, say) to the
same rounds, plain and archived, so that before and after are measured in one run under the
same load; its rows are marked ``@base``.

The archive's size per page is printed too (what the compression level trades against CPU).
``bench/warc_instructions.py`` counts instructions instead, which load cannot blur.
"""

from __future__ import annotations

import glob
import os
import statistics
import tempfile
from dataclasses import dataclass

import click

from crawler.compare.modes import ModeResult, ModeSpec, parse_modes, run_mode
from fixtures.site import SiteProcess

TARGET = 0.80  # archived pages/s over plain pages/s, at least
BASE = "@base"  # the suffix of the variants run from --baseline's checkout
BASE_ARGS = ["--depth", "1000", "--ignore-robots"]


@dataclass
class Variant:
    """Every measured run of one variant (plain, warc, save) of one mode."""

    name: str
    runs: list[ModeResult]

    @property
    def ok(self) -> list[ModeResult]:
        return [r for r in self.runs if r.failure is None and r.pages]

    @property
    def best_pages_per_s(self) -> float:
        return max((r.pages_per_s for r in self.ok), default=0.0)

    @property
    def median_pages_per_s(self) -> float:
        return statistics.median([r.pages_per_s for r in self.ok]) if self.ok else 0.0

    @property
    def least_cpu_ms(self) -> float:
        """The least CPU milliseconds per page of the runs (load only ever adds to it)."""
        return min((1000 * r.cpu_s / r.pages for r in self.ok), default=0.0)


def paired_ratio(variant: Variant, plain: Variant) -> float:
    """The median over rounds of this variant's pages/s over plain's in the same round."""
    ratios = [
        v.pages_per_s / p.pages_per_s
        for v, p in zip(variant.runs, plain.runs, strict=True)
        if v.failure is None and p.failure is None and p.pages_per_s
    ]
    return statistics.median(ratios) if ratios else 0.0


def crawl_args(name: str, label: str, attempt: int, tmp: str) -> tuple[list[str], str | None]:
    """The options of one variant's crawl, and the archive it writes (warc only)."""
    name = name.removesuffix(BASE)
    if name == "warc":
        warc = os.path.join(tmp, f"{label}-{attempt}.warc.gz")
        return [*BASE_ARGS, "--warc", warc], warc
    if name == "save":
        return [*BASE_ARGS, "--save-dir", os.path.join(tmp, f"{label}-{attempt}")], None
    return list(BASE_ARGS), None


def archive_size(warc: str) -> int:
    """Bytes of the archive and of any numbered files after it (--warc-max-size)."""
    files = [warc, *glob.glob(warc.replace(".warc.gz", "-*.warc.gz"))]
    return sum(os.path.getsize(f) for f in files if os.path.exists(f))


def measure(
    spec: ModeSpec, source: str, names: list[str], repeat: int, tmp: str, baseline: str | None
) -> tuple[dict[str, Variant], int]:
    """Every variant of one mode, ``repeat`` rounds, the order flipped each round; and the
    size in bytes of the last archive written (by this checkout)."""
    for checkout in (None, baseline) if baseline else (None,):
        run_mode(spec, source, list(BASE_ARGS), checkout=checkout)  # warm-up, not measured
    variants = {name: Variant(name, []) for name in names}
    archive_bytes = 0
    for attempt in range(repeat):
        order = names if attempt % 2 == 0 else names[::-1]
        for name in order:
            args, warc = crawl_args(name, spec.label, attempt, tmp)
            checkout = baseline if name.endswith(BASE) else None
            variants[name].runs.append(run_mode(spec, source, args, checkout=checkout))
            if warc is not None:
                if checkout is None:
                    archive_bytes = archive_size(warc)
                os.unlink(warc)  # the disk holds one archive at a time
    return variants, archive_bytes


def load() -> str:
    """The 1, 5 and 15 minute load averages."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


HEAD = ("runs", "pages", "best p/s", "median p/s", "cpu ms/page", "KB/page")
RATIOS = ("paired", "best", "cpu")


def print_mode(label: str, variants: dict[str, Variant], archive_bytes: int) -> float | None:
    """The mode's rows; returns the warc variant's paired ratio (None if it failed). Each
    variant is compared with the plain crawl of its own checkout."""
    for name, variant in variants.items():
        plain = variants["plain" + (BASE if name.endswith(BASE) else "")]
        if not variant.ok:
            failure = next((r.failure for r in variant.runs if r.failure), "no pages")
            print(f"{label:<26}{name:<11} failed: {failure}")
            continue
        pages = variant.ok[0].pages
        size = f"{archive_bytes / 1000 / pages:>12.2f}" if name == "warc" else f"{'':>12}"
        ratios = ""
        if not name.startswith("plain") and plain.ok:
            ratios = (
                f"{paired_ratio(variant, plain):>9.2f}"
                f"{variant.best_pages_per_s / plain.best_pages_per_s:>9.2f}"
                f"{variant.least_cpu_ms / plain.least_cpu_ms:>9.2f}"
            )
        print(
            f"{label:<26}{name:<11}{len(variant.ok):>6}{pages:>8}"
            f"{variant.best_pages_per_s:>12.0f}{variant.median_pages_per_s:>12.0f}"
            f"{variant.least_cpu_ms:>12.3f}{size}{ratios}"
        )
    warc, plain = variants.get("warc"), variants["plain"]
    return paired_ratio(warc, plain) if warc and warc.ok and plain.ok else None


@click.command()
@click.option("--pages", type=int, default=2000, show_default=True)
@click.option("--page-bytes", type=int, default=11_000, show_default=True)
@click.option("--latency-ms", type=int, default=0, show_default=True)
@click.option("--modes", default="serial,gevent:64,processes:2x16", show_default=True)
@click.option("--repeat", type=int, default=5, show_default=True, help="Rounds per mode.")
@click.option("--save-dir", "with_save", is_flag=True, help="Also measure --save-dir.")
@click.option("--quick", is_flag=True, help="300 pages, 3 rounds.")
@click.option(
    "--baseline",
    type=click.Path(exists=True, file_okay=False),
    help="Also run another checkout's crawler (its rows: @base), in the same rounds.",
)
def main(
    pages: int,
    page_bytes: int,
    latency_ms: int,
    modes: str,
    repeat: int,
    with_save: bool,
    quick: bool,
    baseline: str | None,
) -> None:
    """Pages/s and CPU per page with and without --warc, same site, same run."""
    if quick:
        pages, repeat = 300, 3
    names = ["plain", "warc", "save"] if with_save else ["plain", "warc"]
    if baseline:
        baseline = os.path.abspath(baseline)
        names += [name + BASE for name in names]
        print(f"baseline: {baseline} (@base)")
    specs = parse_modes(modes, 16)
    site_options = dict(pages=pages, latency_ms=latency_ms, links=10, page_bytes=page_bytes)
    print(f"site: {pages} pages of ~{page_bytes} B, {latency_ms} ms latency; {repeat} rounds")
    print(f"load average at the start: {load()}")
    print(
        f"{'mode':<26}{'variant':<11}"
        + "".join(f"{h:>{6 if h == 'runs' else 8 if h == 'pages' else 12}}" for h in HEAD)
        + "".join(f"{h:>9}" for h in RATIOS)
    )
    worst = None
    with (
        SiteProcess(startup_timeout=120, **site_options) as site,
        tempfile.TemporaryDirectory() as tmp,
    ):
        for spec in specs:
            variants, archive_bytes = measure(spec, site.url, names, repeat, tmp, baseline)
            label = f"{spec.label} {spec.concurrency}"  # gevent 16 and gevent 64 apart
            ratio = print_mode(label, variants, archive_bytes)
            if ratio is not None:
                worst = ratio if worst is None else min(worst, ratio)
    print(f"load average at the end: {load()}")
    print(
        "ratios archived / plain: paired = median over rounds of pages/s in the same round; "
        "best = best pages/s of each; cpu = least CPU per page of each (inverse: >1 costs)"
    )
    if worst is not None:
        verdict = "within" if worst >= TARGET else "OVER"
        print(f"--warc: worst paired ratio {worst:.2f} ({verdict} the 20% budget)")


if __name__ == "__main__":
    main()
