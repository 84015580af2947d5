"""Loaded at start-up by every Python the tests run (``tests/support/cli.py`` puts this folder on
PYTHONPATH): SIGUSR2 makes the process write every thread's stack and go on. A test whose
program overruns its timeout sends it to the whole process tree before killing it, so the
failure shows where each process was stuck (a hang seen once in CI is otherwise a bare
timeout). With ``CRAWLER_TEST_STACKS`` set to a folder, each process writes to a file of its
own there, ``PID.txt`` (a forked child opens its own as it starts), so that the stacks of
processes dumping at once do not interleave; otherwise to stderr. The crawler uses no
SIGUSR2."""

import faulthandler
import os
import signal

_FOLDER = os.environ.get("CRAWLER_TEST_STACKS")
_files = []


def _register() -> None:
    target = None
    if _FOLDER:
        try:
            target = open(os.path.join(_FOLDER, f"{os.getpid()}.txt"), "w")  # noqa: SIM115
        except OSError:
            target = None
    if target is None:
        faulthandler.register(signal.SIGUSR2, all_threads=True)
    else:
        _files[:] = [target]  # kept open (and alive) for the handler
        faulthandler.register(signal.SIGUSR2, file=target, all_threads=True)


_register()
os.register_at_fork(after_in_child=_register)
