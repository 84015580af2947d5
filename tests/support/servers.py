"""pytest-httpserver's server, stopping in a few milliseconds instead of up to half a second."""

from __future__ import annotations

from pytest_httpserver import HTTPServer as _HTTPServer

# How often the serving thread checks for a shutdown request (socketserver's default: 0.5 s,
# paid by every test that stops a server of its own).
POLL_INTERVAL = 0.02


class HTTPServer(_HTTPServer):
    """``pytest_httpserver.HTTPServer`` whose ``stop()`` returns within ``POLL_INTERVAL``."""

    def thread_target(self) -> None:
        """Serve until ``stop()``, checking for it every ``POLL_INTERVAL`` seconds."""
        assert self.server is not None
        self.server.serve_forever(poll_interval=POLL_INTERVAL)
