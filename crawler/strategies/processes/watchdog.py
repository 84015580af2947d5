"""The processes parent's watchdog: a child process that died is replaced (the tasks it had
started are given up), one whose task overran its deadline is killed, and a child whose
processes keep dying before they take any task ends the crawl.

It reads the parent's children and tasks, ends tasks through the parent's ``give_up``, and runs
on the parent's thread, as everything of the parent's does (``ParentLoop.watch``).
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable, Sequence
from typing import Any

from crawler.errors import ModeUnavailable

# A child whose processes die this many times in a row before taking a task ends the crawl.
MAX_BARREN = 3


class Watchdog:
    """Watches ``children`` (``children.ChildProcess`` each) and the parent's ``tasks`` out."""

    def __init__(
        self,
        children: Sequence[Any],
        tasks: dict[int, Any],
        give_up: Callable[[int, str, str], None],
        task_deadline: float,
    ) -> None:
        self.children = children
        # The parent's own dict of tasks out (``parent._Task`` each): it adds and ends them.
        self.tasks = tasks
        self.give_up = give_up
        self.task_deadline = task_deadline  # seconds (``batching.task_deadline``)
        # Per child: its processes that died in a row before taking any task (see ``_replace``),
        # and whether its current one has taken one.
        self.barren = [0] * len(children)
        self.working = [False] * len(children)
        self.dead_pids: set[int] = set()  # child processes that died (their late messages)

    def started(self, task_id: int, pid: int) -> None:
        """Process ``pid`` took task ``task_id`` (``TaskStarted``): its deadline runs from now."""
        task = self.tasks.get(task_id)
        if task is None:
            return
        if self.children[task.child].pid == pid:
            self.working[task.child] = True
        if task.pid is None:
            task.pid, task.started = pid, time.monotonic()
            if pid in self.dead_pids:  # it died before this message was read
                self.give_up(task_id, "worker_crash", f"worker process {pid} died")

    def check(self, now: float) -> None:
        """Children that died (their started tasks are given up, and a new process takes the
        child's place and the tasks it had not started), tasks that overran their deadline, and
        children that keep dying before any task starts."""
        for index, child in enumerate(self.children):
            if child.dead():
                self._replace(index, child)
        for task_id, task in [(i, t) for i, t in self.tasks.items() if t.pid]:
            if now - task.started > self.task_deadline:
                with contextlib.suppress(OSError):  # (gone meanwhile: the next look replaces it)
                    os.kill(task.pid, signal.SIGKILL)
                detail = f"worker process {task.pid} silent for {self.task_deadline:g} s; killed"
                self.give_up(task_id, "worker_crash", detail)

    def _replace(self, index: int, child: Any) -> None:
        """Child ``index``'s process died: give up the tasks it had started, and start a new
        one, unless its processes keep dying before they take any task (a script without
        ``if __name__ == '__main__':`` under spawn, a manager gone): then nothing would ever
        run, and restarting forever would hide it (a pool did, writing a traceback per try)."""
        pid = child.pid
        self.dead_pids.add(pid)
        for task_id, task in list(self.tasks.items()):
            if task.child == index and task.pid == pid:
                self.give_up(task_id, "worker_crash", f"worker process {pid} died")
        self.barren[index] = 0 if self.working[index] else self.barren[index] + 1
        self.working[index] = False
        if self.barren[index] > MAX_BARREN:
            raise ModeUnavailable(
                f"worker processes keep exiting before taking any work ({MAX_BARREN + 1} in a "
                "row; see their errors above); a script that starts a processes crawl must do "
                "it under `if __name__ == '__main__':`"
            )
        child.restart()
