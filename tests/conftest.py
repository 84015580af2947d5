import pytest


@pytest.fixture(scope="session")
def site():
    """The bundled fixture site (50 pages), in its own process, for the whole session."""
    from fixtures.site import SiteProcess

    with SiteProcess(pages=50, latency_ms=0, links=10, page_bytes=3000) as running:
        yield running


@pytest.fixture
def fresh_site(site):
    """The fixture site with its request counters reset."""
    site.reset_counts()
    return site


@pytest.fixture(scope="session")
def redis_url():
    """A real redis-server on a free loopback port for the session (support/redis_server.py)."""
    from tests.support.redis_server import RedisServer, redis_executable

    with RedisServer(redis_executable()) as server:
        yield server.url


@pytest.fixture
def httpserver(httpserver):
    """pytest-httpserver, answering 404 (not its default 500) to requests nobody expected.

    The crawler fetches /robots.txt by default, and reads a 5xx there as "keep out"; a real
    server without a robots.txt answers 404, which means "allow all".
    """
    httpserver.no_handler_status_code = 404
    try:
        yield httpserver
    finally:
        httpserver.no_handler_status_code = 500


@pytest.fixture
def threaded_server():
    """A pytest-httpserver serving each request on its own thread, so handlers may block while
    other requests go on (concurrency and per-host politeness tests)."""
    from pytest_httpserver import HTTPServer

    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    try:
        yield server
    finally:
        server.clear()
        if server.is_running():
            server.stop()
