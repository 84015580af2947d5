"""What both kinds of child share: the ``Worker`` objects of a child, and how a crawled
batch is reported to the parent.

Imports of the HTTP stack stay inside the functions: a greenlet child patches gevent before
it calls them (``crawler.worker`` pulls in w3lib, hence ``ssl``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from crawler.base import Request
from crawler.config import CrawlConfig
from crawler.errors import one_line
from crawler.record import EncodedRecord, Record
from crawler.strategies.processes.messages import BatchDone, TaskFailed


def build_workers(config: CrawlConfig, state: Any, shared: bool, names: list[str]) -> list[Any]:
    """One ``Worker`` per name, sharing this process's view of the crawl state (visited set,
    host clock, robots cache), one cookie jar and one set of connection pools.

    ``state`` is the manager's ``SharedState``, or, when ``shared``, the backend itself (a
    server every process may open).
    """
    from http.cookiejar import CookieJar

    from crawler.backends.manager import HostClockClient, RobotsCacheClient
    from crawler.strategies.inprocess import ThreadingSync
    from crawler.worker import Worker

    if shared:
        sync = ThreadingSync()
        visited = state.visited(config, sync)
        host_clock = state.host_clock(config, sync)
        robots = state.robots_cache(config, sync)
    else:
        visited = state.visited
        if state.claims_in_visited:
            from crawler.strategies.processes.known import KnownVisited

            visited = KnownVisited(visited)
        host_clock = HostClockClient(state.host_clock, config)
        robots = RobotsCacheClient(state.robots)
    from crawler.http.registry import open_connections

    cookies = CookieJar()  # one per process, shared by its loops
    # And one pool per host (closed with the process): a host's next page reuses its connection.
    connections = open_connections(config, loops=len(names))
    return [
        Worker(
            config,
            None,
            visited,
            None,
            name=name,
            host_clock=host_clock,
            robots=robots,
            cookies=cookies,
            connections=connections,
            holds=True,
        )
        for name in names
    ]


class HeldPage(NamedTuple):
    """A batch's page not fetched: ``Fetched.turn`` and ``Fetched.note`` (``report_batch``)."""

    turn: float
    note: str | None


def report_batch(
    results: Any,
    worker: Any,
    task_id: int,
    outcomes: Sequence[tuple[Record, list[Request]] | HeldPage],
    ended: Sequence[float] = (),
) -> None:
    """Claim every link the batch found (one round trip) and send the batch's records with
    the new requests in one ``BatchDone``; if that fails, a ``TaskFailed`` instead (``lost``
    when the manager could not be reached), so the parent turns the batch into ``internal``
    records rather than silently losing its links. A ``HeldPage`` outcome (with no ``ended``
    of its own: any value) goes back unfetched, in ``BatchDone.held``."""
    try:
        held = tuple(
            (i, page.turn, page.note)
            for i, page in enumerate(outcomes)
            if isinstance(page, HeldPage)
        )
        if held:
            kept = [i for i, page in enumerate(outcomes) if not isinstance(page, HeldPage)]
            outcomes = [outcomes[i] for i in kept]
            ended = [ended[i] for i in kept] if ended else ended
        # The batch's page states (a re-crawl's validators, digests, links) are stored before
        # its records: a Redis store holds them back to send with a later call, which this
        # process may never make.
        worker.flush_pages()
        children = [child for _, found in outcomes for child in found]
        fresh = worker.claim(children) if children else []
        records = [EncodedRecord.of(record) for record, _ in outcomes]
        results.put(BatchDone(task_id, records, fresh, tuple(ended), held))
    except (EOFError, ConnectionError) as exc:  # a manager proxy's call: the manager is gone
        results.put(TaskFailed(task_id, one_line(exc), lost=True))
    except Exception as exc:
        results.put(TaskFailed(task_id, one_line(exc)))
