"""Fixtures shared by every test, and the ``subprocess`` mark that ``make test-fast`` leaves out.

A test is marked ``subprocess`` when it starts another process: it uses a fixture that runs one
(the fixture site, redis-server), it calls a helper of tests/support/cli.py (or SiteProcess,
RedisServer, ManyHosts, start_worker) in its own body, or it carries
``@pytest.mark.subprocess``. The marks cannot rot: a test left unmarked that starts a process
anyway (a ``subprocess.Popen``, a ``multiprocessing`` child, e.g. processes mode) fails, in
every run, saying to mark it.
"""

import compileall
import contextlib
import gc
import multiprocessing.process
import os
import signal
import subprocess
import sys
import types
import urllib.request
from collections.abc import Iterator

import pytest

from crawler.config import FETCHERS, CrawlConfig
from tests.support import cli
from tests.support.paths import ROOT

# Fixtures that start a process (directly or through another fixture: item.fixturenames is the
# whole closure).
PROCESS_FIXTURES = {"site", "redis_url"}
# Names which, used in a test's own body, start a process.
PROCESS_HELPERS = {
    *(name for name in cli.__all__ if name.startswith(("run_", "start_", "cli_records"))),
    "SiteProcess",
    "RedisServer",
    "ManyHosts",
    "start_worker",
}


def _no_op(signum: int, frame: object) -> None:
    """A SIGINT handler that does nothing (see ``pytest_configure``)."""


def pytest_configure(config: pytest.Config) -> None:
    """In a pytest-xdist worker SIGINT is ignored (Ctrl-C is the controller's to handle), and an
    ignored signal stays ignored across exec: the crawls tests start and then Ctrl-C would never
    see it. A handler that does nothing keeps Ctrl-C away from the worker, and is reset to the
    default in every program it starts."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, _no_op)
    _cache_bytecode(controller=not hasattr(config, "workerinput"))


def _cache_bytecode(*, controller: bool) -> None:
    """With PYTHONDONTWRITEBYTECODE set (some CI and sandbox images set it) every process the
    suite starts (each crawl, each spawned child, each xdist worker) compiled every module of
    the checkout from source again: a quarter of a crawl's start-up CPU, half of a worker's
    collection. The controller compiles the checkout once (up-to-date files are skipped), and
    each pytest process keeps its rewritten test modules; programs the tests start read the
    cached bytecode (the variable only stops writing it). ``__pycache__`` is git-ignored."""
    if not sys.dont_write_bytecode:
        return
    sys.dont_write_bytecode = False
    if controller:
        for folder in ("crawler", "fixtures", "tests", "examples", "bench"):
            compileall.compile_dir(os.path.join(ROOT, folder), quiet=1)


def _names(code: types.CodeType) -> set[str]:
    """Global and attribute names used by ``code`` and the functions and lambdas inside it."""
    found = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            found |= _names(const)
    return found


# Files whose tests wait most (stalled servers, deadlines, redis restarts, Ctrl-C), slowest
# first: they start first, so that on pytest-xdist the short tests fill the gaps at the end
# instead of one long crawl starting last. Measured with --durations=0; the rest keep their
# order after these.
SLOW_FIRST = [
    "test_faults.py",
    "test_demo.py",  # one test, ~12 s of crawls one after another
    "test_redis_outage.py",
    "test_redis_backend.py",
    "test_state.py",
    "test_compare.py",
    "test_strategies.py",
    "test_contract.py",
    "test_metrics.py",
    "test_recrawl.py",
    "test_warc.py",
    # Then the longest of those that start no process (CPU-bound cache, spill, sitemap and
    # memory checks of 2-6 s each; deadline waits): ``make test-fast`` ended on them when they
    # came last, one worker busy while the others were done.
    "test_url_limit.py",
    "test_spill_crawl.py",
    "test_sitemaps_parse.py",
    "test_sitemaps.py",
    "test_state_storage.py",
    "test_memory_state.py",
    "test_bodies.py",
    "test_fetchers.py",
]


# Files whose tests share a module-scoped fixture parametrized by their first parameter (its id
# first in the test id): test_faults runs one hostile crawl per mode (the serial one ~30 s) for
# a dozen checks, and every xdist worker given one of those checks would run that crawl again.
SHARED_BY_FIRST_PARAM = {"tests/test_faults.py"}

# Module-scoped fixtures of a test module that start a process (a site, a server) or run a
# crawl. Every xdist worker given one of their tests would start its own copy, and start it
# again each time it came back to the module after another file's tests (pytest ends a module's
# fixtures when the next test is in another module). The tests that use one (directly or
# through another fixture of the module) are one unit of scheduling: one worker, one copy, the
# tests one after another.
SHARED_FIXTURES = {
    "tests/test_api_interrupt.py": {"slow_site"},
    "tests/test_api_modes.py": {"serial_result"},
    "tests/test_compare.py": {"slow_site"},
    "tests/test_contract.py": {"many_hosts"},
    "tests/test_redis_backend.py": {"fixture_site"},
    "tests/test_strategies.py": {"big_slow_site"},
}


def _scope(nodeid: str) -> str:
    """The unit of xdist scheduling ``nodeid`` belongs to: itself; in a file of
    ``SHARED_BY_FIRST_PARAM``, the file and its first parameter id; for a user of a fixture of
    ``SHARED_FIXTURES``, the file and the fixture."""
    path, _, rest = nodeid.partition("::")
    name, bracket, params = rest.partition("[")
    if path in SHARED_BY_FIRST_PARAM and bracket:
        ids = _FIRST_PARAM_IDS.get(path, ())
        first = next((i for i in sorted(ids, key=len, reverse=True) if params.startswith(i)), "")
        if first:
            return f"{path}[{first}]"
    fixture = _FIXTURE_USERS.get(path, {}).get(name)
    if fixture:
        return f"{path}::{fixture}"
    return nodeid


def _fixture_param_ids() -> dict[str, tuple[str, ...]]:
    """The ids of the shared fixtures' params (the modes of test_faults.py)."""
    from tests.test_faults import MODES

    return {"tests/test_faults.py": tuple(MODES)}


