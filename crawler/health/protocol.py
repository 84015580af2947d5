"""One health-service connection: its buffers and the STATS rule (no sockets calls here).

At a line start (the connection's first byte, or the byte after ``\\n``), exactly ``STATS\\n`` or
``STATS\\r\\n`` is answered with the stats line instead of being echoed; bytes that may still
become that command are held until they can be decided. One read may hold at most
``max_commands`` of them: a probe sends one and waits, so a read with more (``STATS\\n`` x 10,000
in one 64 KiB packet) is a flood, and ``feed`` raises ``CommandFlood`` before answering it.
"""

from __future__ import annotations

import socket
from collections.abc import Callable

_STATS_COMMANDS = (b"STATS\n", b"STATS\r\n")


class CommandFlood(Exception):
    """One read held more ``STATS`` commands than a connection may send at once."""


class Connection:
    """One client's socket, buffers and STATS-detection state."""

    __slots__ = (
        "address",
        "callback",
        "held",
        "last_active",
        "line_start",
        "opened",
        "out",
        "reading",
        "sock",
    )

    def __init__(self, sock: socket.socket, now: float, address: str = "") -> None:
        self.sock = sock
        self.address = address  # the client's IP address (per-address connection cap)
        self.opened = now  # for the absolute connection lifetime
        self.callback: Callable[[int], None] | None = None
        self.out = bytearray()  # echo not yet accepted by the kernel; <= max_buffer
        self.held = b""  # a possible STATS prefix at a line start; <= 6 bytes
        self.line_start = True
        self.reading = True  # False once the client has shut down writing
        self.last_active = now

    def feed(
        self, data: bytes, stats_line: Callable[[], bytes], max_commands: int = 1 << 30
    ) -> bytes:
        """Return what to send back for ``data``, applying the STATS rule; raise
        ``CommandFlood`` (answering none of them) if ``data`` holds more than ``max_commands``
        STATS commands."""
        buf = self.held + data if self.held else data
        if buf.count(b"STATS") > max_commands:  # a cheap upper bound; the exact count next
            self._check_flood(buf, max_commands)
        self.held = b""
        parts: list[bytes] = []
        pos, end = 0, len(buf)
        while pos < end:
            if self.line_start:
                head = buf[pos : pos + 7]
                command = next((c for c in _STATS_COMMANDS if head.startswith(c)), None)
                if command is not None:
                    parts.append(stats_line())
                    pos += len(command)
                    continue
                if any(c.startswith(head) for c in _STATS_COMMANDS):
                    # A proper prefix, so the buffer ends here: undecided until more comes.
                    self.held = head
                    break
            newline = buf.find(b"\n", pos)
            if newline == -1:
                parts.append(buf[pos:])
                self.line_start = False
                break
            parts.append(buf[pos : newline + 1])
            self.line_start = True
            pos = newline + 1
        return b"".join(parts)

    def _check_flood(self, buf: bytes, max_commands: int) -> None:
        # Count commands at line starts exactly as ``feed`` would answer them.
        line_start, commands, pos = self.line_start, 0, 0
        while pos < len(buf):
            if line_start and any(buf.startswith(c, pos) for c in _STATS_COMMANDS):
                commands += 1
                if commands > max_commands:
                    raise CommandFlood(f"more than {max_commands} STATS commands in one read")
            newline = buf.find(b"\n", pos)
            if newline == -1:
                return
            line_start, pos = True, newline + 1

    def end_of_input(self) -> bytes:
        """The client stopped writing: held bytes can no longer be STATS, echo them."""
        held, self.held = self.held, b""
        return held
