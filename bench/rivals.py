"""Other crawlers on the same site, in the same run: ``wget`` (when it is installed).

``wget --recursive`` is the serial crawler most people already have: it fetches one page at a
time, parses HTML in C, obeys robots.txt. It runs against the scenario's site exactly as the
crawler does (from ``/``, or the URL list with ``--input-file``), saving nothing. Its pages are
counted on the server: every request it made, since wget keys pages by their URL text (``x?``
and ``x``, or ``?a=1&b=2`` and ``?b=2&a=1``, are two pages to it, one to the crawler), so it
makes more requests for the same site. At 50 ms it runs serially at ~20 pages/s, so, like the
crawler's serial mode, it is measured on its first pages only.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time

from crawler.compare.modes import ModeResult, ModeSpec
from crawler.compare.pss import PeakMemory
from fixtures.site import SiteProcess

POLL_S = 0.25  # how often a sampled run checks the server's request count


def wget_available() -> bool:
    """True when a ``wget`` is on PATH."""
    return shutil.which("wget") is not None


def run_wget(site: SiteProcess, source: str, *, sample: int | None = None) -> ModeResult:
    """Crawl ``source`` (the site's URL: recursively; a file: its URLs) with wget; stop it once
    the server has answered ``sample`` requests, if given. Requests, wall and CPU seconds."""
    result = ModeResult(ModeSpec("wget", 1))
    site.reset_counts()
    with tempfile.TemporaryDirectory() as tmp:
        cmd = ["wget", "--quiet", "--delete-after", "--no-directories", "--directory-prefix", tmp]
        cmd += ["--execute", "robots=on", "--no-proxy", "--tries", "1"]
        if source.startswith("http"):
            cmd += ["--recursive", "--level", "inf", "--no-parent", source]
        else:
            cmd += ["--input-file", source]
        before = os.times()
        started = time.monotonic()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        with PeakMemory(proc.pid) as memory:
            while True:
                try:
                    proc.wait(timeout=POLL_S)
                    break
                except subprocess.TimeoutExpired:
                    if sample and sum(site.counts().values()) >= sample:
                        proc.terminate()
                        proc.wait()
                        break
        result.peak_mb = memory.mb
        result.wall_s = time.monotonic() - started
        after = os.times()
    result.pages = result.ok = sum(site.counts().values())
    result.cpu_s = (after.children_user - before.children_user) + (
        after.children_system - before.children_system
    )
    # 8: some page answered with an error status (the site has 404s); anything else is wget's.
    result.exit_code = proc.returncode
    if proc.returncode not in (0, 8) and not (sample and proc.returncode < 0):
        result.failure = f"wget exited with code {proc.returncode}"
    return result
