"""The parent's handle on each child process: the process, and a task pipe of its own.

Not ``multiprocessing.Pool``. A pool's ``terminate`` kills its workers while one of them may
hold a lock the pool's own threads need next: the result queue's write lock, which a worker
takes to send every task's result. A child killed in the middle of sending one left the pool's
task thread waiting on that lock forever, and the crawl with it, at its very end (seen on a
loaded machine, in CI; every process's stacks showed the task thread in ``SimpleQueue.put``).
The crawl never used those results (a task's outcome comes on the channel, ``messages``), and
with one pool per child the pool chose nothing. Here a task pipe has one writer (the parent)
and one reader (the child), so it needs no lock: a child may be killed at any moment and
nothing of the parent waits on it.

A child that dies is started again on the same pipe (``restart``) and reads the tasks its
predecessor had not taken yet; the parent gives up the ones it had started (``watchdog.py``).
"""

from __future__ import annotations

import contextlib
from typing import Any

from crawler.strategies.processes.child import child_main
from crawler.strategies.processes.messages import Task
from crawler.strategies.processes.sigint import starting_children

# A task pipe's capacity (Linux; best effort): the parent never waits to hand a child its share
# of tasks (at most 2 × G/4 batches of a few hundred bytes a page, usually ~1 KB each).
PIPE_BYTES = 1 << 20
STOP_WAIT_S = 5.0  # how long ``stop`` lets a child finish on its own before it is killed


class ChildProcess:
    """One child process of the crawl (``child.child_main``), fed tasks through a pipe."""

    def __init__(
        self, context: Any, init_args: tuple[Any, ...], name: str, *, start: bool = True
    ) -> None:
        self._context = context
        self._init_args = init_args
        self.name = name
        self._tasks, self._sender = context.Pipe(duplex=False)
        with contextlib.suppress(ImportError, AttributeError, OSError):  # Linux only
            import fcntl

            fcntl.fcntl(self._sender.fileno(), fcntl.F_SETPIPE_SZ, PIPE_BYTES)
        self.process: Any = None
        self.starts = 0
        if start:
            self.restart()

    def restart(self) -> None:
        """Start the process (again, once it has died): it reads this child's task pipe (tasks
        may be handed to a child before its first process starts: they wait in the pipe)."""
        # SIGINT stays blocked until the child ignores it (``sigint``).
        with starting_children():
            process = self._context.Process(
                target=child_main,
                args=(self._tasks, self._sender, self._init_args),
                name=f"{self.name}-{self.starts + 1}",
                daemon=True,
            )
            process.start()
        self.process = process
        self.starts += 1

    @property
    def pid(self) -> int:
        """The current process's id."""
        return self.process.pid

    def dead(self) -> bool:
        """True once the current process has ended (it is reaped then), or when none was
        started."""
        return self.process is None or self.process.exitcode is not None

    def submit(self, task: Task) -> None:
        """Hand the child one task (it takes it once it has room: ``child.Child.run``)."""
        self._sender.send(task)

    def stop(self) -> None:
        """Ask the child to end once it has run the tasks it was given; ``join`` waits."""
        with contextlib.suppress(OSError):  # a child already gone
            self._sender.send(None)

    def kill(self) -> None:
        """End the child now (a crawl stopped with tasks out; SIGKILL: children ignore
        SIGINT, and a page in flight has nothing to save)."""
        if not self.dead():
            self.process.kill()

    def join(self, timeout: float = STOP_WAIT_S) -> None:
        """Wait for the child to end, at most ``timeout`` seconds; then kill it, and reap it."""
        if self.process is None:
            return
        self.process.join(timeout)
        if not self.dead():
            self.process.kill()
            self.process.join()

    def close(self) -> None:
        """Close the parent's ends of the task pipe (the child has ended)."""
        self._tasks.close()
        self._sender.close()
