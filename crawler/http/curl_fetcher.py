"""The curl Fetcher (``--fetcher curl``): libcurl through pycurl, one easy handle per worker loop;
the loops of a process share one pool of connections (``SharedPools``, a libcurl share).

Why: the cheapest exchange we measured. libcurl does in C what urllib3 and ``http.client`` do in
Python (the request head, the status line and headers, chunked bodies), and Python is called
back only for the header lines, the body's pieces (decoded here) and progress
(docs/performance.md). It keeps every behaviour of the other fetchers, held by the same
contract tests:

* ``--timeout``: the connect timeout (× the host's addresses, never past the deadline) and the
  time allowed without a byte. libcurl's own stall check (``LOW_SPEED_*``) is in whole seconds
  over an average, so the progress callback checks our own clock instead; libcurl calls it as
  bytes move, and about once a second while none do: a stall is seen up to a second after
  ``--timeout`` (``--deadline`` is exact).
* ``--deadline``: ``TIMEOUT_MS``, the whole attempt.
* ``--max-bytes``: counted on the decoded body in the write callback (which stops the transfer
  past it: ``too_large``), and a declared ``Content-Length`` over it is refused at once.
* Decoding: by urllib3's decoders, in the write callback (libcurl's own is off): the same
  encodings asked for and decoded, an unknown one passed through, the same decode errors, and
  ``--warc`` keeps the bytes as they came.
* Names are resolved here (``crawler/http/netguard.py``, once a minute per host) and given to
  libcurl (``RESOLVE``), so ``--block-private`` pins the checked addresses; a socket to a
  refused address is never opened (``OPENSOCKETFUNCTION``), whatever libcurl resolves.
* Proxies, cookies (the crawl's ``CookieJar``), headers, error kinds: as the urllib3 fetcher.

Not under gevent: ``perform`` waits on libcurl's own sockets, which would block the hub (the
configuration refuses it, ``crawler/config.py``).
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Mapping
from http.cookiejar import CookieJar
from typing import Any
from urllib.parse import urlsplit

import certifi
import pycurl

from crawler.base import Response
from crawler.config import CrawlConfig, scrub
from crawler.http import netguard
from crawler.http.capture import ExchangeRecorder
from crawler.http.curl_cookies import cookie_header, keep_cookies
from crawler.http.curl_head import header_line, last_status, read_head
from crawler.http.curl_kinds import kind_of
from crawler.http.decoding import decoded, decoder_for, flushed
from crawler.http.proxies import bypass, proxies_of
from crawler.http.request_headers import RequestHeaders

# The trust store, found once at import: a processes parent imports this module before it
# forks, so no child pays for certifi's lookup (it imports importlib.resources' machinery).
CA_BUNDLE = certifi.where()
# How long a host's lookup serves its new connections (libcurl's own cache keeps names 60 s).
RESOLVED_FOR = 60.0
# Hosts whose lookups a fetcher keeps; past it they are forgotten (here and in libcurl).
RESOLVED_KEPT = 4096
# Secrets, and values that change with every page: their lines are never kept.
_UNKEPT = frozenset({"authorization", "proxy-authorization", "cookie"})


def warm_up() -> None:
    """libcurl's one-time set-up of a share (the first in a process is slow): done once in a
    processes parent before it forks, not in every child (``registry.prepare_to_fork``)."""
    global _warm
    if not _warm:
        pycurl.CurlShare().close()
        _warm = True


_warm = False


class SharedPools:
    """What the loops of one process share: one libcurl share of TLS sessions (libcurl locks
    it; pycurl gives it its locks), and the proxies read once.

    Not the connections: libcurl does not support one connection cache used by concurrent
    threads (``CURLSHOPT_SHARE``, ``CURL_LOCK_DATA_CONNECT``), and loops on threads that
    shared one crashed the crawl now and then (SIGSEGV). Each loop's handle keeps its own
    connections, at most ``per_loop``: ``MAX_CONNECTIONS`` among the loops, as many as the
    urllib3 fetcher's shared pools keep hosts (past it the least recently used is closed).
    """

    MAX_CONNECTIONS = 1024

    def __init__(self, config: CrawlConfig, *, loops: int) -> None:
        self.share = pycurl.CurlShare()
        self.share.setopt(pycurl.SH_SHARE, pycurl.LOCK_DATA_SSL_SESSION)
        self.proxies = proxies_of(config)  # read once for every loop
        self.per_loop = max(4, self.MAX_CONNECTIONS // max(1, loops))

    def close(self) -> None:
        """Free the shared TLS sessions (after the last loop's handle is closed)."""
        self.share.close()


class CurlFetcher:
    """Fetch with one libcurl handle, and its connections. One per worker loop, like every
    Fetcher; the loops of a process share TLS sessions when given ``connections``."""

    def __init__(
        self,
        config: CrawlConfig,
        *,
        pool_size: int = 10,
        cookies: CookieJar | None = None,
        connections: SharedPools | None = None,
    ) -> None:
        self.config = config
        self.core = RequestHeaders(config)
        self.cookies = cookies if cookies is not None else CookieJar()
        self._fixed = self.core.every_request()
        self._fixed_lines: list[bytes] | None = None  # theirs, once built
        self._limit = config.max_bytes
        self._proxies = connections.proxies if connections is not None else proxies_of(config)
        self._proxy = ""
        self._resolved: dict[str, tuple[float, int]] = {}
        self._given: list[str] = []  # the "host:port" libcurl was given addresses for
        self._pending: list[str] = []  # RESOLVE entries for the next perform
        self._addresses = 0  # the connect timeout is set for this many addresses
        self._sent_lines: list[bytes] | None = None
        self._lines_kept: dict[tuple[tuple[str, str], ...], list[bytes]] = {}
        # One fetch's state, filled by libcurl's callbacks (reset by ``_begin``).
        self._lines: list[bytes] = []
        self._parts: list[bytes] = []
        self._size = 0
        self._head: tuple[int | None, dict[str, str], tuple[str, ...]] | None = None
        self._stop: tuple[str, str] | None = None  # (kind, detail) when a callback stopped it
        self._seen = -1
        self._last = 0.0
        self._sending = False  # the connection is made: silence from now on is a stall
        self._timeout = config.timeout
        self._guard = False
        self._peer: str | None = None
        self._recorder: ExchangeRecorder | None = None
        self._decoder: Any = None
        self._sent = b""
        # A request sent ahead (``prime``): (its URL, when it started), and the multi handle
        # that carries it while the caller does other work.
        self._primed: tuple[str, float] | None = None
        self._multi: Any = None
        c = self._curl = pycurl.Curl()
        if connections is not None:
            c.setopt(pycurl.SHARE, connections.share)
        c.setopt(pycurl.NOSIGNAL, 1)  # loops on threads: no SIGALRM
        c.setopt(pycurl.HTTP_VERSION, pycurl.CURL_HTTP_VERSION_1_1)  # as urllib3 speaks
        c.setopt(pycurl.CAINFO, CA_BUNDLE)  # the same trust store as the others
        c.setopt(pycurl.PROXY_CAINFO, CA_BUNDLE)
        # Idle connections kept: as the urllib3 fetcher's 64 pools of its own, or its shared
        # pools' hosts.
        kept = connections.per_loop if connections is not None else max(64, pool_size)
        c.setopt(pycurl.MAXCONNECTS, kept)
        c.setopt(pycurl.BUFFERSIZE, 128 * 1024)  # fewer reads (and callbacks) per page
        c.setopt(pycurl.PROXY, "")  # decided here (proxies_of), never from libcurl's reading
        c.setopt(pycurl.NOPROXY, "")  # of the environment
        c.setopt(pycurl.USERAGENT, "")  # none but ours (pycurl's own otherwise)
        # Bodies are decoded here, by urllib3's decoders: the same encodings decoded (an
        # unknown one passed through as it came, as urllib3 does: libcurl would fail it), the
        # same errors, and --warc keeps the bytes as they came.
        c.setopt(pycurl.HTTP_CONTENT_DECODING, 0)
        c.setopt(pycurl.WRITEFUNCTION, self._write)
        c.setopt(pycurl.TIMEOUT_MS, max(1, round(config.page_deadline * 1000)))
        self._connect_timeout(1)
        c.setopt(pycurl.HEADERFUNCTION, self._lines.append)
        c.setopt(pycurl.NOPROGRESS, 0)
        c.setopt(pycurl.XFERINFOFUNCTION, self._progress)
        c.setopt(pycurl.PREREQFUNCTION, self._connected)
        if config.block_private:
            c.setopt(pycurl.OPENSOCKETFUNCTION, self._open_socket)
        if config.warc:
            c.setopt(pycurl.VERBOSE, 1)  # for DEBUGFUNCTION: the request head as sent
            c.setopt(pycurl.DEBUGFUNCTION, self._debug)

    def fetch(
        self, url: str, *, user_headers: bool = True, headers: Mapping[str, str] | None = None
    ) -> Response:
        """GET ``url`` once; network failures come back as ``Response.error``, never raised.
        ``user_headers=False`` leaves out the ``-H`` headers (robots.txt off its origin);
        ``headers``: this request's own (``If-None-Match`` ...)."""
        config = self.config
        primed, self._primed = self._primed, None
        run: Any = None
        started = time.monotonic()
        if primed is not None and primed[0] == url and user_headers and not headers:
            started, run = primed[1], self._finish_primed  # sent already: its answer
        elif primed is not None:
            self._drop_primed()
        response = Response(url=url)
        recorder = ExchangeRecorder(url) if config.warc else None
        if run is None:
            self._begin(started, recorder)
        curl = self._curl
        try:
            if run is None:
                extra = self.core.headers(url, user_headers=user_headers, own=headers)
                self._prepare(url, started, extra)
                # Once requests are sent ahead, every one goes through the multi handle: its
                # connections are the multi's, and a page's next request reuses them.
                run = curl.perform if self._multi is None else self._perform_multi
            try:
                run()
            finally:
                if self._pending:
                    curl.setopt(pycurl.RESOLVE, [])  # given once: libcurl keeps them
                    self._pending = []
            if self._decoder is not None:
                self._flush()
        except pycurl.error as exc:
            code, message = exc.args
            response.error, response.detail = kind_of(code, scrub(message, config.proxy))
        except netguard.BlockedAddress as exc:
            response.error, response.detail = "blocked_address", str(exc)
        except socket.gaierror as exc:
            host = urlsplit(url).hostname
            detail = f"NameResolutionError: Failed to resolve '{host}' ({exc})"
            response.error, response.detail = "dns", detail
        except ValueError as exc:  # a header line refused (UnicodeError is one too)
            response.error, response.detail = "fetch", f"{type(exc).__name__}: {exc}"[:300]
        response.status, response.headers, set_cookies = self._head or read_head(self._lines)
        if self._stop is not None:
            response.error, response.detail = self._stop
        if response.error is None:
            response.body = self._parts[0] if len(self._parts) == 1 else b"".join(self._parts)
            if recorder is not None:
                recorder.finished()
        elif response.error == "too_large":
            response.detail = f"body over {config.max_bytes} bytes"
            response.partial = tuple(self._parts)
        if set_cookies:
            keep_cookies(self.cookies, url, set_cookies)
        deadline = started + config.page_deadline
        if response.error == "timeout" and time.monotonic() >= deadline - 0.01:
            # The whole page deadline is spent: a retry would only be cut again.
            response.final = True
            response.detail = f"page took over {config.page_deadline:g} s"
        if recorder is not None:
            self._archive(recorder, response)
        response.elapsed_ms = round((time.monotonic() - started) * 1000, 1)
        return response

    def prime(self, url: str) -> bool:
        """Send the request for ``url`` now (with the usual headers), without waiting for the
        answer: the next ``fetch(url)`` takes the transfer up where it stands, so the server
        answers while the caller reads the page before. True if it was sent. Any other
        ``fetch`` first drops it (and its connection). Not with --warc (``fetch`` records the
        exchange as it sends it)."""
        if self._primed is not None or self.config.warc:
            return False
        started = time.monotonic()
        self._begin(started, None)
        try:
            self._prepare(url, started, self.core.headers(url, user_headers=True, own=None))
        except Exception:  # refused or unresolvable: ``fetch`` meets it again and records it
            return False
        if self._multi is None:
            self._multi = pycurl.CurlMulti()
        self._multi.add_handle(self._curl)
        self._primed = (url, started)
        with contextlib.suppress(pycurl.error):  # ``fetch`` reads the transfer's own outcome
            # Twice: a connection that opens at once (loopback, a kept one) sends the
            # request on the second step; one still connecting sends it in ``fetch``.
            if self._step():
                self._multi.select(0)
                self._step()
        return True

    def _step(self) -> int:
        """Let libcurl do what it can now on the primed transfer; how many still run."""
        while True:
            code, running = self._multi.perform()
            if code != pycurl.E_CALL_MULTI_PERFORM:
                return running

    def _perform_multi(self) -> None:
        """``perform`` through the multi handle (see ``fetch``)."""
        self._multi.add_handle(self._curl)
        self._finish_primed()

    def _finish_primed(self) -> None:
        """Carry the primed transfer to its end, as ``perform`` would (raising as it does)."""
        multi = self._multi
        try:
            while self._step():
                wait = multi.timeout()  # libcurl's own next deadline, ms (-1: none)
                multi.select(wait / 1000 if wait >= 0 else 1.0)
            _, _, failed = multi.info_read()
        finally:
            multi.remove_handle(self._curl)
        if failed:
            _, code, message = failed[0]
            raise pycurl.error(code, message)

    def _drop_primed(self) -> None:
        """Give the primed transfer up (another request goes first)."""
        self._multi.remove_handle(self._curl)
        if self._pending:
            self._curl.setopt(pycurl.RESOLVE, [])
            self._pending = []

    def _begin(self, started: float, recorder: ExchangeRecorder | None) -> None:
        self._lines.clear()
        self._parts = []
        self._size = 0
        self._head = None
        self._stop = None
        self._seen = -1
        self._last = started
        self._sending = False
        self._recorder = recorder
        self._decoder = None
        self._sent = b""
        self._peer = None

    def _prepare(self, url: str, started: float, extra: dict[str, str]) -> None:
        """Set the handle for ``url``: proxy, addresses, headers (raises for what must not be
        sent: a refused address, a name that does not resolve, an illegal header)."""
        curl = self._curl
        proxy = self._proxy_for(url) if self._proxies else ""
        if proxy != self._proxy:
            curl.setopt(pycurl.PROXY, proxy)
            self._proxy = proxy
        self._guard = self.config.block_private and not proxy
        if proxy:
            if self.config.block_private:
                netguard.check_proxied_target(url)  # the proxy resolves the name: check it here
            if self._addresses != 1:
                self._connect_timeout(1)  # to the proxy
        else:
            netloc = url.split("/", 3)[2]
            known = self._resolved.get(netloc)
            if known is None or known[0] < started:
                known = self._resolve(url, netloc, started)
            if known[1] != self._addresses:
                self._connect_timeout(known[1])
        lines = self._header_lines(extra)
        if len(self.cookies) and (cookie := cookie_header(self.cookies, url)):
            lines = [*lines, header_line("Cookie", cookie)]
        if lines is not self._sent_lines:  # most pages send the same: no new list for libcurl
            curl.setopt(pycurl.HTTPHEADER, lines)
            self._sent_lines = lines
        curl.setopt(pycurl.URL, url)
        if self._pending:
            curl.setopt(pycurl.RESOLVE, self._pending)

    def _resolve(self, url: str, netloc: str, now: float) -> tuple[float, int]:
        """Look ``url``'s host up (checked with --block-private) and give libcurl the
        addresses: its connections go to those, never to a lookup of its own."""
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        if len(self._resolved) >= RESOLVED_KEPT:  # forget them all, here and in libcurl
            self._pending += [f"-{given}" for given in self._given]
            self._resolved.clear()
            self._given.clear()
        if self.config.block_private:
            addresses = netguard.checked_addresses(host, port)
        else:
            addresses = netguard.resolve(host, port)
        if netguard.address_family(host) is not None:  # a literal: nothing to look up
            known = (float("inf"), 1)
        else:
            listed = ",".join(f"[{a}]" if ":" in a else a for a in addresses)
            self._pending.append(f"{host}:{port}:{listed}")
            self._given.append(f"{host}:{port}")
            known = (now + RESOLVED_FOR, len(addresses))
        self._resolved[netloc] = known
        return known

    def _connect_timeout(self, addresses: int) -> None:
        """``--timeout`` for each of a host's addresses, the deadline at most, for the whole
        connect: libcurl divides its connect timeout among the addresses it tries."""
        config = self.config
        ms = max(1, round(min(config.timeout * addresses, config.page_deadline) * 1000))
        self._curl.setopt(pycurl.CONNECTTIMEOUT_MS, ms)
        self._addresses = addresses

    def _proxy_for(self, url: str) -> str:
        """The proxy for ``url`` ("" for none), as the urllib3 fetcher picks it."""
        scheme = url[: url.index(":")]
        proxy = self._proxies.get(scheme)
        if proxy is None:
            return ""
        if not self.config.proxy and bypass(urlsplit(url).hostname or ""):
            return ""
        return proxy

    def _header_lines(self, extra: dict[str, str]) -> list[bytes]:
        """The request's header lines (fixed headers, then ``extra``), checked and encoded
        once per set of headers; secrets (``_UNKEPT``) are encoded each time, last."""
        if not extra and self._fixed_lines is not None:
            return self._fixed_lines
        headers = {**self._fixed, **extra} if extra else self._fixed
        secret = [item for item in headers.items() if item[0].lower() in _UNKEPT]
        key = tuple(item for item in headers.items() if item[0].lower() not in _UNKEPT)
        lines = self._lines_kept.get(key)
        if lines is None:
            lines = [header_line(name, value) for name, value in key]
            if not any(name.lower() == "accept" for name in headers):
                lines.append(b"Accept:")  # libcurl's own "Accept: */*" otherwise
            if len(self._lines_kept) >= 64:
                self._lines_kept.clear()  # per-page headers (validators) must not pile up
            self._lines_kept[key] = lines
        if secret:
            lines = [*lines, *(header_line(name, value) for name, value in secret)]
        elif not extra:
            self._fixed_lines = lines
        return lines

    # libcurl's callbacks. Each runs inside ``perform``: an exception must not escape one
    # (pycurl would print it and fail the transfer), so a failure is kept in ``_stop``.

    def _write(self, raw: bytes) -> int | None:
        """A piece of the body as it came: archived (--warc), decoded, kept; or the transfer
        stopped (past the cap, a decode error)."""
        if self._head is None:  # the body's first piece: the head is complete
            if self._over_declared():
                return 0
            if encoding := self._head[1].get("content-encoding"):  # type: ignore[index]
                self._decoder = decoder_for(encoding)
        if self._recorder is not None:
            self._recorder.keep(raw)
        if self._decoder is None:
            return self._take(raw)
        try:
            for piece in decoded(self._decoder, raw):
                if self._take(piece) == 0:
                    return 0
        except Exception as exc:  # urllib3's DecodeError
            self._stop = ("decode", f"{type(exc).__name__}: {exc}"[:300])
            return 0
        return None

    def _take(self, chunk: bytes) -> int | None:
        """A piece of the decoded body: kept, or the transfer stopped past the cap."""
        size = self._size + len(chunk)
        if size > self._limit:
            self._parts.append(chunk[: self._limit - self._size])
            self._stop = ("too_large", "")
            return 0  # fewer bytes taken than given: libcurl stops (and drops the connection)
        self._size = size
        self._parts.append(chunk)
        return None

    def _over_declared(self) -> bool:
        """At the body's first piece: read the head; True (and stop) when its Content-Length
        is over the cap."""
        self._head = read_head(self._lines)
        declared = self._head[1].get("content-length")
        if declared and declared.isdigit() and int(declared) > self._limit:
            self._stop = ("too_large", "")
            return True
        return False

    def _progress(
        self, dltotal: int, dlnow: int, ultotal: int, ulnow: int, _clock=time.monotonic
    ) -> int:
        """Stop the transfer when no byte came for ``--timeout``, or the declared length is
        over the cap (a body that has not started to arrive)."""
        seen = dlnow + len(self._lines)
        now = _clock()
        if seen != self._seen:
            self._seen = seen
            self._last = now
        elif self._sending and now - self._last > self._timeout:
            self._stop = ("timeout", f"no byte for {self._timeout:g} s")
            return 1
        if dltotal > self._limit:
            self._stop = ("too_large", "")
            return 1
        return 0

    def _connected(self, ip: str, local_ip: str, port: int, local_port: int) -> int:
        """The connection is made (or reused) and the request about to be sent: from now on
        a silence is a stall (the connect had its own timeout)."""
        self._last = time.monotonic()
        self._sending = True
        self._peer = ip
        return pycurl.PREREQFUNC_OK

    def _open_socket(self, purpose: int, address: tuple) -> Any:
        """--block-private: never a socket to a refused address (the proxy's excepted)."""
        family, socktype, protocol, where = address
        if self._guard and netguard.is_blocked(where[0]):
            detail = f"{where[0]} is a non-public address"
            self._stop = ("blocked_address", detail)
            return pycurl.SOCKET_BAD
        try:
            return socket.socket(family, socktype, protocol)
        except OSError as exc:  # out of file descriptors: as a failed connect elsewhere
            self._stop = ("connect", f"{type(exc).__name__}: {exc}"[:300])
            return pycurl.SOCKET_BAD

    def _debug(self, kind: int, data: bytes) -> None:
        if kind == pycurl.INFOTYPE_HEADER_OUT:
            self._sent = data  # the last one: a proxy's CONNECT comes first

    def _flush(self) -> None:
        """The body read to its end: what the decoder still holds."""
        try:
            tail = flushed(self._decoder)
        except Exception as exc:  # urllib3's DecodeError
            self._stop = ("decode", f"{type(exc).__name__}: {exc}"[:300])
            return
        if tail is not None:
            self._take(tail)

    def _archive(self, recorder: ExchangeRecorder, response: Response) -> None:
        start = last_status(self._lines)
        if start is not None:
            recorder.sent_head(self._sent)
            recorder.received_lines(self._lines[start:], self._peer)
        if exchange := recorder.exchange(response.error):
            response.exchanges = (exchange,)

    def close(self) -> None:
        """Close the handle and its connections."""
        if self._primed is not None:
            self._primed = None
            self._drop_primed()
        self._curl.close()
        if self._multi is not None:
            self._multi.close()
