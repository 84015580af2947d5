"""How the processes parent cuts its work: pages per task, tasks out per child, pages kept for
a busy child, and how long a task may run before its process is presumed hung.

Pure arithmetic on the config, no processes: ``ParentLoop`` reads it once, at its start.
"""

from __future__ import annotations

from dataclasses import dataclass

from crawler.config import CrawlConfig

BATCHES_PER_PROCESS = 2  # outstanding tasks per child: one running, one waiting
# Pages per task for a child without greenlets: each task costs the parent ~0.8 ms of CPU in
# pipe and thread hand-offs, which a batch shares; the child still crawls them one by one.
PLAIN_BATCH = 8
GREENLET_BATCH_DIVISOR = 4  # a greenlet child's batches hold G / 4 pages
# Pages the parent keeps for a busy child, at most, as a share of the pages it may have out
# (1/4): a page popped while its host's home child has no room waits for it rather than open
# the host on another child. The pops follow the hosts' ready order, not their homes, so what
# waits for one child drifts up and down; with 2 x 32 greenlets, 8 pages held spilled a third
# of the hosts' later pages to the other child, 16 a fifth.
HOLD_SHARE = 4


@dataclass(frozen=True, kw_only=True)
class Batching:
    """The parent's limits for one crawl (``of``)."""

    batch_cap: int  # pages per task, at most
    per_child: int  # tasks out per child, at most
    hold_cap: int  # pages kept for a busy home child, at most (``HOLD_SHARE``)
    limit: int  # tasks out across the children, at most
    task_deadline: float  # seconds (``task_deadline``)

    @classmethod
    def of(cls, config: CrawlConfig, children: int) -> Batching:
        """The limits for a crawl of ``config`` on ``children`` children."""
        greenlets = config.greenlets
        # A greenlet child runs the pages of several tasks at once (``greenlet_child``):
        # batches of G/4 pages, 2G pages out per child, so links come back as pages finish
        # rather than when the slowest of G pages does.
        batch_cap = max(1, greenlets // GREENLET_BATCH_DIVISOR) if greenlets else PLAIN_BATCH
        tasks_per_process = BATCHES_PER_PROCESS * (greenlets // batch_cap if greenlets else 1)
        return cls(
            batch_cap=batch_cap,
            per_child=tasks_per_process,
            hold_cap=max(1, tasks_per_process * batch_cap // HOLD_SHARE),
            limit=tasks_per_process * children,
            # Pages of a greenlet batch run at once; a plain child runs its batch one by one.
            task_deadline=task_deadline(config, batch_cap),
        )


def task_deadline(config: CrawlConfig, batch_cap: int) -> float:
    """Seconds after which a task's process is presumed hung and killed: the watchdog's last
    resort, so twice the worst a healthy task can take: every attempt of every page spending
    its whole deadline and longest retry wait, plus ``--delay`` turns behind every other page
    of the crawl in flight (a ``Crawl-delay`` is not known up front; the margin covers a few
    seconds of it)."""
    per_page = (config.retries + 1) * (config.page_deadline + config.max_retry_wait)
    pages_in_a_row = 1 if config.greenlets else batch_cap
    in_flight = config.workers * batch_cap * BATCHES_PER_PROCESS
    return 2 * (per_page * pages_in_a_row + config.delay * in_flight) + 60
