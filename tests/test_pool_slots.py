"""A pool shared by a process's loops gets its slots at once, and behaves as urllib3's does."""

from __future__ import annotations

import queue

import pytest
from urllib3.exceptions import EmptyPoolError

from crawler.http.adapter import pool_classes


@pytest.mark.parametrize("maxsize", [1, 2, 64])
def test_a_new_pool_has_a_slot_per_loop_and_no_more(maxsize):
    pool = pool_classes(pin=False)["http"]("127.0.0.1", 9, maxsize=maxsize, block=True)
    slots = pool.pool
    assert isinstance(slots, queue.LifoQueue) and slots.maxsize == maxsize
    assert slots.qsize() == maxsize and list(slots.queue) == [None] * maxsize
    taken = [pool._get_conn() for _ in range(maxsize)]  # each slot makes a connection
    assert len({id(c) for c in taken}) == maxsize
    with pytest.raises(EmptyPoolError):  # a blocking pool waits for a slot, then gives up
        pool._get_conn(timeout=0.01)
    for conn in taken:
        pool._put_conn(conn)
    with pytest.raises(queue.Full):
        slots.put(None, block=False)
    pool.close()


class _DequeQueue(queue.LifoQueue):
    """A queue whose slots are not a list (as gevent's queue has none): filled put by put."""

    def _init(self, maxsize):
        import collections

        self.queue = collections.deque()

    def _get(self):
        return self.queue.pop()


def test_a_pool_of_another_queue_class_is_filled_as_urllib3_fills_it():
    base = pool_classes(pin=False)["http"]
    other = type("OtherQueuePool", (base,), {"QueueCls": _DequeQueue})
    for cls, kind in ((other, _DequeQueue), (base, queue.LifoQueue)):  # each class decided apart
        pool = cls("127.0.0.1", 9, maxsize=4)
        assert type(pool.pool) is kind and pool.pool.qsize() == 4
        pool.close()


@pytest.mark.parametrize("shared", [True, False])
def test_closing_the_pools_closes_every_pooled_connection(shared):
    # The slots go in one step, not one get and lock each: every connection is still closed.
    from crawler.config import CrawlConfig
    from crawler.http.urllib3_fetcher import SharedPools, Urllib3Fetcher
    from tests.support.many_hosts import ManyHosts

    config = CrawlConfig()
    connections = SharedPools(config, loops=4) if shared else None
    fetcher = Urllib3Fetcher(config, pool_size=4, connections=connections)
    with ManyHosts(1, 2) as site:  # keeps connections open between requests
        url = site.origin(0) + "/"
        assert fetcher.fetch(url).status == 200
        pool = fetcher.pool.connection_from_url(url)
        pooled = [c for c in pool.pool.queue if c is not None]
        assert len(pooled) == 1 and pooled[0].sock is not None
        fetcher.close()
        if connections is not None:
            connections.close()
    assert pool.pool is None and pooled[0].sock is None
    assert len(fetcher.pool.pools) == 0
    late = pool._new_conn()
    pool._put_conn(late)  # given back after the close: closed, not kept
    assert late.sock is None
