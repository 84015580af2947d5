"""Run ``python cli.py ...`` as a user would, and measure what it left behind.

The crawl gets a session (and process group) of its own, as a shell gives a job, so Ctrl-C can
be sent to the whole group and anything still in the group after it exits is a leftover. Memory
is measured two ways: the peak PSS of the whole process tree, sampled from ``/proc`` while it
runs (``crawler/compare/pss.py``: a page shared after fork counts once), and the largest
resident set of any single process of the tree, from the kernel's own accounting
(``wait4``'s ``ru_maxrss`` covers the process and every descendant it reaped), which no
sampling can miss. A process alone in its tree is not sampled: its PSS is at most its resident
set, which that accounting bounds exactly, and reading PSS walks the process's page tables
(~2 ms a sample, 0.4 s of CPU over a 20 s crawl).
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from crawler.compare.pss import INTERVAL_S, tree_pss_kb
from tests.support.cli import DUMP_WAIT_S, STACKDUMP, STACKS_VARIABLE, cli_argv, stacks_in
from tests.support.paths import ROOT

# Proxy variables of the machine running the tests must not send loopback requests elsewhere.
_PROXY_VARIABLES = {"http_proxy", "https_proxy", "all_proxy", "no_proxy"}


@dataclass
class Finished:
    """How one crawl process ended."""

    code: int | None  # its exit code; None when it had to be killed at the time limit
    stderr: str
    wall_s: float
    # The whole tree at once, while it had more than one process (None when it never had, or
    # where /proc cannot tell).
    peak_pss_mb: float | None
    max_rss_mb: float  # the largest single process of the tree
    leftovers: list[int] = field(default_factory=list)  # pids of its group still alive after


def group_members(pgid: int) -> list[int]:
    """Live (not zombie) processes whose process group is ``pgid``."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # it ended while we looked
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] != "Z" and int(fields[2]) == pgid:
            members.append(int(entry.name))
    return members


def wait_until(predicate: Callable[[], bool], timeout: float) -> bool:
    """Re-check ``predicate`` every 50 ms until it holds or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while not predicate():
        if time.monotonic() > deadline:
            return False
        pause.wait(0.05)
    return True


def _has_children(pid: int) -> bool:
    """Whether any thread of ``pid`` has a child process (False once ``pid`` is gone)."""
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                if f.read().strip():
                    return True
    except OSError:
        pass
    return False


class TreePeak:
    """``crawler.compare.pss.PeakMemory`` (a sample every ``INTERVAL_S``), but for moments when
    ``root`` has children: a lone process's PSS is at most its RSS, which ``wait4`` measures
    without sampling (``Finished.max_rss_mb``)."""

    def __init__(self, root: int) -> None:
        self.root = root
        self.peak_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, name="tree-peak", daemon=True)

    @property
    def mb(self) -> float | None:
        """The peak in MiB, or None if nothing was measured."""
        return self.peak_kb / 1024 if self.peak_kb else None

    def _sample(self) -> None:
        while not self._stop.wait(INTERVAL_S):
            if _has_children(self.root):
                self.peak_kb = max(self.peak_kb, tree_pss_kb(self.root))

    def __enter__(self) -> TreePeak:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def run_cli(
    args: Sequence[str],
    *,
    stderr_path: Path,
    timeout: float,
    interrupt_when: Callable[[float], bool] | None = None,
) -> Finished:
    """Run ``cli.py args`` to its end (killed after ``timeout`` s). With ``interrupt_when``,
    a function that blocks until the crawl reached the moment to interrupt (given a time bound,
    returns whether it did), send SIGINT to the crawl's process group then, as Ctrl-C does."""
    env = {k: v for k, v in os.environ.items() if k.lower() not in _PROXY_VARIABLES}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [STACKDUMP, env.get("PYTHONPATH")]))
    stacks = stderr_path.parent / f"{stderr_path.stem}-stacks"  # each process's, if killed
    stacks.mkdir(exist_ok=True)
    env[STACKS_VARIABLE] = str(stacks)
    started = time.monotonic()
    with open(stderr_path, "wb") as errors:
        proc = subprocess.Popen(
            cli_argv(*args),
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=errors,
            env=env,
            start_new_session=True,
        )
    ended = threading.Event()
    result: dict[str, int] = {}

    def reap() -> None:
        _, status, usage = os.wait4(proc.pid, 0)
        result["code"], result["maxrss_kb"] = os.waitstatus_to_exitcode(status), usage.ru_maxrss
        ended.set()

    with TreePeak(proc.pid) as peak:
        threading.Thread(target=reap, name="reap-crawl", daemon=True).start()
        if interrupt_when is not None and interrupt_when(timeout):
            os.killpg(proc.pid, signal.SIGINT)
        killed = not ended.wait(max(0.0, timeout - (time.monotonic() - started)))
        if killed:  # each process writes its threads' stacks to stderr first (STACKDUMP)
            os.killpg(proc.pid, signal.SIGUSR2)
            ended.wait(DUMP_WAIT_S)
            os.killpg(proc.pid, signal.SIGKILL)
            ended.wait(10)
    proc.returncode = result.get("code")  # reaped here, not by Popen
    wall = time.monotonic() - started
    wait_until(lambda: not group_members(proc.pid), timeout=15)
    leftovers = group_members(proc.pid)
    if leftovers:  # found, reported, and not left to disturb the next test
        os.killpg(proc.pid, signal.SIGKILL)
    stderr = stderr_path.read_text(errors="replace")
    if killed:
        stderr += "\n" + stacks_in(stacks)
    return Finished(
        code=None if killed else result.get("code"),
        stderr=stderr,
        wall_s=wall,
        peak_pss_mb=peak.mb,
        max_rss_mb=result.get("maxrss_kb", 0) / 1024,
        leftovers=leftovers,
    )
