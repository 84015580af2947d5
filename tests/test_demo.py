"""``make demo`` (``fixtures/demo.py``) runs to its end and shows what it says: the crawl, the
crawl archived to a WARC file and listed back, the URL list, the modes compared."""

from __future__ import annotations

import json
import re
import socket

import pytest

from tests.support.cli import run_python

pytestmark = [pytest.mark.subprocess, pytest.mark.timeout(240)]


def test_the_demo_archives_the_site_and_lists_it_back(tmp_path):
    args = ["--port", "0", "--pages", "30", "--latency-ms", "5"]
    out = run_python(module="fixtures.demo", args=args, cwd=tmp_path, timeout=230)
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert "--warc demo.warc.gz" in text and "$ warcio index" in text
    listed = [json.loads(line) for line in text.splitlines() if line.startswith('{"warc-type"')]
    assert listed[0] == {"warc-type": "warcinfo"}
    assert {"response", "request"} <= {line["warc-type"] for line in listed}
    counts = re.search(r"\.\.\. (\d+) records: 1 warcinfo, (\d+) response, (\d+) request", text)
    assert counts and int(counts[2]) == int(counts[3]) > 5 and int(counts[1]) > 10
    assert (tmp_path / "demo.warc.gz").stat().st_size > 0
    assert (tmp_path / "demo-records.jsonl").read_text().count("\n") > 20  # in the cwd
    # The URL list's good lines reach the site on its port (here not the list's own 8765); the
    # bad lines are records of their own.
    listed = [json.loads(line) for line in (tmp_path / "demo-list.jsonl").read_text().splitlines()]
    errors = {record["error"] for record in listed}
    assert "connect" not in errors and "invalid_url" in errors, listed
    assert sum(record["status"] == 200 for record in listed) >= 3, listed
    assert "sync versus async" in text and "gevent" in text.split("sync versus async")[1]


def test_a_port_in_use_is_one_line_and_exit_2(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        args = ["--port", str(port), "--pages", "5"]
        out = run_python(module="fixtures.demo", args=args, cwd=tmp_path, timeout=60)
    assert out.returncode == 2, out.stderr
    assert out.stdout == ""
    [line] = out.stderr.splitlines()
    assert line.startswith(f"demo: the test site did not start on 127.0.0.1:{port} (")
    assert "in use" in line and f"DEMO_PORT={port + 1}" in line
