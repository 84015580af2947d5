"""``--memory-limit``: a crawl whose queue spills to disk gives the same records as one that
does not, in every mode, and leaves no temporary file behind (finished, failed or Ctrl-C)."""

from __future__ import annotations

import json
import multiprocessing.util
import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

import pytest

from crawler.config import CrawlConfig
from crawler.engine import Crawler
from crawler.errors import ConfigError
from crawler.sinks import CallbackSink
from tests.support.cli import TIMEOUT, cli_argv, invoke_cli, python_env, run_cli
from tests.support.crawl_process import wait_until
from tests.support.graph_site import GraphSite
from tests.support.helpers import run_crawl
from tests.test_contract import IN_PROCESS, assert_matches_site

TINY = 512  # half of it for the queue: a few requests, so every crawl here spills


@pytest.fixture
def spill_tmp(monkeypatch):
    """The system temp directory, for this test only: where spill directories are made. A
    short path: multiprocessing puts its sockets there too (108 bytes at most)."""
    where = Path(tempfile.mkdtemp(prefix="sp"))
    # multiprocessing's own directory (its forkserver's socket) stays in the real one: it is
    # made once per process, and the forkserver outlives this test.
    multiprocessing.util.get_temp_dir()
    monkeypatch.setattr(tempfile, "tempdir", str(where))
    yield where
    shutil.rmtree(where, ignore_errors=True)


def spill_dirs(where: Path) -> list[Path]:
    """The spill directories left in ``where`` (multiprocessing's own may be there too)."""
    return [path for path in where.iterdir() if path.name.startswith("crawler-spill-")]


@pytest.mark.timeout(120)
@pytest.mark.parametrize("options", IN_PROCESS)
def test_every_in_process_mode_gives_the_manifest_while_spilling(fresh_site, spill_tmp, options):
    records, stats = run_crawl([fresh_site.url], depth=50, memory_limit=TINY, **options)
    assert_matches_site(fresh_site, [r.to_dict() for r in records], options["mode"])
    assert stats.spilled > 0
    assert spill_dirs(spill_tmp) == []


@pytest.mark.timeout(120)
@pytest.mark.subprocess  # the processes modes
@pytest.mark.parametrize("options", IN_PROCESS)
def test_a_many_page_site_is_crawled_whole_once_while_spilling(spill_tmp, options):
    with GraphSite(pages=400, links=4) as site:
        records, stats = run_crawl([site.seed], depth=1000, memory_limit=TINY, **options)
        assert {r.url for r in records} == site.all_urls()
        assert len(records) == site.pages
        assert set(site.counts().values()) == {1}
    assert stats.spilled > 100
    assert spill_dirs(spill_tmp) == []


@pytest.mark.timeout(120)
def test_gevent_mode_gives_the_manifest_while_spilling(fresh_site, tmp_path):
    env = python_env()
    env["TMPDIR"] = str(tmp_path)
    stats_path = tmp_path / "stats.json"
    out = run_cli(
        *("--mode", "gevent", "--workers", "8", "--depth", "50", "--ignore-robots"),
        *("--memory-limit", "512", "--stats-json", str(stats_path), fresh_site.url),
        env=env,
        warnings_as_errors=True,
    )
    assert out.returncode == 1, out.stderr  # the site has 404s on purpose
    records = [json.loads(line) for line in out.stdout.splitlines()]
    assert_matches_site(fresh_site, records, "gevent")
    assert json.loads(stats_path.read_text())["spilled"] > 0
    assert "spilled to disk" in out.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["stats.json"]


def test_no_limit_spills_nothing(fresh_site, spill_tmp):
    _, stats = run_crawl([fresh_site.url], depth=50, memory_limit=None)
    assert stats.spilled == 0
    _, stats = run_crawl([fresh_site.url], depth=50, memory_limit=0)
    assert stats.spilled == 0


@pytest.mark.timeout(60)
def test_a_crawl_that_fails_midway_leaves_no_spill_file(spill_tmp):
    seen = []

    def write(record) -> None:
        seen.append(record)
        if len(seen) == 30:
            raise RuntimeError("disk full")

    with GraphSite(pages=300, links=4) as site:
        config = CrawlConfig(depth=1000, memory_limit=TINY, robots=False, mode="threads")
        with pytest.raises(RuntimeError, match="disk full"):
            Crawler(config, [CallbackSink(write)]).run([site.seed])
    assert spill_dirs(spill_tmp) == []


@pytest.mark.timeout(120)
@pytest.mark.subprocess
def test_ctrl_c_leaves_no_spill_file(tmp_path):
    spill = tmp_path / "tmp"
    spill.mkdir()
    env = python_env()
    env["TMPDIR"] = str(spill)
    # Slow pages (their latency, not synchronisation): the crawl is still running when its
    # spill directory appears, and Ctrl-C comes then.
    with GraphSite(pages=300, links=4, latency=0.02) as site:
        argv = cli_argv("-q", "--depth", "1000", "--memory-limit", "512", "-o", os.devnull)
        proc = subprocess.Popen(
            [*argv, site.seed],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        try:
            assert wait_until(lambda: any(spill.iterdir()), timeout=TIMEOUT)
            os.killpg(proc.pid, signal.SIGINT)
            _, stderr = proc.communicate(timeout=TIMEOUT)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    assert proc.returncode == 130, stderr
    assert list(spill.iterdir()) == []


@pytest.mark.parametrize("value", ["lots", "-1", "1.5G", "", "12Q"])
def test_a_bad_memory_limit_is_one_line_and_exit_2(value):
    out = invoke_cli("--memory-limit", value, "http://127.0.0.1:9/")
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "--memory-limit" in lines[0] and "is not a size" in lines[0]


def test_memory_limit_values():
    assert CrawlConfig().memory_limit == 1024**3
    with pytest.raises(ConfigError, match="memory-limit"):
        CrawlConfig(memory_limit=-1)
    out = invoke_cli(
        *("-q", "--retries", "0", "--memory-limit", "none", "-o", os.devnull),
        "http://127.0.0.1:9/",
    )
    assert out.returncode == 1 and out.stderr == ""  # a connect error, not a usage error


@pytest.mark.timeout(60)
def test_the_order_max_pages_and_depth_hold_while_spilling(spill_tmp):
    with GraphSite(pages=300, links=4) as site:
        # One loop: the order is the frontier's alone, so it must be the same, page by page.
        plain, _ = run_crawl([site.seed], depth=4, memory_limit=None)
        records, stats = run_crawl([site.seed], depth=4, memory_limit=TINY)
        assert [(r.url, r.depth, r.parent) for r in records] == [
            (r.url, r.depth, r.parent) for r in plain
        ]
        assert stats.spilled > 0
        capped, stats = run_crawl([site.seed], depth=1000, max_pages=120, memory_limit=TINY)
        assert len(capped) == 120 and stats.spilled > 0
    assert spill_dirs(spill_tmp) == []
