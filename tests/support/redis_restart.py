"""A redis-server a test may stop and start again on the same port (an outage, a restart).

``stop(save=True)`` writes the data to disk first, so the next ``start`` comes back with the
crawl's keys; ``stop(save=False)`` loses them, as a restart without persistence does.
"""

from __future__ import annotations

import contextlib
import subprocess
import tempfile
import time

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from tests.support.redis_server import free_port


class RestartableRedis:
    """``with RestartableRedis(executable) as server:`` then ``server.stop()``/``start()``."""

    def __init__(self, executable: str) -> None:
        self.executable = executable
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None
        self._dir = tempfile.TemporaryDirectory(prefix="crawler-redis-restart-")

    def start(self, timeout: float = 10.0) -> None:
        """Start the server on its port (with the data of the last ``stop(save=True)``)."""
        self.proc = subprocess.Popen(
            [self.executable, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
            + ["--appendonly", "no", "--dir", self._dir.name],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=1)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.proc.returncode}")
            try:
                if client.ping():
                    client.close()
                    return
            except (redis.ConnectionError, redis.TimeoutError):
                time.sleep(0.05)  # polling a starting server, bounded by the deadline
        raise RuntimeError("redis-server did not answer PING in time")

    def stop(self, *, save: bool) -> None:
        """Shut the server down, saving its data to disk first when ``save``."""
        assert self.proc is not None
        # The reply to SHUTDOWN is the connection closing; a client with redis-py's default
        # retries would then try to reconnect to the stopped server for ~4 s before giving up.
        client = redis.Redis(
            host="127.0.0.1", port=self.port, socket_timeout=5, retry=Retry(NoBackoff(), 0)
        )
        with contextlib.suppress(redis.ConnectionError):
            client.shutdown(save=save, nosave=not save)
        client.close()
        self.proc.wait(10)

    def __enter__(self) -> RestartableRedis:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._dir.cleanup()
