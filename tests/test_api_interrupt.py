"""Ctrl-C in a program iterating crawl(): the crawl stops, nothing is left running."""

import json
import signal
import subprocess
from urllib.parse import urljoin

import pytest

from crawler.config import MODES
from crawler.links.urls import canonical
from tests.support.cli import run_python, start_python
from tests.support.paths import ROOT

PROGRAM = """
import json, os, sys, threading
sys.path.insert(0, {root!r})
import crawler
from tests.support.api_driver import children, live_greenlets

try:
    for record in crawler.crawl({url!r}, mode={mode!r}, workers=2, depth=50, buffer=1):
        print("record", flush=True)
except KeyboardInterrupt:
    print(json.dumps({{
        "threads": [t.name for t in threading.enumerate()],
        "children": children(),
        "greenlets": live_greenlets(),
    }}), flush=True)
"""


@pytest.fixture(scope="module")
def slow_site():
    from fixtures.site import SiteProcess

    with SiteProcess(pages=200, latency_ms=40, links=10, page_bytes=2000) as running:
        yield running


@pytest.mark.timeout(60)
@pytest.mark.parametrize("mode", MODES)
def test_ctrl_c_while_iterating_stops_the_crawl(mode, slow_site):
    code = PROGRAM.format(root=ROOT, url=slow_site.url, mode=mode)
    proc = start_python(code, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline() == "record\n", proc.stderr.read()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert out.splitlines()[-1].startswith("{"), (out[-2000:], err[-3000:])
    report = json.loads(out.splitlines()[-1])
    assert report == {"threads": ["MainThread"], "children": [], "greenlets": []}
    assert out.count("record") < 200  # it stopped well before the end


LEFT_OPEN = """
import sys
sys.path.insert(0, {root!r})
import crawler

records = crawler.crawl({url!r}, mode={mode!r}, workers=2, depth=50)
print(next(records).url, flush=True)
"""


@pytest.mark.timeout(60)
@pytest.mark.parametrize("mode", MODES)
def test_a_stream_left_open_at_exit_does_not_hang_the_program(mode, slow_site):
    # Teardown would close the stream after its crawl thread is frozen; atexit closes it first.
    code = LEFT_OPEN.format(root=ROOT, url=slow_site.url, mode=mode)
    out = run_python(code, timeout=30)
    assert (out.returncode, out.stdout, out.stderr) == (0, slow_site.url + "\n", "")


SETTLE_INTERRUPTED = """
import sys
if {mode!r} == "gevent":
    from gevent import monkey

    monkey.patch_all()
import json, os, signal
sys.path.insert(0, {root!r})
from crawler import Crawler, CrawlConfig
from crawler.sinks import CallbackSink
from crawler.worker import Worker

settled = [0]
settle = Worker.settle


def settle_after_ctrl_c(self, *args, **kwargs):
    # Ctrl-C arrives between a page's parse and its record (the third page's).
    settled[0] += 1
    if settled[0] == 3:
        os.kill(os.getpid(), signal.SIGINT)
    return settle(self, *args, **kwargs)


Worker.settle = settle_after_ctrl_c
records = []
config = CrawlConfig(mode={mode!r}, workers=4, depth=50, robots=False)
try:
    ended = Crawler(config, [CallbackSink(records.append)]).run([{url!r}]).interrupted
except KeyboardInterrupt:
    ended = "raised"
print(json.dumps({{"written": [r.url for r in records], "ended": ended}}))
"""


@pytest.mark.timeout(60)
@pytest.mark.parametrize("mode", ["threads", "gevent"])
def test_ctrl_c_between_a_page_and_its_record_loses_no_record(mode, fresh_site):
    """The first Ctrl-C closes the frontier and raises nowhere: a page parsed when it arrives
    still gets its record, and every page the site served has one."""
    code = SETTLE_INTERRUPTED.format(root=str(ROOT), mode=mode, url=fresh_site.url)
    written, served = _interrupted_run(code, fresh_site)
    assert served <= written, served - written


def _interrupted_run(code: str, site) -> tuple[set[str], set[str]]:
    """Run ``code`` (it prints the URLs its sink got and whether the crawl ended
    interrupted), check it ended so, and return the URLs written and those ``site`` served."""
    out = run_python(code, timeout=50)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.splitlines()[-1])
    assert result["ended"] is True, result
    written = {canonical(url) for url in result["written"]}
    served = {canonical(urljoin(site.url, path)) for path in site.counts()}
    return written, served


BATCH_INTERRUPTED = """
import sys
import json, os, signal
sys.path.insert(0, {root!r})
from crawler import Crawler, CrawlConfig
from crawler.sinks import CallbackSink

records = []


def keep(record):
    # Ctrl-C while the parent writes a batch's records: on its first record past the seed.
    records.append(record)
    if len(records) == 2:
        os.kill(os.getpid(), signal.SIGINT)


if __name__ == "__main__":
    config = CrawlConfig(mode="processes", workers=2, greenlets={greenlets}, depth=50, robots=False)
    try:
        ended = Crawler(config, [CallbackSink(keep)]).run([{url!r}]).interrupted
    except KeyboardInterrupt:
        ended = "raised"
    print(json.dumps({{"written": [r.url for r in records], "ended": ended}}))
"""


@pytest.mark.timeout(60)
@pytest.mark.parametrize("greenlets", [0, 4], ids=["processes", "processes-greenlets"])
def test_ctrl_c_while_a_batch_is_written_loses_none_of_its_records(greenlets, fresh_site):
    """A processes parent takes a child's batch, then writes its records one by one: a Ctrl-C
    between two of them waits for the batch's end. (It was raised there: the batch had left
    the tasks in flight, so its other pages got no record at all, not even ``interrupted``.)"""
    code = BATCH_INTERRUPTED.format(root=str(ROOT), greenlets=greenlets, url=fresh_site.url)
    written, served = _interrupted_run(code, fresh_site)
    assert len(written) > 2
    assert served <= written, served - written
