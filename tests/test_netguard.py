"""--block-private: refused after DNS resolution, directly and on a redirect hop."""

import pytest
from werkzeug import Response

from crawler.backends.memory.backend import MemoryBackend
from crawler.config import CrawlConfig
from crawler.http.netguard import BlockedAddress, checked_addresses, is_blocked
from crawler.http.registry import FETCHERS
from crawler.http.requests_fetcher import RequestsFetcher
from crawler.record import Record
from crawler.sources import to_requests
from crawler.strategies.serial import SerialSync
from crawler.worker import Worker
from tests.support.fake_dns import fake_names
from tests.support.helpers import by_url, run_crawl
from tests.support.raw_server import RawServer


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "224.0.0.1",
        "240.0.0.1",
        "::1",
        "fe80::1%eth0",
        "fc00::1",
        "::ffff:127.0.0.1",
        # IPv6 forms that carry a loopback or private IPv4 address (issue 13 item 6)
        "64:ff9b::7f00:1",  # NAT64 well-known prefix, 127.0.0.1
        "64:ff9b::a9fe:a9fe",  # NAT64, 169.254.169.254 (cloud metadata)
        "64:ff9b:1::7f00:1",  # local-use NAT64
        "2002:7f00:1::",  # 6to4 of 127.0.0.1
        "2002:c0a8:101::1",  # 6to4 of 192.168.1.1
        "::7f00:1",  # IPv4-compatible 127.0.0.1
        "::808:808",  # IPv4-compatible, deprecated whatever it carries
        "::ffff:0:7f00:1",  # IPv4-translated 127.0.0.1
        "::ffff:0:a00:1",  # IPv4-translated 10.0.0.1
    ],
)
def test_non_public_addresses_are_blocked(address):
    assert is_blocked(address)


@pytest.mark.parametrize(
    "address",
    [
        "93.184.216.34",
        "2606:2800:220:1:248:1893:25c8:1946",
        "64:ff9b::808:808",  # NAT64 of a public address
        "2002:808:808::1",  # 6to4 of a public address
    ],
)
def test_public_addresses_pass(address):
    assert not is_blocked(address)


def test_names_are_checked_after_resolution():
    with pytest.raises(BlockedAddress, match="localhost resolves to"):
        checked_addresses("localhost", 80)


def test_block_private_refuses_loopback_by_address_and_by_name(httpserver):
    httpserver.expect_request("/").respond_with_data("<title>x</title>", content_type="text/html")
    by_ip = httpserver.url_for("/").replace("localhost", "127.0.0.1")
    by_name = by_ip.replace("127.0.0.1", "localhost")
    records, stats = run_crawl([by_ip, by_name], block_private=True, robots=True)
    assert [r.error for r in records] == ["blocked_address", "blocked_address"]
    assert "127.0.0.1" in records[0].detail and records[0].attempts == 1  # not retried
    assert stats.errors == {"blocked_address": 2}
    assert len(httpserver.log) == 0  # nothing reached the server, robots.txt included


class _FirstHopOpen:
    """The seed fetched without the guard (as if it were a public host), every later hop with
    it: all test servers are on loopback, so this is how a redirect hop can be exercised."""

    def __init__(self, seed: str, config: CrawlConfig) -> None:
        self.seed = seed
        self.open = RequestsFetcher(config.with_options(block_private=False))
        self.guarded = RequestsFetcher(config)

    def fetch(self, url):
        return (self.open if url == self.seed else self.guarded).fetch(url)

    def close(self):
        self.open.close()
        self.guarded.close()


