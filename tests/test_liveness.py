"""Whether a pooled connection may be reused (crawler/http/adapter.py ``GeventLivenessMixin``):
on a gevent socket the answer comes from a peek at the OS socket, and it is urllib3's own
answer, idle, after stray bytes and after the server closed."""

from __future__ import annotations

import select
import threading

import pytest
from urllib3.util.wait import wait_for_read

from crawler.http.adapter import DeadlineHTTPConnection
from tests.support.raw_server import RawServer

pytestmark = pytest.mark.timeout(30)


def wait_readable(fileno: int) -> None:
    """Until the socket has something to read (bounded): stdlib select, not gevent's."""
    readable, _, _ = select.select([fileno], [], [], 10)
    assert readable, "the server's move never arrived"


@pytest.mark.parametrize("move", ["stray bytes", "close"])
def test_a_gevent_socket_is_judged_as_urllib3_judges_it(move):
    gsocket = pytest.importorskip("gevent.socket")
    go = threading.Event()

    def handle(server, conn, number):
        go.wait(10)
        if move == "stray bytes":
            conn.sendall(b"x")
            server.stopping.wait(10)  # keep the connection open until the test is done
        # else: returning closes the connection

    with RawServer(handle) as server:
        conn = DeadlineHTTPConnection("127.0.0.1", server.port)
        conn.sock = gsocket.create_connection(("127.0.0.1", server.port), timeout=5)
        try:
            assert conn.sock._sock is not None  # the path under test: a wrapped OS socket
            assert conn.is_connected is True
            assert not wait_for_read(conn.sock._sock, timeout=0.0)
            go.set()
            wait_readable(conn.sock.fileno())
            assert conn.is_connected is False
            assert wait_for_read(conn.sock._sock, timeout=0.0)
            if move == "stray bytes":  # a peek: the byte is still there to read
                assert conn.sock.recv(1) == b"x"
        finally:
            conn.sock.close()


def test_a_plain_socket_is_asked_as_urllib3_asks_it():
    go = threading.Event()

    def handle(server, conn, number):
        go.wait(10)

    with RawServer(handle) as server:
        conn = DeadlineHTTPConnection("127.0.0.1", server.port)
        conn.connect()
        try:
            assert conn.is_connected is True
            go.set()  # the server closes
            wait_readable(conn.sock.fileno())
            assert conn.is_connected is False
        finally:
            conn.close()
    assert DeadlineHTTPConnection("127.0.0.1", 1).is_connected is False  # never connected
