"""A loopback HTTP server that misbehaves on purpose, for the fault suite (tests/test_faults.py).

Raw sockets, not a framework: it must send what no HTTP library would (garbage, lying lengths,
resets, bodies that never end). One thread accepts on two listening sockets, both on 127.0.0.1
port 0: the ``main`` origin serves the hostile paths below and a 404 robots.txt (allow all); the
``slow`` origin never answers robots.txt (so every page there is a ``robots`` record) and
serves the same paths otherwise. Each connection gets a thread; connections are kept alive
between requests unless a path says otherwise, so a client that reuses a connection after a bad
response meets whatever was left on it.

Big bodies (200 MB plain, close-delimited and chunked) are generated as they are sent, and the
bombs are built once from repeated pieces (a gzip stream of concatenated members, a brotli
stream of 1 GiB of zeros), so the server never holds more than a few MB.

Every request is logged as ``(origin, target)`` on arrival; ``wait_for`` blocks on that log with
a time bound, so tests wait on events, never on sleeps.
"""

from __future__ import annotations

import contextlib
import functools
import random
import selectors
import socket
import struct
import threading
import zlib
from collections.abc import Callable
from html import escape

import brotli

BIG = 200 * 1000 * 1000  # the "200 MB" bodies, in bytes
PIECE = 64 * 1024
HEAD_LIMIT = 256 * 1024  # request line + headers; a 200 KB link must still arrive whole
LINKS = 5000
CHAIN = 30
# The longest a handler stalls (slow headers, a robots.txt that never comes): far past any
# client timeout the suite uses; ``close()`` cuts it short.
STALL_S = 60.0
# What a short Content-Length leaves on the connection: a complete response of its own, so a
# client that reads it as the next answer records a page the server never sent.
POISON = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 28\r\n\r\n"
    b"<title>POISON</title>poison!"
)


def ok_title(target: str) -> str:
    """The ``<title>`` of the ``/ok`` page at ``target``: each page names itself, so a page
    recorded with another page's bytes is visible in its record."""
    return f"ok {target}"


