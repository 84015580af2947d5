"""``crawl compare``: the same crawl under several modes, one clean process each, side by side.

Each mode runs as ``python -m crawler run --mode M ... --stats-json FILE`` in its own
subprocess: gevent must patch the process before the HTTP stack is imported, and a patched
process cannot run the other modes honestly. Wall time is the crawl's own (interpreter start-up
excluded); CPU time and peak memory are the whole subprocess's, its children included.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass
from typing import Any

from crawler.compare.pss import PeakMemory
from crawler.config import MODES, ONE_LOOP_MODES
from crawler.errors import ConfigError

BLOCKS = " ▏▎▍▌▋▊▉█"


@dataclass(frozen=True)
class ModeSpec:
    """One column of the comparison: a mode, its worker count, and greenlets per process."""

    mode: str
    workers: int
    greenlets: int | None = None

    @property
    def label(self) -> str:
        """``gevent``, or ``processes×greenlets`` for the hybrid."""
        return f"{self.mode}×greenlets" if self.greenlets else self.mode

    @property
    def concurrency(self) -> str:
        """Loops as shown in the table: ``1``, ``64``, ``2×32``."""
        if self.mode in ONE_LOOP_MODES:
            return "1"
        return f"{self.workers}×{self.greenlets}" if self.greenlets else str(self.workers)

    def args(self) -> list[str]:
        """The ``crawl run`` options that select this mode."""
        args = ["--mode", self.mode, "--workers", str(self.workers)]
        return args + ["--greenlets", str(self.greenlets)] if self.greenlets else args


@dataclass
class ModeResult:
    """What one mode did: totals from its ``--stats-json``, or why it failed to run."""

    spec: ModeSpec
    pages: int = 0
    ok: int = 0
    errors: int = 0
    wall_s: float = 0.0
    cpu_s: float = 0.0
    exit_code: int = 0
    failure: str | None = None
    speedup: float | None = None
    # The most memory the crawl held at once, all its processes together (None: not measured).
    peak_mb: float | None = None

    @property
    def pages_per_s(self) -> float:
        """Records per wall-clock second of the crawl."""
        return self.pages / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def cpu_ms_per_page(self) -> float | None:
        """CPU milliseconds per record, all processes of the mode included."""
        return self.cpu_s * 1000 / self.pages if self.pages else None

    def to_dict(self) -> dict[str, Any]:
        """Plain data for ``--json``."""
        return {
            "mode": self.spec.label,
            "workers": self.spec.concurrency,
            **{k: v for k, v in asdict(self).items() if k != "spec"},
            "pages_per_s": round(self.pages_per_s, 1),
            "cpu_ms_per_page": _round(self.cpu_ms_per_page, 3),
            "speedup": _round(self.speedup, 2),
            "peak_mb": _round(self.peak_mb, 1),
        }


def parse_modes(text: str, workers: int) -> list[ModeSpec]:
    """``serial,gevent:64,processes:2x32`` → specs. ``MODE[:WORKERS[xGREENLETS]]``; the worker
    count defaults to ``workers``. Raises ``ConfigError`` for anything else."""
    specs = []
    for token in filter(None, (t.strip() for t in text.split(","))):
        mode, _, count = token.partition(":")
        if mode not in MODES:
            raise ConfigError(f"unknown mode {mode!r} in --modes; choose from {', '.join(MODES)}")
        n, greenlets = workers, None
        if count:
            n_text, _, g_text = count.lower().replace("×", "x").partition("x")
            try:
                n = int(n_text)
                greenlets = int(g_text) if g_text else None
            except ValueError:
                raise ConfigError(f"bad --modes entry {token!r}: use MODE[:N[xG]]") from None
            if n < 1 or (greenlets is not None and greenlets < 1):
                raise ConfigError(f"bad --modes entry {token!r}: counts must be at least 1")
        if greenlets is not None and mode != "processes":
            raise ConfigError(f"bad --modes entry {token!r}: only processes:PxG takes greenlets")
        specs.append(ModeSpec(mode, 1 if mode in ONE_LOOP_MODES else n, greenlets))
    if not specs:
        raise ConfigError("--modes names no mode")
    return specs


def run_mode(
    spec: ModeSpec,
    source: str,
    crawl_args: list[str],
    *,
    output: str | None = None,
    checkout: str | None = None,
) -> ModeResult:
    """Crawl ``source`` with ``spec`` in a fresh interpreter and collect its totals.
    ``checkout``: run the ``crawler`` package of that directory (another version, for a
    benchmark of before and after in one run) instead of the one this process imports."""
    result = ModeResult(spec)
    fd, stats_path = tempfile.mkstemp(prefix="crawl-compare-", suffix=".json")
    os.close(fd)
    cmd = [sys.executable, "-m", "crawler", "run", *spec.args(), *crawl_args, "-q"]
    cmd += ["-o", output or os.devnull, "--stats-json", stats_path, source]
    try:
        with (
            subprocess.Popen(
                cmd,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
                # ``-m`` puts the working directory first on the child's sys.path.
                cwd=checkout,
            ) as proc,
            PeakMemory(proc.pid) as memory,
        ):
            try:
                _, stderr = proc.communicate()
            except BaseException:  # Ctrl-C: as subprocess.run does, leave no crawl running
                proc.kill()
                raise
        result.exit_code = proc.returncode
        result.peak_mb = memory.mb
        with open(stats_path, encoding="utf-8") as f:
            text = f.read()
        if proc.returncode not in (0, 1) or not text:
            lines = stderr.strip().splitlines() or [f"exit code {proc.returncode}"]
            result.failure = lines[-1][:300]
            return result
        stats = json.loads(text)
    finally:
        os.unlink(stats_path)
    result.pages, result.ok = stats["pages"], stats["ok"]
    result.errors, result.wall_s = stats["pages"] - stats["ok"], stats["wall_s"]
    result.cpu_s = stats.get("cpu_s", 0.0)
    return result


def output_for(output: str | None, spec: ModeSpec) -> str | None:
    """``records.jsonl`` → ``records.gevent.jsonl``: one record file per mode."""
    if not output:
        return None
    root, ext = os.path.splitext(output)
    return f"{root}.{spec.label.replace('×', 'x')}{ext or '.jsonl'}"


def compare(
    specs: list[ModeSpec], source: str, crawl_args: list[str], *, output: str | None = None
) -> list[ModeResult]:
    """Run every spec in turn; speedups are against the first serial row (else the first)."""
    results = [run_mode(s, source, crawl_args, output=output_for(output, s)) for s in specs]
    base = next((r for r in results if r.spec.mode == "serial" and not r.failure), None)
    base = base or next((r for r in results if not r.failure), None)
    for r in results:
        if base and not r.failure and base.pages_per_s:
            r.speedup = r.pages_per_s / base.pages_per_s
    return results


def render_table(results: list[ModeResult], width: int = 24) -> str:
    """A fixed-width table with a bar per row, proportional to pages/s."""
    head = (
        "mode", "workers", "ok", "errors", "wall s", "pages/s", "speedup", "CPU ms/page",
        "peak MB",
    )  # fmt: skip
    rows = [head]
    for r in results:
        if r.failure:
            rows.append((r.spec.label, r.spec.concurrency, *["-"] * (len(head) - 2)))
            continue
        cpu = r.cpu_ms_per_page
        rows.append(
            (
                r.spec.label,
                r.spec.concurrency,
                str(r.ok),
                str(r.errors),
                f"{r.wall_s:.2f}",
                f"{r.pages_per_s:.1f}",
                f"{r.speedup:.1f}×" if r.speedup is not None else "-",
                f"{cpu:.2f}" if cpu is not None else "-",
                f"{r.peak_mb:.0f}" if r.peak_mb is not None else "-",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    best = max((r.pages_per_s for r in results), default=0.0)
    lines = []
    for i, row in enumerate(rows):
        cells = [
            cell.ljust(w) if j < 2 else cell.rjust(w)
            for j, (cell, w) in enumerate(zip(row, widths, strict=True))
        ]
        line = "  ".join(cells)
        if i:
            r = results[i - 1]
            line += "  " + (
                f"failed: {r.failure}" if r.failure else bar(r.pages_per_s, best, width)
            )
        lines.append(line.rstrip())
    return "\n".join(lines)


def bar(value: float, best: float, width: int) -> str:
    """``value`` as a bar of unicode blocks, ``best`` filling ``width`` cells."""
    if best <= 0 or value <= 0:
        return ""
    eighths = max(1, round(value / best * width * 8))
    return BLOCKS[-1] * (eighths // 8) + (BLOCKS[eighths % 8] if eighths % 8 else "")


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)
