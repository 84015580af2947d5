"""Prometheus metrics (``--metrics-port``): counters agree with the crawl's own totals in every
mode, the exposition parses with prometheus_client's parser, and the endpoint answers during a
crawl of any mode."""

from __future__ import annotations

import json
import re
import subprocess
import time
import urllib.request

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from crawler.config import CrawlConfig
from crawler.engine import Crawler
from crawler.health.metrics import CrawlMetrics, MetricsServer
from crawler.record import EncodedRecord, Record
from tests.support.cli import invoke_cli, start_cli
from tests.support.graph_site import GraphSite

pytestmark = pytest.mark.timeout(90)


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of an exposition, keyed by (name, sorted labels)."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def total(found: dict, name: str) -> float:
    return sum(value for (metric, _), value in found.items() if metric == name)


def by_label(found: dict, name: str, label: str) -> dict[str, float]:
    return {
        dict(labels)[label]: value for (metric, labels), value in found.items() if metric == name
    }


@pytest.mark.parametrize("encoded", [False, True], ids=["record", "encoded"])
def test_a_record_is_counted_by_status_error_bytes_retries_and_latency(encoded):
    metrics = CrawlMetrics(lambda: {"queued": 3, "in_flight": 1, "spilled": 9}, mode="threads")
    sink = metrics.sink()
    # A processes-mode child's records arrive encoded: counted without being decoded.
    write = sink.write_encoded if encoded else sink.write
    wrap = EncodedRecord.of if encoded else (lambda record: record)
    write(wrap(Record(url="http://a/", status=200, bytes=100, elapsed_ms=20.0, attempts=1)))
    write(wrap(Record(url="http://a/x", status=503, error="http_error", bytes=5, attempts=3)))
    write(wrap(Record(url="http://a/r", error="robots", items=[{"k": 1}])))
    found = samples(generate_latest(metrics.registry).decode())
    assert by_label(found, "crawler_pages_total", "status") == {"200": 1, "503": 1, "none": 1}
    assert by_label(found, "crawler_errors_total", "kind") == {"http_error": 1, "robots": 1}
    assert total(found, "crawler_response_bytes_total") == 105
    assert total(found, "crawler_retries_total") == 2
    assert total(found, "crawler_robots_denied_total") == 1
    assert total(found, "crawler_items_total") == 1
    assert found[("crawler_fetch_duration_seconds_count", ())] == 2
    assert found[("crawler_queued", ())] == 3 and found[("crawler_in_flight", ())] == 1
    assert found[("crawler_spilled_total", ())] == 9
    info = [labels for (name, labels) in found if name == "crawler_info"]
    assert ("mode", "threads") in info[0]
    # A frontier that does not schedule by host reports no host gauges: none are made up.
    assert ("crawler_hosts_ready", ()) not in found


@pytest.mark.parametrize("mode", ["serial", "threads", "processes"])
def test_counters_agree_with_the_crawl_totals(site, mode):
    config = CrawlConfig(mode=mode, workers=2, depth=50)
    crawler = Crawler(config)
    metrics = CrawlMetrics(crawler.live_stats, mode=mode)
    crawler.sinks.append(metrics.sink())
    stats = crawler.run([site.url])
    found = samples(generate_latest(metrics.registry).decode())
    assert stats.pages > 40
    assert total(found, "crawler_pages_total") == stats.pages
    assert by_label(found, "crawler_errors_total", "kind") == dict(stats.errors)
    assert total(found, "crawler_response_bytes_total") == stats.bytes
    assert found[("crawler_queued", ())] == 0 and found[("crawler_in_flight", ())] == 0


def test_the_endpoint_serves_the_exposition_and_frees_its_port():
    metrics = CrawlMetrics(mode="serial")
    metrics.sink().write(Record(url="http://a/", status=200, bytes=7, elapsed_ms=1.0, attempts=1))
    with MetricsServer(metrics, "127.0.0.1", 0) as server:
        host, port = server.address
        with urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=10) as response:
            assert response.headers["Content-Type"].startswith("text/plain")
            text = response.read().decode()
    assert total(samples(text), "crawler_pages_total") == 1
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=5)


def test_closing_the_endpoint_does_not_hold_up_the_crawls_exit():
    # The serving thread looked for a close every 0.5 s (prometheus_client's serve_forever
    # default): a crawl with --metrics-port waited 0.25 s on average at its exit, 2.5 s over
    # ten closes. Now a close is noticed within SHUTDOWN_POLL_S.
    metrics = CrawlMetrics(mode="serial")
    started = time.monotonic()
    for _ in range(10):
        MetricsServer(metrics, "127.0.0.1", 0).close()
    assert time.monotonic() - started < 2.0


def test_while_serving_threads_hand_over_the_interpreter_lock_often_then_as_before():
    """The endpoint's thread must get the interpreter lock promptly among a threads crawl's
    loops (bench/metrics_scrape.py measures the scrape times); the process's setting comes
    back when it stops serving."""
    import sys

    from crawler.health.metrics import SCRAPE_SWITCH_INTERVAL_S

    before = sys.getswitchinterval()
    assert before > SCRAPE_SWITCH_INTERVAL_S  # Python's default, 5 ms
    with MetricsServer(CrawlMetrics(mode="threads"), "127.0.0.1", 0):
        assert sys.getswitchinterval() == pytest.approx(SCRAPE_SWITCH_INTERVAL_S)
    assert sys.getswitchinterval() == before


MODE_ARGS = {
    "serial": ["--mode", "serial"],
    "threads": ["--mode", "threads", "--workers", "4"],
    "gevent": ["--mode", "gevent", "--workers", "4"],
    "processes": ["--mode", "processes", "--workers", "2"],
    "processes-greenlets": ["--mode", "processes", "--workers", "2", "--greenlets", "2"],
}


@pytest.mark.parametrize("mode", list(MODE_ARGS))
def test_the_cli_serves_metrics_while_it_crawls(tmp_path, mode):
    stats_file = tmp_path / "stats.json"
    # Pages after the first are held until the endpoint has counted a record: the crawl is
    # surely still running when it is scraped, however slow the machine.
    with GraphSite(pages=30, hold_after=1) as site:
        proc = start_cli(
            *MODE_ARGS[mode], "--depth", "50", "--metrics-port", "0", "-q",
            "-o", str(tmp_path / "out.jsonl"), "--stats-json", str(stats_file), site.seed,
            stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            line = proc.stderr.readline()
            match = re.search(r"metrics on (http://\S+/metrics)", line)
            assert match, line
            deadline = time.monotonic() + 30
            pages = 0.0
            while pages == 0 and time.monotonic() < deadline:  # until a record is counted
                with urllib.request.urlopen(match.group(1), timeout=10) as response:
                    found = samples(response.read().decode())
                pages = total(found, "crawler_pages_total")
            assert pages > 0
            assert ("crawler_queued", ()) in found and ("crawler_in_flight", ()) in found
            site.release()
            assert proc.wait(timeout=60) == 0, proc.stderr.read()
        finally:
            proc.kill()
            proc.wait()
    final = json.loads(stats_file.read_text())
    assert pages <= final["pages"] == site.pages


def test_a_metrics_port_in_use_is_one_line_and_exit_2():
    metrics = CrawlMetrics(mode="serial")
    with MetricsServer(metrics, "127.0.0.1", 0) as server, GraphSite(pages=1) as site:
        out = invoke_cli("--metrics-port", str(server.address[1]), site.seed)
    assert out.returncode == 2
    assert out.stderr.strip().startswith("crawl: error: cannot serve metrics on")
    assert "Traceback" not in out.stderr
