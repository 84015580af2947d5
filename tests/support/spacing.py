"""Per-host spacing as a server sees it, held to what the crawler can promise under load."""

from __future__ import annotations

from collections.abc import Iterable

# How late the on-time request may be: an arrival lags its booking by the send itself and the
# server's thread picking it up, a few ms, more on a loaded machine.
LATE_S = 0.1


def behind_schedule(times: Iterable[float], delay: float) -> float:
    """How far one host's last request arrived short of the spacing ``delay`` promises, from
    the best-placed arrival of the first half (seconds; <= 0 when on schedule).

    The crawler books each start on a host at least ``delay`` after the one before, then
    sends. A send the loaded machine runs late makes the gap after it short by that lateness,
    so a server cannot hold each gap to the delay (that check failed now and then in CI). It
    can hold the span: request k arrives no earlier than its booking, which is (k - j) delays
    after the booking of any earlier request j, and j arrived late only by its own lateness.
    So ``(k - j) * delay - (t_k - t_j)`` is at most j's lateness, and some request of the
    first half was sent on time. Loops on clocks of their own, or a delay not kept, fall
    behind by whole delays: two clocks send in pairs, half a delay behind per pair.
    """
    t = sorted(times)
    last = len(t) - 1
    if last < 1:
        return 0.0
    return min((last - j) * delay - (t[last] - t[j]) for j in range(max(1, len(t) // 2)))
