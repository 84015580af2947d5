"""Opening a connection within the page deadline, and (with ``--block-private``) only to checked
addresses.

urllib3 alone gives *each* address a name resolves to the full connect timeout, so a host with N
addresses that do not answer costs N × timeout. Here the whole connect phase (every address,
tried in resolver order) shares what is left of the page deadline (``PAGE_DEADLINE``, set by
``crawler/http/core.py``), and each attempt also stops at the connect timeout.

With ``pin``, the addresses are checked first and the connection goes to one of those checked
addresses, never to a second lookup (``crawler/http/netguard.py`` says why).
"""

from __future__ import annotations

import socket
import time
from contextvars import ContextVar

from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError
from urllib3.util.connection import create_connection

from crawler.http import netguard

# The monotonic time by which the current page must be read; None means no deadline.
PAGE_DEADLINE: ContextVar[float | None] = ContextVar("crawler_page_deadline", default=None)


class BoundedConnectMixin:
    """For a urllib3 connection class: resolve once, then try each address within the page
    deadline. ``pin = True`` connects only to addresses ``--block-private`` accepts."""

    pin = False

    def _new_conn(self) -> socket.socket:
        host, port = self._dns_host, self.port  # type: ignore[attr-defined]
        try:
            if self.pin:
                addresses = netguard.checked_addresses(host, port)
            else:
                addresses = netguard.resolve(host, port)
        except socket.gaierror as exc:
            raise NameResolutionError(self.host, self, exc) from exc  # type: ignore[attr-defined]
        timeout = self.timeout  # type: ignore[attr-defined]
        timeout = float(timeout) if isinstance(timeout, (int, float)) else None
        deadline = PAGE_DEADLINE.get()
        error: Exception | None = None
        for address in addresses:
            wait = timeout
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                wait = left if wait is None else min(wait, left)
            try:
                return connect_to(
                    address,
                    port,
                    wait,
                    source_address=self.source_address,  # type: ignore[attr-defined]
                    socket_options=self.socket_options,  # type: ignore[attr-defined]
                )
            except TimeoutError:
                error = ConnectTimeoutError(self, f"connection to {address} timed out")
            except OSError as exc:
                error = NewConnectionError(self, f"Failed to establish a new connection: {exc}")
        if error is None or (deadline is not None and time.monotonic() >= deadline):
            tried = f"{len(addresses)} address{'es' if len(addresses) > 1 else ''}"
            error = ConnectTimeoutError(self, f"connecting ({tried}) spent the page deadline")
        raise error


def connect_to(
    address: str,
    port: int,
    timeout: float | None,
    *,
    source_address: tuple[str, int] | None = None,
    socket_options: list[tuple[int, int, int]] | None = None,
) -> socket.socket:
    """A socket connected to ``address`` (an IP address ``resolve`` returned), as urllib3's
    ``create_connection`` makes it, without its second lookup of the address."""
    family = netguard.address_family(address)
    if family is None or "%" in address:  # a name, or a scoped IPv6 address: as urllib3 does
        options = {"source_address": source_address, "socket_options": socket_options}
        return create_connection((address, port), timeout, **options)
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        for option in socket_options or ():
            sock.setsockopt(*option)
        sock.settimeout(timeout)
        if source_address:
            sock.bind(source_address)
        sock.connect((address, port))
    except BaseException:
        sock.close()
        raise
    return sock
