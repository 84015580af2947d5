"""Loaded at start-up by every Python the tests run (``tests/support/cli.py`` puts this folder on
PYTHONPATH): SIGUSR2 makes the process write every thread's stack to stderr and go on. A test
whose program overruns its timeout sends it to the whole process tree before killing it, so the
failure shows where each process was stuck (a hang seen once in CI is otherwise a bare
timeout). The crawler uses no SIGUSR2; a forked child keeps the handler, a spawned one loads
this again."""

import faulthandler
import signal

faulthandler.register(signal.SIGUSR2, all_threads=True)