def _fixture_users(path: str, shared: set[str]) -> dict[str, str]:
    """``{test function: fixture}`` for the tests of ``path`` that use a fixture of ``shared``,
    read from the file's source (the controller does not import test modules)."""
    import ast

    with open(os.path.join(ROOT, path), encoding="utf-8") as source:
        tree = ast.parse(source.read())
    functions = [n for n in tree.body if isinstance(n, ast.FunctionDef)]
    # A fixture of the module that uses a shared one (``gated_site``) shares it too.
    via = {name: name for name in shared}
    for node in functions:
        if not node.name.startswith("test_"):
            for arg in node.args.args:
                if arg.arg in via:
                    via[node.name] = via[arg.arg]
    users: dict[str, str] = {}
    for node in functions:
        if node.name.startswith("test_"):
            used = sorted({via[a.arg] for a in node.args.args if a.arg in via})
            if used:
                users[node.name] = "+".join(used)
    return users


_FIRST_PARAM_IDS: dict[str, tuple[str, ...]] = {}
_FIXTURE_USERS: dict[str, dict[str, str]] = {}


def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object | None:
    """``--dist load`` (the default of ``-n``), each test its own unit except those of
    ``SHARED_BY_FIRST_PARAM``, which go to one worker per first parameter. (xdist's own
    ``--dist loadgroup`` with ``xdist_group`` marks does this, but not under pytest 9, where
    the group never reaches the test id.) Other ``--dist`` modes are xdist's."""
    if config.getvalue("dist") != "load":
        return None
    from xdist.scheduler import LoadScopeScheduling

    _FIRST_PARAM_IDS.update(_fixture_param_ids())
    _FIXTURE_USERS.update({p: _fixture_users(p, names) for p, names in SHARED_FIXTURES.items()})

    class SharedFixtureScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return _scope(nodeid)

    return SharedFixtureScheduling(config, log)


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """``-n auto``: three workers per core. Much of the suite's wall time is waiting (on
    deadlines, servers, child processes), not CPU: more workers than cores keep both busy.
    Measured on a 2-core machine, back to back, 1,691 tests: 4 workers 147.5 s, 6 workers
    118.6 s (0.80x), 8 workers 110.4 s (0.75x, with the machine loaded past 8): three per core
    keep most of the gain with less contention for the tests' timing margins."""
    return 3 * (os.cpu_count() or 1)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark ``subprocess`` the tests that start a process (see the module docstring), before
    ``-m`` selects on the mark; start the slowest files first (``SLOW_FIRST``)."""
    for item in items:
        function = getattr(item, "function", None)
        uses = _names(function.__code__) if function is not None else set()
        if PROCESS_FIXTURES & set(item.fixturenames) or PROCESS_HELPERS & uses:
            item.add_marker(pytest.mark.subprocess)
    rank = {name: i for i, name in enumerate(SLOW_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: order kept


def pytest_collection_finish(session: pytest.Session) -> None:
    """Freeze what collection built (modules, test items: they live as long as the session) out
    of the garbage collector's reach: its passes no longer walk them, here or in the processes
    mode children forked from this process, whose collections otherwise wrote to every one of
    those objects and so copied the pages they share with the parent. Measured on the contract
    tests' processes-mode crawls in a whole-suite pytest process: ~15% less CPU."""
    gc.collect()
    gc.freeze()


