"""``--block-private``: never connect to loopback, private, link-local or reserved addresses.

For services that crawl URLs their users submit (SSRF protection). The check runs on the
addresses DNS returns, and the connection then goes to one of *those checked addresses*, never
to a second lookup, so a name that answers "public" to the check and "127.0.0.1" to the connect
(DNS rebinding) cannot slip through. Every redirect hop is a request of its own, so every hop is
checked. With ``--proxy`` the proxy resolves the name: the target is still checked here first,
but cannot be pinned.
"""

from __future__ import annotations

import ipaddress
import socket

from urllib3.exceptions import NameResolutionError, NewConnectionError


class BlockedAddress(Exception):
    """The host resolves to an address ``--block-private`` refuses."""


def is_blocked(address: str) -> bool:
    """True for any address that is not globally routable (loopback, RFC 1918 private,
    link-local, CGNAT, multicast, reserved, unspecified), IPv4-mapped IPv6 included."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


def checked_addresses(host: str, port: int) -> list[str]:
    """The addresses ``host`` resolves to, after checking every one of them.

    Raises ``BlockedAddress`` when any is refused (a name that mixes public and private
    answers is refused whole), ``socket.gaierror`` when it does not resolve.
    """
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    for address in addresses:
        if is_blocked(address):
            raise BlockedAddress(f"{host} resolves to {address}, a non-public address")
    return addresses


class PinnedConnectionMixin:
    """For a urllib3 connection class: resolve and check, then connect to the checked
    addresses only (the DNS pin). Used by ``crawler/http/adapter.py``."""

    def _new_conn(self) -> socket.socket:
        host, port = self._dns_host, self.port  # type: ignore[attr-defined]
        try:
            addresses = checked_addresses(host, port)
        except socket.gaierror as exc:
            raise NameResolutionError(self.host, self, exc) from exc  # type: ignore[attr-defined]
        error: Exception | None = None
        for address in addresses:
            self._dns_host = address
            try:
                return super()._new_conn()  # type: ignore[misc]
            except NewConnectionError as exc:
                error = exc
            finally:
                self._dns_host = host
        assert error is not None
        raise error
