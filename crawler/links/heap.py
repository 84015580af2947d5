"""Keep freed heap memory in the process between pages, instead of returning it to the kernel.

glibc gives the top of the heap back (``brk``) whenever more than 128 KiB of it is free. A page
parse allocates a few hundred KB and frees it all, so on a 10 KB page every parse moved the
heap down and up again: 6 ``brk`` calls and the page faults of fresh zeroed memory per page,
~0.05-0.1 ms of system CPU per page, more than the parse itself. A 4 MiB trim threshold keeps
that memory for the next page (at most 4 MiB more resident per process). Elsewhere than glibc
(macOS, musl) this does nothing.
"""

from __future__ import annotations

import ctypes
import sys

_M_TRIM_THRESHOLD = -1  # glibc's mallopt parameter number
TRIM_THRESHOLD = 4 << 20

_done = False


def keep_freed_memory() -> None:
    """Raise glibc's heap trim threshold to ``TRIM_THRESHOLD`` (once per process)."""
    global _done
    if _done or not sys.platform.startswith("linux"):
        return
    _done = True
    try:
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # no C library handle, or no mallopt (not glibc)
        return
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)
