"""Sockets a forked child must not keep: the listening and client sockets of the services.

Close-on-exec does not apply to ``fork``: the pool children of ``--mode processes`` (and a
multiprocessing manager) start with a copy of every descriptor of the parent. A child holding a
service's listening socket keeps its port bound after the parent exits, and could even accept
on it. ``close_in_children`` closes them in every child, at fork time.
"""

from __future__ import annotations

import contextlib
import os
import socket
import weakref
from collections.abc import Callable, Iterable
from typing import TypeVar

T = TypeVar("T")


def close_in_children(owner: T, sockets: Callable[[T], Iterable[socket.socket]]) -> None:
    """In every process forked from now on, close the sockets ``sockets(owner)`` names (while
    ``owner`` is alive). The parent's are untouched: a child has its own descriptor table."""
    ref = weakref.ref(owner)

    def after_fork_in_child() -> None:
        found = ref()
        if found is not None:
            for sock in list(sockets(found)):
                drop(sock)

    os.register_at_fork(after_in_child=after_fork_in_child)


def drop(sock: socket.socket) -> None:
    """Close ``sock``'s descriptor in this process only. ``detach`` first, so that the socket
    object never closes the number again later (the child may have reused it by then); no lock
    is taken (the thread that held one does not exist in a child)."""
    with contextlib.suppress(OSError):
        fd = sock.detach()
        if fd >= 0:
            os.close(fd)
