"""How the fetch core reads a body (crawler/http/core.py ``read_body``): a small body of known
length in one read, anything else a piece at a time; either way the body is whole, a short one
is an error, and the connection serves the next page only when nothing of this one is left."""

from __future__ import annotations

import pytest

from crawler.http.core import WHOLE
from tests.support.raw_server import RawServer

pytestmark = pytest.mark.timeout(30)


def serve(answers: dict[str, bytes]):
    """A keep-alive handler answering each path with its bytes (the whole response)."""

    def handle(server, conn, number):
        while (head := server.read_head(conn, number)) is not None:
            conn.sendall(answers[head.split()[1]])

    return handle


def test_a_chunked_body_that_also_declares_a_length_is_read_to_its_last_chunk(make):
    # Content-Length is ignored beside chunked (RFC 9112 6.3): reading only "3" bytes would
    # leave the rest on the connection for the next page to read as its response.
    chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n"
    chunked += b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
    answers = {"/a": chunked, "/b": b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"}
    with RawServer(serve(answers)) as server:
        fetcher = make()
        assert fetcher.fetch(server.url("/a")).body == b"hello world"
        second = fetcher.fetch(server.url("/b"))
        assert (second.error, second.body) == (None, b"ok")
        assert {number for number, _, _ in server.requests} == {1}


def test_a_body_shorter_than_its_length_is_a_protocol_error(make):
    def short(server, conn, number):
        if server.read_head(conn, number) is not None:
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabcd")
            conn.close()

    with RawServer(short) as server:
        response = make().fetch(server.url("/short"))
    assert (response.status, response.error) == (200, "protocol")
    assert "IncompleteRead" in response.detail


@pytest.mark.parametrize("size", [1, 10_000, WHOLE, WHOLE + 1, 3 * WHOLE])
def test_bodies_of_any_length_are_read_whole_and_keep_their_connection(make, size):
    body = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
    answers = {
        "/big": b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % size + body,
        "/next": b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nnext",
    }
    with RawServer(serve(answers)) as server:
        fetcher = make()
        assert fetcher.fetch(server.url("/big")).body == body
        assert fetcher.fetch(server.url("/next")).body == b"next"
        assert {number for number, _, _ in server.requests} == {1}


def test_a_body_over_the_cap_is_too_large_even_when_small(make):
    answers = {"/a": b"HTTP/1.1 200 OK\r\nContent-Length: 600\r\n\r\n" + b"y" * 600}
    with RawServer(serve(answers)) as server:
        response = make(max_bytes=500).fetch(server.url("/a"))
    assert response.error == "too_large"
