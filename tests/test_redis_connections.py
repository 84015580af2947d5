"""How the Redis backend talks to the server: scripts run on connections it keeps (no pool
checkout per call), load themselves again on a server that forgot them, and a connection
whose call failed is closed, never read from half way."""

from __future__ import annotations

import uuid

import pytest
import redis

from crawler.backends.redis.pages import RedisPages
from crawler.backends.redis.state import RedisState
from crawler.errors import BackendError

pytestmark = pytest.mark.timeout(60)


def renew(state: RedisState) -> int:
    return int(state.run("RENEW", ("leases",), [1000, b"f" * 16]))


def test_scripts_run_on_a_kept_connection_not_a_pool_checkout_each(redis_url, monkeypatch):
    state = RedisState(redis_url, uuid.uuid4().hex)
    pool = state.client.connection_pool
    checkouts = []
    real = pool.get_connection
    monkeypatch.setattr(pool, "get_connection", lambda *a: checkouts.append(1) or real(*a))
    for _ in range(20):
        assert renew(state) == 0
    assert len(checkouts) == 1
    state.client.close()
    assert [conn._sock for conn in state._idle] == [None]  # the client's close closes it


def test_a_script_the_server_forgot_is_loaded_again(redis_url):
    state = RedisState(redis_url, uuid.uuid4().hex)
    assert renew(state) == 0
    redis.Redis.from_url(redis_url).script_flush()  # as a restart without persistence does
    assert renew(state) == 0
    state.client.close()


def test_a_failed_call_closes_its_connection_and_the_next_call_reconnects(redis_url):
    state = RedisState(redis_url, uuid.uuid4().hex, retry=0)
    assert renew(state) == 0
    (conn,) = state._idle
    conn._sock.shutdown(2)  # the link breaks under the kept connection
    with pytest.raises(BackendError):
        renew(state)
    assert conn._sock is None  # closed: nothing half read is left on it
    assert renew(state) == 0  # the same connection, connected again
    state.client.close()


def test_a_command_is_packed_as_redis_py_packs_it():
    from redis.connection import PythonRespSerializer

    from crawler.backends.redis.state import pack_command

    args = ("EVALSHA", "ab" * 20, 0, "crawl:{é}:", -1, 0.25, b"\x00\r\n" * 3000, "")
    reference = PythonRespSerializer(
        6000, lambda value: redis.connection.Encoder("utf-8", "strict", False).encode(value)
    ).pack(*args)
    assert pack_command(args) == b"".join(reference)
    for wrong in (None, True, [1]):
        with pytest.raises(TypeError):
            pack_command(("GET", wrong))


def test_the_page_stores_of_a_process_share_one_connection(redis_url):
    crawl_id = uuid.uuid4().hex
    stores = [RedisPages(redis_url, crawl_id) for _ in range(3)]  # one per loop
    assert len({id(store.state) for store in stores}) == 1
    state = stores[0].state
    state.call("ping")
    for store in stores[:2]:
        store.close()
    assert state.client.connection_pool._available_connections  # still open for the last
    stores[2].close()
    stores[2].close()  # a second close is a no-op
    assert not any(c._sock for c in state.client.connection_pool._available_connections)
    again = RedisPages(redis_url, crawl_id)
    assert again.state is not state  # the last close dropped it
    again.close()
