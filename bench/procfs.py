"""This process's memory figures from Linux ``/proc``, for the scale benchmarks."""

from __future__ import annotations


def status_bytes(field: str) -> int:
    """A ``/proc/self/status`` figure in bytes (``VmHWM``: peak RSS, ``VmRSS``: RSS now);
    0 when the field is missing."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return 0
