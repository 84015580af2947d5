"""What ``--warc`` costs in instructions: ``python -m bench.warc_instructions`` (needs valgrind).

A loaded machine blurs time but not instructions. Each crawl of the fixture site runs under
``valgrind --tool=cachegrind --cache-sim=no`` (every process of it, pool children included),
plain and with ``--warc``, at two ``--max-pages`` counts; the difference between the two counts
splits the instructions into a cost **per page** (the slope) and a cost **per crawl** (start-up,
imports, the first file, the end), so a fixed cost cannot pass for a per-page one or the other
way round. Instructions are not time: SHA-1 runs without the CPU's SHA extensions under
valgrind, so the digests weigh more here than natively.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import click

from crawler.compare.modes import parse_modes
from fixtures.site import SiteProcess

_REFS = re.compile(r"I\s+refs:\s+([\d,]+)")


def instructions(mode_args: list[str], url: str, pages: int, extra: list[str], tmp: str):
    """(instructions of every process of the crawl, pages crawled)."""
    stats = os.path.join(tmp, "stats.json")
    cmd = [
        "valgrind", "--tool=cachegrind", "--cache-sim=no", "--trace-children=yes",
        "--cachegrind-out-file=/dev/null",
        sys.executable, "-m", "crawler", "run", *mode_args, "--depth", "1000",
        "--ignore-robots", "--max-pages", str(pages), "-q", "-o", os.devnull,
        "--stats-json", stats, *extra, url,
    ]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=3600)
    counts = [int(m.replace(",", "")) for m in _REFS.findall(done.stderr)]
    if done.returncode not in (0, 1) or not counts:
        raise click.ClickException(f"crawl failed: {done.stderr.strip()[-300:]}")
    with open(stats, encoding="utf-8") as f:
        return sum(counts), json.load(f)["pages"]


@click.command()
@click.option("--modes", default="serial", show_default=True)
@click.option("--small", type=int, default=100, show_default=True, help="Pages, first count.")
@click.option("--large", type=int, default=500, show_default=True, help="Pages, second count.")
@click.option("--page-bytes", type=int, default=11_000, show_default=True)
def main(modes: str, small: int, large: int, page_bytes: int) -> None:
    """Instructions per page and per crawl, with and without --warc."""
    if shutil.which("valgrind") is None:
        raise click.ClickException("valgrind is not installed")
    print(f"site: {large * 2} pages of ~{page_bytes} B; crawls of {small} and {large} pages")
    print(f"{'mode':<26}{'variant':<8}{'M instr/page':>14}{'M instr/crawl':>15}{'per page':>10}")
    with (
        SiteProcess(pages=large * 2, page_bytes=page_bytes, links=10) as site,
        tempfile.TemporaryDirectory() as tmp,
    ):
        for spec in parse_modes(modes, 16):
            label = f"{spec.label} {spec.concurrency}"
            slopes = {}
            for name in ("plain", "warc"):
                extra = ["--warc", os.path.join(tmp, "a.warc.gz")] if name == "warc" else []
                i1, p1 = instructions(spec.args(), site.url, small, extra, tmp)
                i2, p2 = instructions(spec.args(), site.url, large, extra, tmp)
                slope = (i2 - i1) / (p2 - p1)
                slopes[name] = slope
                fixed = i1 - slope * p1
                ratio = slope / slopes["plain"]
                print(f"{label:<26}{name:<8}{slope / 1e6:>14.3f}{fixed / 1e6:>15.1f}{ratio:>10.2f}")


if __name__ == "__main__":
    main()
