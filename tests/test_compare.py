"""``crawl compare``: each mode in its own process against the fixture site (20 ms latency)."""

from __future__ import annotations

import json
import os

import pytest

from crawler.cli.options import options_to_args
from crawler.compare.modes import (
    ModeResult,
    ModeSpec,
    bar,
    parse_modes,
    render_table,
    run_mode,
)
from crawler.errors import ConfigError
from fixtures.site import REPO_ROOT, SiteProcess
from tests.support.cli import invoke_cli

pytestmark = pytest.mark.timeout(120)
MODES = "serial,threads,gevent,processes"


@pytest.fixture(scope="module")
def slow_site():
    with SiteProcess(pages=30, latency_ms=20, links=5, page_bytes=2000) as running:
        yield running


@pytest.mark.subprocess  # the site; compare runs each mode in a process of its own
def test_table_has_a_row_per_mode_with_serial_as_baseline(slow_site):
    # Two modes: the table is drawn the same for any (the JSON test below crawls all four).
    modes = "serial,threads"
    proc = invoke_cli("compare", "--modes", modes, "--workers", "4", "--depth", "20", slow_site.url)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert lines[0].split()[:3] == ["mode", "workers", "ok"]
    assert lines[0].split()[-2:] == ["peak", "MB"]
    rows = {line.split()[0]: line for line in lines[1:]}
    assert list(rows) == modes.split(",")
    assert rows["serial"].split()[6] == "1.0×"
    assert all("█" in row and "failed" not in row for row in rows.values())


@pytest.mark.subprocess  # the site; compare runs each mode in a process of its own
def test_json_reports_the_same_crawl_for_every_mode(slow_site, tmp_path):
    out = tmp_path / "records.jsonl"
    proc = invoke_cli(
        "compare", "--json", "--modes", MODES, "--workers", "4", "--depth", "20",
        "-o", str(out), slow_site.url,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    results = json.loads(proc.stdout)
    assert [r["mode"] for r in results] == MODES.split(",")
    expected = len(slow_site.manifest()["pages"])
    assert {r["pages"] for r in results} == {expected}
    assert {r["ok"] + r["errors"] for r in results} == {expected}
    assert results[0]["speedup"] == 1.0 and results[0]["workers"] == "1"
    assert all(r["wall_s"] > 0 and r["cpu_ms_per_page"] > 0 for r in results)
    # Peak memory of each crawl, all its processes: a Python crawler holds well over 10 MiB.
    assert all(r["peak_mb"] > 10 for r in results), [r["peak_mb"] for r in results]
    # Each speedup is the mode's pages/s over serial's (how fast a mode is belongs in bench/,
    # not in a test that shares a loaded machine).
    for r in results:
        ratio = (r["pages"] / r["wall_s"]) / (results[0]["pages"] / results[0]["wall_s"])
        assert r["speedup"] == pytest.approx(ratio, abs=0.006), r
    for mode in MODES.split(","):
        lines = (tmp_path / f"records.{mode}.jsonl").read_text().splitlines()
        assert {json.loads(line)["mode"] for line in lines} == {mode}
        assert len(lines) == expected


@pytest.mark.subprocess  # the site; compare runs each mode in a process of its own
def test_a_url_list_on_stdin_is_given_to_every_mode(slow_site):
    urls = "".join(f"{slow_site.base}/page/{i}.html\n" for i in range(1, 6))
    proc = invoke_cli("compare", "--json", "--modes", "serial,serial", "-", input=urls)
    assert proc.returncode == 0, proc.stderr
    assert [r["pages"] for r in json.loads(proc.stdout)] == [5, 5]


@pytest.mark.parametrize(
    "modes", ["serial,warp", "gevent:0", "gevent:x", "threads:2x4", ",", "serial:4x4"]
)
def test_bad_modes_are_one_line_and_exit_2(modes):
    proc = invoke_cli("compare", "--modes", modes, "http://127.0.0.1:9/")
    assert proc.returncode == 2
    assert proc.stderr.startswith("crawl: error:") and len(proc.stderr.splitlines()) == 1


def test_unreadable_source_is_exit_2():
    proc = invoke_cli("compare", "--modes", "serial", os.path.join(REPO_ROOT, "no-such-file.txt"))
    assert proc.returncode == 2 and "no such file" in proc.stderr


def test_parse_modes_defaults_and_explicit_counts():
    specs = parse_modes("serial,gevent,threads:8,processes:2x32", 64)
    assert [(s.mode, s.workers, s.greenlets) for s in specs] == [
        ("serial", 1, None),
        ("gevent", 64, None),
        ("threads", 8, None),
        ("processes", 2, 32),
    ]
    assert specs[3].label == "processes×greenlets" and specs[3].concurrency == "2×32"
    assert specs[3].args() == ["--mode", "processes", "--workers", "2", "--greenlets", "32"]
    with pytest.raises(ConfigError):
        parse_modes("gevent:2x32", 4)


def test_crawl_options_go_to_every_mode_as_given():
    values = {
        "depth": 3,
        "max_pages": None,
        "same_domain": False,
        "exclude": ("a", "b"),
        "follow_nofollow": True,
        "timeout": 10.0,
        "fetcher": "requests",
    }
    assert options_to_args(values) == [
        "--depth", "3", "--any-domain", "--exclude", "a", "--exclude", "b",
        "--follow-nofollow", "--fetcher", "requests",
    ]  # fmt: skip


def test_table_bars_scale_with_pages_per_second():
    fast = ModeResult(ModeSpec("gevent", 64), pages=100, ok=100, wall_s=1.0, speedup=10.0)
    slow = ModeResult(ModeSpec("serial", 1), pages=100, ok=100, wall_s=10.0, speedup=1.0)
    broken = ModeResult(ModeSpec("threads", 4), failure="crawl: error: boom")
    lines = render_table([slow, fast, broken], width=20).splitlines()
    assert lines[2].endswith("█" * 20) and lines[1].endswith("██")
    assert lines[3].endswith("failed: crawl: error: boom")
    assert bar(1, 8, 1) == "▏" and bar(0, 8, 10) == ""


@pytest.mark.subprocess  # the checkout's crawler, in a process of its own
def test_run_mode_runs_the_crawler_of_another_checkout(tmp_path):
    # bench.warc --baseline: before and after in one run, each version from its own checkout.
    package = tmp_path / "crawler"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "__main__.py").write_text(
        "import json, sys\n"
        "path = sys.argv[sys.argv.index('--stats-json') + 1]\n"
        "stats = {'pages': 7, 'ok': 7, 'wall_s': 0.5, 'cpu_s': 0.25}\n"
        "json.dump(stats, open(path, 'w'))\n"
    )
    spec = ModeSpec("serial", 1)
    other = run_mode(spec, "http://127.0.0.1:9/", [], checkout=str(tmp_path))
    assert (other.failure, other.pages, other.pages_per_s, other.cpu_s) == (None, 7, 14.0, 0.25)