def test_block_private_checks_every_redirect_hop(httpserver):
    seed = httpserver.url_for("/").replace("localhost", "127.0.0.1")
    target = seed.replace("127.0.0.1", "localhost") + "inside"
    httpserver.expect_request("/").respond_with_response(
        Response(status=302, headers={"Location": target})
    )
    httpserver.expect_request("/inside").respond_with_data("secret", content_type="text/html")
    config = CrawlConfig(block_private=True, robots=False, same_domain=False)
    records: list[Record] = []
    backend, sync = MemoryBackend(), SerialSync()
    worker = Worker(
        config,
        backend.frontier(config, sync),
        backend.visited(config, sync),
        records.append,
        name="w",
        fetcher=_FirstHopOpen(seed, config),
    )
    worker.schedule(to_requests([seed], "serial")[0])
    worker.run()
    table = by_url(records)
    assert table[seed].status == 302 and table[seed].error is None
    assert table[target].error == "blocked_address" and table[target].redirects == [seed]
    assert [req.path for req, _ in httpserver.log] == ["/"]


def test_block_private_checks_the_target_even_through_a_proxy(httpserver, monkeypatch):
    # The proxy (on loopback, the user's own choice) is allowed; the target it would fetch is
    # checked here first, whether the proxy comes from --proxy or from the environment.
    httpserver.expect_request("/").respond_with_data("proxied", content_type="text/html")
    records, _ = run_crawl(["http://localhost/"], block_private=True, proxy=httpserver.url_for("/"))
    assert records[0].error == "blocked_address"
    monkeypatch.setenv("HTTP_PROXY", httpserver.url_for("/"))
    records, _ = run_crawl(["http://localhost/"], block_private=True)
    assert records[0].error == "blocked_address"
    assert len(httpserver.log) == 0


def _proxy(server, conn, number):
    """A forward proxy that records what reaches it and answers every request itself."""
    while server.read_head(conn, number) is not None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nreached")


@pytest.mark.parametrize("fetcher", sorted(FETCHERS))
def test_block_private_through_a_proxy_refuses_what_it_cannot_check(fetcher, monkeypatch):
    # Issue 13 item 6: a name that does not resolve here (only the proxy's resolver knows it:
    # split-horizon DNS, a cloud's metadata name) and IPv6 forms carrying a loopback IPv4 used
    # to reach the proxy. The proxy is a loopback server of this test; nothing leaves loopback.
    fake_names(monkeypatch, {"metadata.internal.invalid": None})
    seeds = [
        "http://metadata.internal.invalid/",
        "http://[64:ff9b::7f00:1]/",
        "http://[2002:7f00:1::]/",
        "http://[::ffff:0:7f00:1]/",
        "http://[::7f00:1]/",
    ]
    with RawServer(_proxy) as proxy:
        records, stats = run_crawl(
            seeds, block_private=True, proxy=proxy.url(), fetcher=fetcher, retries=0
        )
        assert proxy.requests == []
    assert [r.error for r in records] == ["blocked_address"] * len(seeds)
    assert "does not resolve here" in by_url(records)[seeds[0]].detail


def test_without_block_private_a_proxy_resolves_names_itself(monkeypatch):
    fake_names(monkeypatch, {"metadata.internal.invalid": None})
    with RawServer(_proxy) as proxy:
        records, _ = run_crawl(["http://metadata.internal.invalid/"], proxy=proxy.url())
        assert [line for _, line, _ in proxy.requests] == [
            "GET http://metadata.internal.invalid/ HTTP/1.1"
        ]
    assert records[0].status == 200 and records[0].error is None


@pytest.mark.parametrize("fetcher", sorted(FETCHERS))
def test_an_address_literal_is_connected_to_without_a_lookup(httpserver, monkeypatch, fetcher):
    # Under gevent every lookup is a trip to the resolver's threads: a crawl of many hosts by
    # address made two per new connection (one to resolve, one more to connect).
    import socket

    lookups: list[str] = []
    real = socket.getaddrinfo

    def counting(host, *args, **kwargs):
        lookups.append(host)
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", counting)
    httpserver.expect_request("/").respond_with_data("<title>t</title>", content_type="text/html")
    port = httpserver.port
    records, _ = run_crawl([f"http://127.0.0.1:{port}/"], fetcher=fetcher)
    assert records[0].ok and lookups == []
    records, _ = run_crawl([f"http://localhost:{port}/"], fetcher=fetcher, block_private=False)
    assert records[0].status in (200, None) and "localhost" in lookups  # a name is looked up
