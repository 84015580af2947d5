"""``--block-private``: never connect to loopback, private, link-local or reserved addresses.

For services that crawl URLs their users submit (SSRF protection). The check runs on the
addresses DNS returns, and the connection then goes to one of *those checked addresses*, never
to a second lookup, so a name that answers "public" to the check and "127.0.0.1" to the connect
(DNS rebinding) cannot slip through. Every redirect hop is a request of its own, so every hop is
checked. With ``--proxy`` the proxy resolves the name: the target is still resolved and checked
here first (a name that does not resolve here is refused: only the proxy's resolver would know
where it leads), but the proxy's connection cannot be pinned.

IPv6 addresses that carry an IPv4 address (IPv4-mapped ``::ffff:a.b.c.d``, IPv4-translated
``::ffff:0:a.b.c.d``, NAT64 ``64:ff9b::a.b.c.d``, 6to4 ``2002:aabb:ccdd::``) are judged by the IPv4
address inside; deprecated IPv4-compatible addresses (``::a.b.c.d``) and local-use NAT64
(``64:ff9b:1::/48``) are refused outright.
"""

from __future__ import annotations

import ipaddress
import socket
from functools import cache
from urllib.parse import urlsplit

# Never a public destination: ``::``, ``::1`` and deprecated IPv4-compatible ``::a.b.c.d``; NAT64
# for local use (RFC 8215), which Python counts as global.
_REFUSED = (ipaddress.IPv6Network("::/96"), ipaddress.IPv6Network("64:ff9b:1::/48"))
_EMBEDDING = (
    ipaddress.IPv6Network("::ffff:0:0:0/96"),  # IPv4-translated (SIIT, RFC 2765)
    ipaddress.IPv6Network("64:ff9b::/96"),  # NAT64 well-known prefix (RFC 6052)
)


class BlockedAddress(Exception):
    """The host resolves to an address ``--block-private`` refuses."""


def is_blocked(address: str) -> bool:
    """True for any address that is not globally routable (loopback, RFC 1918 private,
    link-local, CGNAT, multicast, reserved, unspecified), and for IPv6 forms that embed one."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        if any(ip in net for net in _REFUSED):
            return True
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is None and any(ip in net for net in _EMBEDDING):
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            ip = embedded
    return not ip.is_global or ip.is_multicast


def resolve(host: str, port: int) -> list[str]:
    """The distinct addresses ``host`` resolves to, in resolver order (``socket.gaierror`` when
    it does not). The one lookup the fetchers' connections make (``crawler/http/connect.py``);
    none for an address literal (under gevent a lookup is a trip to the resolver's threads)."""
    family = allowed_gai_family()
    literal = address_family(host)
    if literal is not None and family in (socket.AF_UNSPEC, literal):
        return [host]
    infos = socket.getaddrinfo(host, port, family, socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@cache
def allowed_gai_family() -> int:
    """The address family lookups ask for, as urllib3 decides it (``urllib3.util.connection``,
    without importing urllib3): any, or IPv4 only where this host cannot bind ``::1``."""
    return socket.AF_UNSPEC if _has_ipv6("::1") else socket.AF_INET


def _has_ipv6(host: str) -> bool:
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6) as sock:
            sock.bind((host, 0))
    except Exception:  # as urllib3: any failure means no IPv6
        return False
    return True


def address_family(host: str) -> int | None:
    """``AF_INET`` or ``AF_INET6`` when ``host`` is an IP address literal, else None."""
    if host[-1:].isdigit() and ":" not in host:
        try:
            socket.inet_pton(socket.AF_INET, host)
            return socket.AF_INET
        except OSError:
            return None
    if ":" in host:
        try:
            socket.inet_pton(socket.AF_INET6, host.split("%", 1)[0])
            return socket.AF_INET6
        except OSError:
            return None
    return None


def checked_addresses(host: str, port: int) -> list[str]:
    """The addresses ``host`` resolves to, after checking every one of them.

    Raises ``BlockedAddress`` when any is refused (a name that mixes public and private
    answers is refused whole), ``socket.gaierror`` when it does not resolve.
    """
    addresses = resolve(host, port)
    for address in addresses:
        if is_blocked(address):
            raise BlockedAddress(f"{host} resolves to {address}, a non-public address")
    return addresses


def check_proxied_target(url: str) -> None:
    """Before a request goes to a proxy (which resolves the name itself): resolve and check the
    target here. A name that does not resolve here is refused, since only the proxy's resolver
    (split-horizon DNS, a cloud's metadata names) would know where it leads."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        checked_addresses(host, parts.port or (443 if parts.scheme == "https" else 80))
    except socket.gaierror as exc:
        raise BlockedAddress(
            f"{host} does not resolve here, so --block-private cannot check it "
            f"before the proxy does: {exc.strerror or exc}"
        ) from None
