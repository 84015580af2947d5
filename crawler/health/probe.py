"""Client side of the health service: check that an echo service answers.

``probe`` is what ``crawl health HOST:PORT`` runs; it needs nothing from the server
module, so a supervisor script can import it alone.
"""

from __future__ import annotations

import secrets
import socket
import time

__all__ = ["HealthCheckError", "parse_hostport", "probe"]


class HealthCheckError(Exception):
    """A probe failed. ``reason`` is one short line, meant to be shown as is.

    Reasons: ``refused`` (nothing listens), ``timeout`` (no full echo before the
    deadline), ``closed`` (the server hung up or reset mid-echo),
    ``wrong echo: b'...'`` (other bytes came back, e.g. ``BUSY`` at the connection
    cap), ``error: ...`` (any other socket error, such as an unknown host).
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def probe(host: str, port: int, timeout: float = 3.0) -> float:
    """Send a random token line to ``host:port`` and return the echo's round trip in seconds.

    ``timeout`` bounds the whole check (connect included); the returned time covers
    only send-to-echo, so it measures the service, not the TCP handshake.
    Raises ``HealthCheckError`` on any failure.
    """
    token = f"PING {secrets.token_hex(8)}\n".encode("ascii")
    deadline = time.monotonic() + timeout
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except ConnectionRefusedError:
        raise HealthCheckError("refused") from None
    except TimeoutError:
        raise HealthCheckError("timeout") from None
    except OSError as exc:
        raise HealthCheckError(f"error: {exc.strerror or exc}") from None
    with sock:
        started = time.perf_counter()
        try:
            sock.sendall(token)
            _read_echo(sock, token, deadline)
        except TimeoutError:
            raise HealthCheckError("timeout") from None
        except OSError:
            # Reset or broken pipe: the server went away under us.
            raise HealthCheckError("closed") from None
        return time.perf_counter() - started


def _read_echo(sock: socket.socket, token: bytes, deadline: float) -> None:
    """Read until ``token`` has come back whole; fail as soon as a byte differs."""
    got = bytearray()
    while len(got) < len(token):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise HealthCheckError("timeout")
        sock.settimeout(remaining)
        chunk = sock.recv(len(token) - len(got))
        if not chunk:
            raise HealthCheckError("closed")
        got += chunk
        if not token.startswith(got):
            raise HealthCheckError(f"wrong echo: {bytes(got[:40])!r}")


def parse_hostport(value: str) -> tuple[str, int]:
    """Split ``"HOST:PORT"`` (IPv6 as ``"[::1]:PORT"``) into ``(host, port)``.

    Raises ``ValueError`` with a message fit to show the user.
    """
    host, sep, port_text = value.rpartition(":")
    if not sep or not host:
        raise ValueError(f"expected HOST:PORT, like 127.0.0.1:9501; got {value!r}")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
        if not host:
            raise ValueError(f"empty host in {value!r}")
    elif ":" in host:
        raise ValueError(f"put an IPv6 address in brackets, like [::1]:9501; got {value!r}")
    if not (port_text.isascii() and port_text.isdigit()) or not 0 < int(port_text) < 65536:
        raise ValueError(f"port must be a number from 1 to 65535; got {port_text!r}")
    return host, int(port_text)