@functools.cache
def gzip_bomb() -> bytes:
    """About 1 MB of gzip that decodes to 1 GiB of zeros: one 16 MiB member, 64 times (a gzip
    stream may hold several members, and decoders read them all)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = bytes(1 << 20)
    member = b"".join(packer.compress(zeros) for _ in range(16)) + packer.flush()
    return member * 64


@functools.cache
def brotli_bomb() -> bytes:
    """A small brotli stream that decodes to 1 GiB of zeros."""
    packer = brotli.Compressor(quality=1)
    zeros = bytes(1 << 20)
    return b"".join(packer.process(zeros) for _ in range(1024)) + packer.finish()


def _html(title: str, body: str = "") -> bytes:
    return f"<html><head><title>{escape(title)}</title></head><body>{body}</body></html>".encode()


class Exchange:
    """One request on one connection, and the means to answer it (or not)."""

    def __init__(self, server: HostileServer, conn: socket.socket, origin: str, target: str):
        self.server, self.conn, self.origin, self.target = server, conn, origin, target
        self.path, _, self.query = target.partition("?")
        self.keep_alive = True

    def send(self, data: bytes) -> None:
        self.conn.sendall(data)

    def respond(
        self,
        status: str,
        body: bytes = b"",
        content_type: str | None = "text/html",
        headers: tuple[tuple[str, str], ...] = (),
        length: int | None = None,
    ) -> None:
        """A whole response; ``length`` overrides the true Content-Length (to lie)."""
        lines = [f"HTTP/1.1 {status}"]
        if content_type is not None:
            lines.append(f"Content-Type: {content_type}")
        lines.append(f"Content-Length: {len(body) if length is None else length}")
        lines += [f"{name}: {value}" for name, value in headers]
        self.send(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)

    def head(self, status: str, *headers: str) -> None:
        """Only the status line and headers; the handler sends the body its own way."""
        self.send(("\r\n".join((f"HTTP/1.1 {status}", *headers)) + "\r\n\r\n").encode("latin-1"))

    def stream(self, total: int, chunked: bool = False) -> None:
        """``total`` bytes of HTML-ish filler, made as they go; stops when the client leaves."""
        piece = (b"<p>" + b"x" * (PIECE - 7) + b"</p>\n")[:PIECE]
        sent = 0
        while sent < total and not self.server.stopping.is_set():
            block = piece[: total - sent]
            self.send(b"%x\r\n%s\r\n" % (len(block), block) if chunked else block)
            sent += len(block)
        if chunked:
            self.send(b"0\r\n\r\n")

    def stall(self, seconds: float = STALL_S) -> None:
        """Hold the connection without a word (cut short when the server closes)."""
        self.server.stopping.wait(seconds)

    def reset(self) -> None:
        """Close with a TCP reset instead of a FIN."""
        self.conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.keep_alive = False


Handler = Callable[[Exchange], None]


def _ok(ex: Exchange) -> None:
    ex.respond("200 OK", _html(ok_title(ex.target), "<p>fine</p>"))


def _late(ex: Exchange) -> None:
    ex.stall(0.5)  # the answer comes while the client is busy elsewhere
    _ok(ex)


def _robots(ex: Exchange) -> None:
    if ex.origin == "slow":
        ex.stall()
        ex.keep_alive = False
    else:
        ex.respond("404 Not Found", b"no robots here", "text/plain")


def _slow_headers(ex: Exchange) -> None:
    ex.stall()
    ex.keep_alive = False


def _trickle(ex: Exchange) -> None:
    ex.head("200 OK", "Content-Type: text/html", "Content-Length: 100000")
    while not ex.server.stopping.wait(0.1):  # one byte every 0.1 s: no read ever times out
        ex.send(b"x")


def _trickle_chunks(ex: Exchange) -> None:
    # One-byte chunks as fast as the client takes them: the body never ends and never reaches
    # the byte cap within the deadline, and the client is always busy with data it has already
    # buffered (so its deadline passes between two chunks, not inside a socket read).
    ex.head("200 OK", "Content-Type: text/html", "Transfer-Encoding: chunked")
    ex.keep_alive = False
    block = b"1\r\nx\r\n" * 10_000
    while not ex.server.stopping.is_set():
        ex.send(block)


def _reset(ex: Exchange) -> None:
    ex.reset()


def _garbage(ex: Exchange) -> None:
    ex.send(random.Random(13).randbytes(4096))
    ex.keep_alive = False


def _empty_reply(ex: Exchange) -> None:
    ex.keep_alive = False


def _bad_headers(ex: Exchange) -> None:
    header_soup = b"".join(b"X-%d: %s\r\n" % (i, b"v" * 50) for i in range(1000))
    ex.send(b"HTTP/1.1 200 OK\r\n\x00\x01no colon here\r\n" + header_soup + b"\r\n<html>")
    ex.keep_alive = False


def _length_longer(ex: Exchange) -> None:
    ex.respond("200 OK", _html("short body"), length=100_000)
    ex.keep_alive = False


def _length_longer_hang(ex: Exchange) -> None:
    ex.respond("200 OK", _html("short body, then silence"), length=100_000)
    ex.stall()
    ex.keep_alive = False


def _length_shorter(ex: Exchange) -> None:
    # Claims 10 bytes, sends them and a whole second response in the same write, and keeps
    # the connection open: what is left over must never be read as another page's answer.
    # One write, so the surplus is there before the client could reuse the connection; sent
    # later, it is indistinguishable from an answer to the next request on it, for any
    # HTTP/1.1 client (a race no client wins: not tested).
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 10\r\n\r\n"
    ex.send(head + b"<html>...." + POISON)


def _status(ex: Exchange) -> None:
    code = ex.path.rsplit("/", 1)[1]
    headers = {"429": (("Retry-After", "86400"),), "503": (("Retry-After", "0"),)}
    ex.respond(f"{code} Hostile", _html(f"status {code}"), headers=headers.get(code, ()))


def _redirect(ex: Exchange, location: str) -> None:
    ex.respond("302 Found", b"", headers=(("Location", location),))


def _loop(ex: Exchange) -> None:
    _redirect(ex, "/loop/b" if ex.path == "/loop/a" else "/loop/a")


def _self(ex: Exchange) -> None:
    _redirect(ex, ex.target)


def _chain(ex: Exchange) -> None:
    hop = int(ex.path.rsplit("/", 1)[1])
    if hop >= CHAIN:
        _ok(ex)
    else:
        _redirect(ex, f"/chain/{hop + 1}")


REDIRECT_TARGETS = {
    "/redirect/file": "file:///etc/passwd",
    "/redirect/javascript": "javascript:alert(1)",
    "/redirect/data": "data:text/html,<title>data</title>",
    "/redirect/mangled": "http://[::1",
    "/redirect/empty": "",
}


def _bad_redirect(ex: Exchange) -> None:
    _redirect(ex, REDIRECT_TARGETS[ex.path])


def _big(ex: Exchange) -> None:
    kind = ex.path.rsplit("/", 1)[1]
    if kind == "length":
        ex.head("200 OK", "Content-Type: text/html", f"Content-Length: {BIG}")
    elif kind == "chunked":
        ex.head("200 OK", "Content-Type: text/html", "Transfer-Encoding: chunked")
    else:  # "close": no length at all, the body ends when the connection does
        ex.head("200 OK", "Content-Type: text/html", "Connection: close")
    ex.keep_alive = False
    ex.stream(BIG, chunked=kind == "chunked")


def _bomb(ex: Exchange) -> None:
    encoding, body = ("br", brotli_bomb()) if ex.path.endswith("/br") else ("gzip", gzip_bomb())
    ex.respond("200 OK", body, headers=(("Content-Encoding", encoding),))


def _binary(ex: Exchange) -> None:
    noise = random.Random(7).randbytes(64 * 1024)
    kind = "text/html" if ex.path.endswith("-html") else "application/octet-stream"
    ex.respond("200 OK", noise, kind)


CHARSETS = {
    "/charset/bogus": ("text/html; charset=x-no-such-charset", b"caf\xe9 \xff\xfe"),
    "/charset/utf16-lie": ("text/html; charset=utf-16", b"<title>odd</title>!"),
    "/charset/meta-bogus": ("text/html", b'<meta charset="x-evil"><title>caf\xe9</title>'),
    "/charset/invalid-utf8": ("text/html; charset=utf-8", b"<title>\xc3\x28 \xed\xa0\x80</title>"),
    "/charset/utf7": ("text/html; charset=utf-7", b"<title>+ADw-script+AD4-</title>"),
}


def _charset(ex: Exchange) -> None:
    content_type, body = CHARSETS[ex.path]
    links = b'<a href="/ok?from=charset">x</a>'
    ex.respond("200 OK", body + links, content_type)


def malformed_html(port_closed: int) -> bytes:
    """HTML no parser should trust: unclosed and absurdly nested tags, hrefs of every scheme
    but http, broken authorities, NULs, a ``<base>`` pointing at ``javascript:``."""
    hrefs = [
        "javascript:alert(1)",
        "file:///etc/passwd",
        "FILE:///etc/shadow",
        "data:text/html,<script>x</script>",
        "mailto:someone@example.org",
        "ftp://127.0.0.1/",
        "vbscript:msgbox",
        "http://[::1",
        "http://127.0.0.1:99999/",
        "http://",
        "//",
        "\x00/ok?nul",
        " /ok?from=malformed ",
        f"http://127.0.0.1:{port_closed}/from-malformed",
    ]
    anchors = "".join(f'<a href="{escape(h)}">{i}' for i, h in enumerate(hrefs))
    nested = "<div><span><b>" * 3000
    return (
        f"<html><head><title>malformed</title></head><body><p<a href=>{anchors}"
        f"<table><tr><td><a href='/ok?from=malformed-table'>t{nested}<!-- unclosed comment"
    ).encode() + b"\x00\xff\xfe"


def links_page(port_closed: int) -> bytes:
    """Thousands of links: mostly other (unresolvable) sites, fragments of one page, and a
    200 KB link, with a few in-scope pages among them."""
    parts = [f'<a href="http://h{i}.example.invalid/p">{i}</a>' for i in range(LINKS)]
    parts += [f'<a href="/ok?from=links#{i}">f</a>' for i in range(LINKS // 5)]
    parts += [f'<a href="/ok?from=links&amp;n={i}">n</a>' for i in range(5)]
    parts.append(f'<a href="/ok?from=links&amp;pad={"p" * 200_000}">huge</a>')
    parts.append(f'<a href="http://127.0.0.1:{port_closed}/from-links">closed</a>')
    return _html("links", "".join(parts))


def _malformed(ex: Exchange) -> None:
    ex.respond("200 OK", malformed_html(ex.server.closed_port))


def _links(ex: Exchange) -> None:
    ex.respond("200 OK", links_page(ex.server.closed_port))


ROUTES: dict[str, Handler] = {
    "/robots.txt": _robots,
    "/malformed": _malformed,
    "/links": _links,
    "/ok": _ok,
    "/late": _late,
    "/slow-headers": _slow_headers,
    "/trickle": _trickle,
    "/trickle/chunks": _trickle_chunks,
    "/reset": _reset,
    "/garbage": _garbage,
    "/empty-reply": _empty_reply,
    "/bad-headers": _bad_headers,
    "/length/longer": _length_longer,
    "/length/longer-hang": _length_longer_hang,
    "/length/shorter": _length_shorter,
    "/loop/a": _loop,
    "/loop/b": _loop,
    "/self": _self,
    "/big/length": _big,
    "/big/close": _big,
    "/big/chunked": _big,
    "/bomb/gzip": _bomb,
    "/bomb/br": _bomb,
    "/binary": _binary,
    "/binary-html": _binary,
    **dict.fromkeys(REDIRECT_TARGETS, _bad_redirect),
    **dict.fromkeys(CHARSETS, _charset),
    **{f"/status/{code}": _status for code in (404, 429, 500, 502, 503)},
    **{f"/chain/{hop}": _chain for hop in range(CHAIN + 1)},
}


class HostileServer:
    """``with HostileServer() as server: server.url("/trickle")``; see the module docstring."""

    def __init__(self) -> None:
        self.stopping = threading.Event()
        self._log: list[tuple[str, str]] = []
        self._logged = threading.Condition()
        self._listeners: dict[socket.socket, str] = {}
        self.ports: dict[str, int] = {}
        for origin in ("main", "slow"):
            listener = socket.create_server(("127.0.0.1", 0), backlog=128)
            self._listeners[listener] = origin
            self.ports[origin] = listener.getsockname()[1]
        # A port that is bound but not listening: connecting to it is refused, deterministically.
        self._closed = socket.socket()
        self._closed.bind(("127.0.0.1", 0))
        self.closed_port = self._closed.getsockname()[1]
        self._wake_r, self._wake_w = socket.socketpair()
        self._clients: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._acceptor = threading.Thread(target=self._accept, name="hostile-accept", daemon=True)

    # -- what tests use -------------------------------------------------------------------

    def url(self, target: str, origin: str = "main") -> str:
        """The absolute URL of ``target`` (a path with its query) on ``origin``."""
        return f"http://127.0.0.1:{self.ports[origin]}{target}"

    def requests(self) -> list[tuple[str, str]]:
        """Every request so far, as ``(origin, target)``, in arrival order."""
        with self._logged:
            return list(self._log)

    def reset_log(self) -> None:
        """Forget the requests so far (between crawls)."""
        with self._logged:
            self._log.clear()

    def wait_for(self, predicate: Callable[[list[tuple[str, str]]], bool], timeout: float) -> bool:
        """Block until ``predicate(log)`` holds (re-checked on each request) or ``timeout``."""
        with self._logged:
            return self._logged.wait_for(lambda: predicate(self._log), timeout)

    # -- the server -----------------------------------------------------------------------

    def __enter__(self) -> HostileServer:
        gzip_bomb(), brotli_bomb()  # built before the first crawl, not inside one
        self._acceptor.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop accepting, cut every open connection short and join the threads."""
        self.stopping.set()
        self._wake_w.send(b"x")
        self._acceptor.join(10)
        with self._lock:
            clients = list(self._clients)
        for conn in clients:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        for thread in list(self._threads):
            thread.join(10)
        for sock in (*self._listeners, self._closed, self._wake_r, self._wake_w):
            sock.close()

    def _accept(self) -> None:
        with selectors.DefaultSelector() as selector:
            for listener in self._listeners:
                selector.register(listener, selectors.EVENT_READ)
            selector.register(self._wake_r, selectors.EVENT_READ)
            while not self.stopping.is_set():
                for key, _ in selector.select():
                    if key.fileobj is self._wake_r:
                        return
                    conn, _ = key.fileobj.accept()
                    origin = self._listeners[key.fileobj]
                    thread = threading.Thread(
                        target=self._serve, args=(conn, origin), name="hostile-conn", daemon=True
                    )
                    with self._lock:
                        self._clients.add(conn)
                        self._threads = [t for t in self._threads if t.is_alive()]
                        self._threads.append(thread)
                    thread.start()

    def _serve(self, conn: socket.socket, origin: str) -> None:
        # A client that stops reading without closing must not pin a thread forever.
        conn.settimeout(STALL_S)
        buffer = b""
        try:
            while not self.stopping.is_set():
                while b"\r\n\r\n" not in buffer:
                    if len(buffer) > HEAD_LIMIT:
                        conn.sendall(b"HTTP/1.1 431 Too Large\r\nContent-Length: 0\r\n\r\n")
                        return
                    data = conn.recv(PIECE)
                    if not data:
                        return
                    buffer += data
                head, _, buffer = buffer.partition(b"\r\n\r\n")
                target = head.split(b"\r\n", 1)[0].split(b" ")[1].decode("latin-1")
                with self._logged:
                    self._log.append((origin, target))
                    self._logged.notify_all()
                exchange = Exchange(self, conn, origin, target)
                handler = ROUTES.get(exchange.path)
                if handler is None:
                    exchange.respond("404 Not Found", _html("not found"))
                else:
                    handler(exchange)
                if not exchange.keep_alive:
                    return
        except (OSError, IndexError):  # the client left, reset, or sent no request line
            return
        finally:
            with self._lock:
                self._clients.discard(conn)
            conn.close()
