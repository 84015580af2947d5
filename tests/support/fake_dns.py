"""Names for tests that must not touch real DNS: ``socket.getaddrinfo`` answered from a table for
the names in it (every other name resolves as usual). The resolver is the one thing replaced:
connections still go to real sockets, all on loopback, and no query leaves the machine."""

from __future__ import annotations

import socket

import pytest


def fake_names(monkeypatch: pytest.MonkeyPatch, table: dict[str, list[str] | None]) -> None:
    """Resolve each name of ``table`` to its addresses, in order (None: the name does not
    resolve, as a split-horizon name only a proxy's resolver knows)."""
    real = socket.getaddrinfo

    def getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):  # noqa: A002
        name = host.decode() if isinstance(host, bytes) else host
        if name not in table:
            return real(host, port, family, type, proto, flags)
        addresses = table[name]
        if addresses is None:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        port = int(port or 0)
        return [
            (socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, port))
            for address in addresses
        ]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
