"""The health service against real sockets on 127.0.0.1 (port 0).

No sleeps for synchronisation: every wait is a socket timeout, a barrier or a
subprocess timeout, and every test has a pytest-timeout bound.
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import textwrap
import threading
import time
from collections.abc import Iterator

import pytest

from crawler.health.protocol import Connection
from crawler.health.server import (
    HealthCheckError,
    HealthServer,
    parse_hostport,
    probe,
)
from tests.support.cli import start_python


@pytest.fixture
def server() -> Iterator[HealthServer]:
    with HealthServer() as srv:
        yield srv


def connect(srv: HealthServer, timeout: float = 5.0) -> socket.socket:
    return socket.create_connection(srv.address, timeout=timeout)


def recv_exactly(sock: socket.socket, n: int) -> bytes:
    got = bytearray()
    while len(got) < n:
        chunk = sock.recv(n - len(got))
        if not chunk:
            raise AssertionError(f"EOF after {len(got)} of {n} bytes")
        got += chunk
    return bytes(got)


def recv_until_eof(sock: socket.socket) -> bytes:
    got = bytearray()
    while chunk := sock.recv(65536):
        got += chunk
    return bytes(got)


def recv_line(sock: socket.socket) -> bytes:
    """One line; the server sends nothing unasked, so byte-wise reads lose nothing."""
    got = bytearray()
    while not got.endswith(b"\n"):
        chunk = sock.recv(1)
        if not chunk:
            raise AssertionError(f"EOF inside a line: {bytes(got)!r}")
        got += chunk
    return bytes(got)


def echo_bytes(n: int) -> bytes:
    """``n`` random bytes that are echoed as they are, whatever the chunking.

    With no ``S`` in them no line can start a STATS command, so the service never holds a
    tail back: random bytes ending in ``\\nS`` would wait, by design, for a next byte that a
    client which sends no more never writes (a 1-in-65,536 hang per payload).
    """
    return os.urandom(n).replace(b"S", b"s")


def fd_count() -> int:
    return len(os.listdir("/proc/self/fd"))


# -- echo ---------------------------------------------------------------------------


@pytest.mark.timeout(10)
def test_echo_round_trip_on_a_real_port(server: HealthServer) -> None:
    host, port = server.address
    assert host == "127.0.0.1" and port > 0
    with connect(server) as sock:
        sock.sendall(b"hello\n")
        assert recv_exactly(sock, 6) == b"hello\n"
        sock.sendall(b"no newline")
        assert recv_exactly(sock, 10) == b"no newline"


@pytest.mark.timeout(60)
def test_200_concurrent_clients_each_get_exactly_their_own_bytes() -> None:
    clients = 200
    # All from 127.0.0.1: lift the per-address cap, which this test is not about.
    with HealthServer(max_per_address=clients) as server:
        _serve_200_clients(server, clients)


def _serve_200_clients(server: HealthServer, clients: int) -> None:
    start = threading.Barrier(clients, timeout=30)
    failures: list[str] = []

    def client(index: int) -> None:
        rng = random.Random(index)
        payload = f"client {index}\n".encode() + echo_bytes(rng.randint(4096, 12288))
        try:
            with connect(server, timeout=20) as sock:
                start.wait()  # all 200 connected before anyone sends
                pos = 0
                while pos < len(payload):
                    size = rng.randint(1, 2048)
                    sock.sendall(payload[pos : pos + size])
                    pos += size
                echoed = recv_exactly(sock, len(payload))
                if echoed != payload:
                    failures.append(f"client {index}: wrong bytes")
        except (OSError, AssertionError) as exc:  # reported below, with the number
            failures.append(f"client {index}: {exc!r}")

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


@pytest.mark.timeout(10)
def test_half_close_gets_everything_then_eof(server: HealthServer) -> None:
    payload = os.urandom(48 * 1024)  # below max_buffer: must never be dropped
    with connect(server) as sock:
        for pos in range(0, len(payload), 5000):
            sock.sendall(payload[pos : pos + 5000])
        sock.shutdown(socket.SHUT_WR)
        assert recv_until_eof(sock) == payload
    assert server.connection_count == 0


# -- safety -------------------------------------------------------------------------


@pytest.mark.timeout(30)
def test_client_flooding_without_reading_is_dropped_and_memory_bounded() -> None:
    max_buffer = 64 * 1024
    with HealthServer(max_buffer=max_buffer) as srv:
        flooder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        # A small receive window makes the kernel buffers fill quickly.
        flooder.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        flooder.settimeout(15)  # blocking forever would mean the server never dropped us
        flooder.connect(srv.address)
        chunk = os.urandom(64 * 1024)
        sent = 0
        with flooder, pytest.raises((ConnectionResetError, BrokenPipeError)):
            while sent < 512 * 1024 * 1024:
                flooder.sendall(chunk)
                sent += len(chunk)
            # Reading after the drop ends in a reset or EOF, not a hang.
            while flooder.recv(65536):
                pass
            raise ConnectionResetError("EOF")  # EOF counts as being dropped too
        assert srv.peak_buffered_bytes <= max_buffer
        assert srv.connection_count == 0
        with connect(srv) as sock:  # and the service is still fine
            sock.sendall(b"still here\n")
            assert recv_exactly(sock, 11) == b"still here\n"


@pytest.mark.timeout(15)
def test_slow_clients_do_not_delay_a_fast_one(server: HealthServer) -> None:
    slow = [connect(server) for _ in range(4)]
    try:
        slow[0].sendall(b"x")  # one byte, never reads its echo
        slow[1].sendall(b"STA")  # held as a possible STATS, never completed
        slow[2].sendall(os.urandom(32 * 1024))  # a backlog it never reads
        # slow[3] connected and says nothing
        with connect(server) as fast:
            worst = 0.0
            for i in range(50):
                line = f"fast {i}\n".encode()
                started = time.perf_counter()
                fast.sendall(line)
                assert recv_exactly(fast, len(line)) == line
                worst = max(worst, time.perf_counter() - started)
        assert worst < 0.5
    finally:
        for sock in slow:
            sock.close()


@pytest.mark.timeout(120)
def test_connect_close_cycles_leave_no_file_descriptors(server: HealthServer) -> None:
    if not os.path.isdir("/proc/self/fd"):
        pytest.skip("needs /proc/self/fd")
    before = fd_count()
    for i in range(1000):
        with connect(server) as sock:
            sock.sendall(b"ping\n")
            assert recv_exactly(sock, 5) == b"ping\n"
            if i % 2:
                # Half-close and wait for the server's EOF: its socket is closed by now.
                sock.shutdown(socket.SHUT_WR)
                assert recv_until_eof(sock) == b""
            # else: abrupt close; the server notices the EOF on a later loop turn.
    # Barrier: the server handles every ready socket each turn, and these round trips
    # take later turns than the abrupt closes above.
    with connect(server) as sock:
        for _ in range(3):
            sock.sendall(b"sync\n")
            assert recv_exactly(sock, 5) == b"sync\n"
        sock.shutdown(socket.SHUT_WR)
        assert recv_until_eof(sock) == b""
    assert fd_count() <= before + 2
    assert server.connection_count <= 2


@pytest.mark.timeout(10)
def test_connection_cap_answers_busy_and_frees_slots() -> None:
    with HealthServer(max_connections=3) as srv:
        held = [connect(srv) for _ in range(3)]
        try:
            for sock in held:  # a round trip proves the server accepted it
                sock.sendall(b"a")
                assert recv_exactly(sock, 1) == b"a"
            with connect(srv) as extra:
                assert recv_until_eof(extra) == b"BUSY\n"
            held[0].shutdown(socket.SHUT_WR)
            assert recv_until_eof(held[0]) == b""  # server closed it: a slot is free
            with connect(srv) as again:
                again.sendall(b"in\n")
                assert recv_exactly(again, 3) == b"in\n"
        finally:
            for sock in held:
                sock.close()


@pytest.mark.timeout(10)
def test_idle_connection_is_closed_after_idle_timeout() -> None:
    with HealthServer(idle_timeout=0.3) as srv, connect(srv, timeout=5) as sock:
        sock.sendall(b"hi")
        assert recv_exactly(sock, 2) == b"hi"
        started = time.monotonic()
        assert recv_until_eof(sock) == b""  # the socket timeout bounds this wait
        assert 0.25 <= time.monotonic() - started < 3
        assert srv.connection_count == 0


# -- STATS --------------------------------------------------------------------------


def counting_stats() -> tuple[dict[str, int], object]:
    figures = {"pages_done": 0}

    def stats() -> dict[str, object]:
        figures["pages_done"] += 7  # a crawl making progress between calls
        return {"pages_done": figures["pages_done"], "in_flight": 3, "mode": "threads"}

    return figures, stats


@pytest.mark.timeout(10)
def test_stats_returns_json_with_increasing_figures() -> None:
    _, stats = counting_stats()
    with HealthServer(stats=stats, stats_ttl=0) as srv, connect(srv) as sock:
        seen = []
        for _ in range(3):
            sock.sendall(b"STATS\n")
            reply = json.loads(recv_line(sock))
            assert reply["pid"] == os.getpid()
            assert reply["uptime_s"] >= 0 and reply["mode"] == "threads"
            seen.append(reply["pages_done"])
        assert seen == sorted(seen) and len(set(seen)) == 3


@pytest.mark.timeout(10)
def test_stats_only_on_an_exact_line(server: HealthServer) -> None:
    with connect(server) as sock:
        sock.sendall(b"hello\nSTATS\r\nxSTATS\nSTATS \nstats\nbye")
        assert recv_line(sock) == b"hello\n"
        assert json.loads(recv_line(sock))["crawl"] is None
        rest = b"xSTATS\nSTATS \nstats\nbye"
        assert recv_exactly(sock, len(rest)) == rest


@pytest.mark.timeout(10)
def test_stats_split_across_packets(server: HealthServer) -> None:
    with connect(server) as sock:
        sock.sendall(b"STA")
        sock.settimeout(0.2)  # held back: nothing may come yet
        with pytest.raises(TimeoutError):
            sock.recv(1)
        sock.settimeout(5)
        sock.sendall(b"TS\n")
        assert json.loads(recv_line(sock))["pid"] == os.getpid()
        sock.sendall(b"STA")
        sock.sendall(b"RT\n")  # turned out not to be STATS: echoed verbatim
        assert recv_exactly(sock, 6) == b"START\n"


@pytest.mark.parametrize(
    "data",
    [b"a\nSTATS\nb", b"STATS\r\nSTATS\n", b"STAT\nSTATSX\n", b"\nSTATS\r\r\n"],
)
def test_stats_rule_holds_for_every_split_point(data: bytes) -> None:
    """The protocol state machine, fed each possible two-packet split."""
    whole = Connection(None, 0.0).feed(data, lambda: b"<stats>\n")  # type: ignore[arg-type]
    for cut in range(len(data) + 1):
        conn = Connection(None, 0.0)  # type: ignore[arg-type]
        out = conn.feed(data[:cut], lambda: b"<stats>\n")
        out += conn.feed(data[cut:], lambda: b"<stats>\n")
        assert out + conn.end_of_input() == whole, cut
    expected = {
        b"a\nSTATS\nb": b"a\n<stats>\nb",
        b"STATS\r\nSTATS\n": b"<stats>\n<stats>\n",
        b"STAT\nSTATSX\n": b"STAT\nSTATSX\n",
        b"\nSTATS\r\r\n": b"\nSTATS\r\r\n",
    }
    assert whole == expected[data]


@pytest.mark.timeout(10)
def test_stats_prefix_then_half_close_is_echoed(server: HealthServer) -> None:
    with connect(server) as sock:
        sock.sendall(b"STATS")
        sock.shutdown(socket.SHUT_WR)
        assert recv_until_eof(sock) == b"STATS"


@pytest.mark.timeout(10)
def test_stats_provider_that_raises_does_not_kill_the_server() -> None:
    def broken() -> dict[str, object]:
        raise RuntimeError("crawl state torn down")

    with HealthServer(stats=broken) as srv:
        with connect(srv) as sock:
            sock.sendall(b"STATS\n")
            reply = json.loads(recv_line(sock))
            assert reply["error"] == "stats unavailable"
            sock.sendall(b"echo\n")
            assert recv_exactly(sock, 5) == b"echo\n"
        assert probe(*srv.address, timeout=5) > 0


# -- probe and lifecycle ------------------------------------------------------------


@pytest.mark.timeout(10)
def test_probe_returns_round_trip_seconds(server: HealthServer) -> None:
    rtt = probe(*server.address, timeout=5)
    assert isinstance(rtt, float) and 0 < rtt < 5


@pytest.mark.timeout(10)
def test_probe_refused() -> None:
    with socket.socket() as placeholder:
        placeholder.bind(("127.0.0.1", 0))
        port = placeholder.getsockname()[1]
    with pytest.raises(HealthCheckError) as info:
        probe("127.0.0.1", port, timeout=2)
    assert info.value.reason == "refused"


@pytest.mark.timeout(10)
def test_probe_timeout_when_nobody_answers() -> None:
    # A listening socket that never accepts: the handshake completes, nobody answers.
    silent = socket.create_server(("127.0.0.1", 0))
    with silent, pytest.raises(HealthCheckError) as info:
        probe(*silent.getsockname()[:2], timeout=0.3)
    assert info.value.reason == "timeout"


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    ("answer", "reason"),
    [(b"nope\n", "wrong echo: b'nope\\n'"), (b"", "closed")],
)
def test_probe_reports_wrong_echo_and_closed(answer: bytes, reason: str) -> None:
    with socket.create_server(("127.0.0.1", 0)) as fake:

        def answer_once() -> None:
            conn, _ = fake.accept()
            with conn:
                conn.recv(100)
                conn.sendall(answer)

        thread = threading.Thread(target=answer_once)
        thread.start()
        with pytest.raises(HealthCheckError) as info:
            probe(*fake.getsockname()[:2], timeout=5)
        thread.join()
    assert info.value.reason == reason


@pytest.mark.timeout(10)
def test_probe_at_the_connection_cap_is_a_wrong_echo() -> None:
    srv = HealthServer(max_connections=0)
    with srv, pytest.raises(HealthCheckError, match="BUSY"):
        probe(*srv.address, timeout=5)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1:9501", ("127.0.0.1", 9501)),
        ("localhost:80", ("localhost", 80)),
        ("[::1]:9501", ("::1", 9501)),
    ],
)
def test_parse_hostport(text: str, expected: tuple[str, int]) -> None:
    assert parse_hostport(text) == expected


@pytest.mark.parametrize(
    "text", ["localhost", ":80", "host:", "host:http", "host:0", "host:70000", "::1:80"]
)
def test_parse_hostport_rejects(text: str) -> None:
    with pytest.raises(ValueError, match=r"HOST:PORT|port|IPv6"):
        parse_hostport(text)


@pytest.mark.timeout(10)
def test_stop_closes_everything_and_is_idempotent() -> None:
    srv = HealthServer().start_in_thread()
    address = srv.address
    client = connect(srv)
    srv.stop()
    srv.stop()
    with client:
        assert recv_until_eof(client) == b""  # open connections are closed too
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(address, timeout=2)
    HealthServer().stop()  # never started: still releases its sockets


@pytest.mark.timeout(60)
def test_runs_cooperatively_under_gevent_monkey_patching() -> None:
    """In a subprocess: the pytest process itself must never be patched."""
    script = """
        from gevent import monkey
        monkey.patch_all()
        import json, socket, threading
        import gevent
        from crawler.health.server import HealthServer, probe

        assert monkey.is_module_patched("selectors")
        pages = iter(range(100))
        with HealthServer(stats=lambda: {"pages_done": next(pages)}) as server:
            assert threading.current_thread() is not server._thread
            ticks = []
            ticker = gevent.spawn(lambda: [ticks.append(gevent.sleep(0.01)) for _ in range(5)])
            with socket.create_connection(server.address, timeout=5) as client:
                client.sendall(b"hello gevent\\n")
                got = b""
                while len(got) < 13:
                    got += client.recv(100)
                assert got == b"hello gevent\\n", got
                client.sendall(b"STATS\\n")
                line = client.makefile("rb").readline()
                assert json.loads(line)["pages_done"] == 0, line
            assert probe(*server.address, timeout=5) > 0
            ticker.join(timeout=5)
            assert len(ticks) == 5  # the hub kept running other greenlets
        print("OK")
    """
    proc = start_python(
        textwrap.dedent(script), text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    out, err = proc.communicate(timeout=50)
    assert proc.returncode == 0, err
    assert out.strip() == "OK"
    assert "Traceback" not in err


@pytest.mark.timeout(60)
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_run_standalone_serves_until_signalled(signum: int) -> None:
    script = """
        from crawler.health.server import run_standalone
        run_standalone("127.0.0.1", 0)
        print("returned")
    """
    proc = start_python(
        textwrap.dedent(script), text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        first = proc.stderr.readline()  # type: ignore[union-attr]
        assert first.startswith("echo service listening on 127.0.0.1:"), first
        host, port = parse_hostport(first.rsplit(" ", 1)[1].strip())
        assert probe(host, port, timeout=5) > 0
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert out.strip() == "returned"
    assert "Traceback" not in err


@pytest.mark.timeout(60)
def test_out_of_file_descriptors_pauses_accepting_then_recovers() -> None:
    """In a subprocess, so the low descriptor limit cannot hurt pytest."""
    script = """
        import logging, os, resource, socket, threading, time
        from crawler.health.server import HealthServer

        refused = threading.Event()

        class Watch(logging.Handler):
            def emit(self, record):
                if "cannot accept" in record.getMessage():
                    refused.set()

        logging.getLogger("crawler.health.server").addHandler(Watch())

        with HealthServer() as srv:
            def client():
                return socket.create_connection(srv.address, timeout=10)

            def round_trip(sock):
                sock.sendall(b"x")
                assert sock.recv(1) == b"x"

            soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
            # Room for two clients and their server sides, plus one more client fd:
            # new descriptors take the lowest free numbers, so find the next five.
            spare = [os.dup(0) for _ in range(5)]
            for fd in spare:
                os.close(fd)
            resource.setrlimit(resource.RLIMIT_NOFILE, (max(spare) + 1, hard))
            first, second = client(), client()
            round_trip(first)
            round_trip(second)
            third = client()  # the server's accept now fails with EMFILE
            assert refused.wait(10)
            first.close()  # frees a descriptor; the paused accept retries later
            started = time.monotonic()
            round_trip(third)
            waited = time.monotonic() - started
            assert waited >= 0.4, (waited, spare, third.fileno())  # the pause
            round_trip(second)
            print("OK", srv.connection_count)
    """
    proc = start_python(
        textwrap.dedent(script), text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    out, err = proc.communicate(timeout=50)
    assert proc.returncode == 0, err
    assert out.strip() == "OK 2"
    assert "Traceback" not in err