@contextlib.contextmanager
def _no_process_started(item: pytest.Item) -> Iterator[None]:
    """While an unmarked test sets up and runs, starting a process is an error (raised where it
    happens, and again at the end should the code under test have swallowed it)."""
    if item.get_closest_marker("subprocess"):
        yield
        return
    started: list[str] = []

    def refuse(what: str):
        def start(*args, **kwargs):
            started.append(what)
            raise RuntimeError(
                f"{item.nodeid} started {what} without the subprocess mark: "
                "add @pytest.mark.subprocess (make test-fast must not start processes)"
            )

        return start

    saved = (subprocess.Popen._execute_child, multiprocessing.process.BaseProcess.start)
    subprocess.Popen._execute_child = refuse("a subprocess")  # type: ignore[method-assign]
    multiprocessing.process.BaseProcess.start = refuse("a multiprocessing child")  # type: ignore[method-assign]
    try:
        yield
    finally:
        subprocess.Popen._execute_child, multiprocessing.process.BaseProcess.start = saved
    if started:
        pytest.fail(
            f"started {started[0]} without the subprocess mark: add @pytest.mark.subprocess",
            pytrace=False,
        )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item):
    with _no_process_started(item):
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item):
    with _no_process_started(item):
        return (yield)


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


@pytest.fixture(params=sorted(FETCHERS))
def make(request):
    """``make(**options)``: a fetcher of each kind (the test runs once per fetcher) built from
    a ``CrawlConfig`` of ``options``; every one made is closed after the test."""
    from crawler.http.registry import open_fetcher  # the HTTP stack (ssl): not at collection

    opened = []

    def make(**options):
        fetcher = open_fetcher(CrawlConfig(fetcher=request.param, **options))
        opened.append(fetcher)
        return fetcher

    yield make
    for fetcher in opened:
        fetcher.close()


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
        _drain(httpserver)
        httpserver.no_handler_status_code = 500


def _drain(server: object) -> None:
    """Wait for the requests a test left in flight: a handler still sleeping after the client
    timed out logs its request when it returns, and in the next test's ``httpserver.log`` if
    the test ended first. The server answers one request at a time, so once a request sent now
    is answered, every earlier one has been answered and logged (and the plugin's teardown
    clears the log)."""
    if not server.is_running():  # type: ignore[attr-defined]
        return
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with contextlib.suppress(OSError):  # a 404 (nobody expects it) is an answer too
        opener.open(server.url_for("/__drain__"), timeout=30).close()  # type: ignore[attr-defined]


@pytest.fixture
def threaded_server():
    """A pytest-httpserver serving each request on its own thread, so handlers may block while
    other requests go on (concurrency and per-host politeness tests)."""
    from tests.support.servers import HTTPServer

    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    try:
        yield server
    finally:
        server.clear()
        if server.is_running():
            server.stop()
