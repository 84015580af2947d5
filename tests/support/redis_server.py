"""A real ``redis-server`` for the tests, on a free loopback port, stopped afterwards.

When ``redis-server`` is not installed the Redis tests skip with a clear reason on a developer
machine, but fail in CI (``CI=true``): there they must never skip silently.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time

import pytest


def free_port() -> int:
    """A TCP port that was free on 127.0.0.1 a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisServer:
    """``with RedisServer() as server:`` runs a throwaway redis-server; ``server.url``."""

    def __init__(self, executable: str) -> None:
        self.executable = executable
        self.proc: subprocess.Popen | None = None
        self.url = ""

    def __enter__(self) -> RedisServer:
        self._dir = tempfile.TemporaryDirectory(prefix="crawler-redis-")
        for _attempt in range(3):  # the port may be taken between probe and bind
            port = free_port()
            self.proc = subprocess.Popen(
                [self.executable, "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
                + ["--appendonly", "no", "--dir", self._dir.name],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            if self._ready(port):
                self.url = f"redis://127.0.0.1:{port}/0"
                return self
            self._stop()
        self._dir.cleanup()
        raise RuntimeError("redis-server did not answer PING within 10 s")

    def _ready(self, port: int, timeout: float = 10.0) -> bool:
        import redis

        deadline = time.monotonic() + timeout
        client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=1)
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                if client.ping():
                    client.close()
                    return True
            except redis.ConnectionError:
                time.sleep(0.05)  # polling a starting server, bounded by the deadline
        return False

    def _stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __exit__(self, *exc: object) -> None:
        self._stop()
        self._dir.cleanup()


def redis_executable() -> str:
    """The redis-server to run, or skip (fail under CI) when there is none."""
    found = shutil.which("redis-server")
    if found:
        return found
    message = "redis-server is not installed (apt-get install redis-server)"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{message}: the Redis tests must run in CI", pytrace=False)
    pytest.skip(message)
