"""The health service under abuse: a STATS flood, clients holding every slot, trickling
clients, and forked crawl processes that must not inherit its sockets."""

from __future__ import annotations

import json
import os
import socket
import time

import pytest
from werkzeug import Response

from crawler.health.metrics import CrawlMetrics, MetricsServer
from crawler.health.server import HealthServer
from tests.support.helpers import run_crawl

pytestmark = pytest.mark.timeout(60)


def connect(srv: HealthServer, source: str = "127.0.0.1", timeout: float = 5.0) -> socket.socket:
    return socket.create_connection(srv.address, timeout=timeout, source_address=(source, 0))


def recv_line(sock: socket.socket) -> bytes:
    data = b""
    while not data.endswith(b"\n"):
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def read_to_eof(sock: socket.socket) -> bytes:
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except ConnectionResetError:
        pass  # closed with our flood unread: a reset is an end too
    return data


def counting():
    calls = []

    def stats() -> dict[str, object]:
        calls.append(1)
        return {"pages": len(calls)}

    return calls, stats


def test_one_packet_of_stats_commands_is_not_answered_thousands_of_times():
    calls, stats = counting()
    flood = b"STATS\n" * (64 * 1024 // 6)  # 10,922 commands in one 64 KiB write
    with HealthServer(stats=stats) as srv, connect(srv) as sock:
        sock.sendall(flood)
        replies = read_to_eof(sock)  # the flooder is dropped
        assert replies.count(b"\n") <= 16
    assert len(calls) <= 1


def test_stats_are_computed_once_per_ttl_however_often_asked():
    calls, stats = counting()
    with HealthServer(stats=stats, stats_ttl=60) as srv, connect(srv) as sock:
        for _ in range(5):
            sock.sendall(b"STATS\n")
            assert json.loads(recv_line(sock))["pages"] == 1
    assert len(calls) == 1


def test_figures_json_cannot_encode_are_unavailable_not_stringified():
    with HealthServer(stats=lambda: {"when": object()}) as srv, connect(srv) as sock:
        sock.sendall(b"STATS\n")
        reply = json.loads(recv_line(sock))
    assert reply["error"] == "stats unavailable" and "when" not in reply


def test_idle_clients_from_one_address_cannot_take_every_slot():
    with HealthServer() as srv:
        held = []
        try:
            for _ in range(256):  # the default connection cap, all from one address
                held.append(connect(srv))
            # A probe from another address is still served.
            with connect(srv, source="127.0.0.2") as probe:
                probe.sendall(b"ping\n")
                assert recv_line(probe) == b"ping\n"
            # The flooding address got only its share: the rest were refused.
            assert srv.connection_count <= 33
        finally:
            for sock in held:
                sock.close()


def test_a_trickling_client_is_closed_after_the_connection_lifetime():
    with HealthServer(max_lifetime=0.5, idle_timeout=30) as srv, connect(srv) as sock:
        sock.settimeout(0.1)
        started = time.monotonic()
        closed = False
        while not closed and time.monotonic() - started < 10:
            try:
                sock.sendall(b"x")  # never idle: one byte every 0.1 s
                while True:
                    chunk = sock.recv(16)
                    if not chunk:
                        closed = True
                        break
            except TimeoutError:
                continue
            except (ConnectionResetError, BrokenPipeError):
                closed = True
        assert closed and time.monotonic() - started < 5


def socket_inodes() -> set[int]:
    """The inodes of every socket this process has open."""
    inodes = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(int(target[8:-1]))
    return inodes


def report_sockets(page):
    """A parse callback: which sockets the worker process holds."""
    return {"pid": os.getpid(), "inodes": sorted(socket_inodes())}


@pytest.mark.subprocess  # processes mode
def test_forked_crawl_processes_hold_no_health_or_metrics_socket(httpserver):
    httpserver.expect_request("/").respond_with_response(
        Response("<title>t</title>", content_type="text/html")
    )
    with (
        HealthServer() as srv,
        connect(srv) as client,
        MetricsServer(CrawlMetrics(), "127.0.0.1", 0) as exporter,
    ):
        client.sendall(b"hi\n")
        assert recv_line(client) == b"hi\n"  # a client connection open in the server too
        ours = {os.fstat(srv._listener.fileno()).st_ino}
        ours |= {os.fstat(conn.sock.fileno()).st_ino for conn in srv._clients.conns}
        ours.add(os.fstat(exporter._server.socket.fileno()).st_ino)
        assert len(ours) == 3
        records, _ = run_crawl(
            [httpserver.url_for("/")], mode="processes", workers=2, parse=report_sockets
        )
    (item,) = records[0].items
    assert item["pid"] != os.getpid()
    assert not ours & set(item["inodes"]), "a worker process inherited a health socket"
