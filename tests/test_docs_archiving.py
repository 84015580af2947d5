"""The examples of the Archiving and Re-crawling pages (``docs/archiving.md``,
``docs/recrawl.md``) run as written against the fixture site, and print what the pages show.

Each ``$ crawl ...`` line of a ```console block runs as ``python -m crawler ...`` in a
temporary directory (the pages' origins replaced by the site's); ``warcio`` lines run the
venv's ``warcio``; the python block runs against the archive the page's command wrote.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys

import pytest

from tests.support.cli import run_cli
from tests.support.paths import ROOT
from tests.test_docs_library import run_program

pytestmark = [pytest.mark.subprocess, pytest.mark.timeout(120)]

WARCIO = os.path.join(os.path.dirname(sys.executable), "warcio")
DOCS_SITE = "http://127.0.0.1:8765/"


def blocks(page: str, language: str) -> list[str]:
    """The ```language blocks of ``docs/PAGE``, in order."""
    with open(os.path.join(ROOT, "docs", page), encoding="utf-8") as f:
        text = f.read()
    return re.findall(rf"```{language}\n(.*?)```", text, re.S)


def commands(block: str, prefix: str) -> list[list[str]]:
    """The ``$ PREFIX ...`` lines of a console block, as argument lists (pipes cut off)."""
    lines = [line[2:] for line in block.splitlines() if line.startswith(f"$ {prefix} ")]
    return [shlex.split(line.split(" | ")[0].split(" && ")[0]) for line in lines]


def crawl(args: list[str], cwd) -> subprocess.CompletedProcess:
    assert args[0] == "crawl"
    out = run_cli(*args[1:], cwd=cwd)
    assert out.returncode in (0, 1), out.stderr  # 1: the site has 404s on purpose
    return out


def test_the_archiving_page_examples_run(site, tmp_path):
    first, second = blocks("archiving.md", "console")[:2]
    # The first: one crawl to a WARC and a mirror, then its index, as shown.
    (command,) = commands(first, "crawl")
    command = [a.replace(DOCS_SITE, site.url) for a in command]
    out = crawl(command, tmp_path)
    records = {r["url"]: r for r in map(json.loads, out.stdout.splitlines())}
    page = records[site.url + "page/1.html"]
    assert re.fullmatch(r"sha1:[A-Z2-7]{32}", page["digest"])
    host = site.url.split("/")[2]
    assert page["saved_path"] == f"mirror/{host}/page/1.html"
    assert (tmp_path / page["saved_path"]).stat().st_size == page["bytes"]
    (index,) = commands(first, "warcio")
    listed = subprocess.run(
        [WARCIO, *index[1:]], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert listed.returncode == 0, listed.stderr
    shown = [line for line in first.splitlines() if line.startswith('{"warc-type"')]
    assert listed.stdout.splitlines()[:3] == [line.replace(DOCS_SITE, site.url) for line in shown]
    # The second: a processes crawl to crawl.warc.gz, checked; the python block reads it back.
    (command,) = commands(second, "crawl")
    crawl([a.replace("https://example.com/", site.url) for a in command], tmp_path)
    checked = subprocess.run(
        [WARCIO, "check", "crawl.warc.gz"], cwd=tmp_path, capture_output=True, timeout=60
    )
    assert checked.returncode == 0, checked.stdout
    (reader,) = blocks("archiving.md", "python")
    read = run_program(reader + "            print(url, len(html))\n", tmp_path / "read.py")
    assert read.returncode == 0, read.stderr
    assert f"{site.url}page/1.html " in read.stdout


def test_the_recrawl_page_example_runs(site, tmp_path):
    (block,) = blocks("recrawl.md", "sh")
    first, again = [shlex.split(line) for line in block.splitlines() if line.startswith("crawl")]
    crawl([a.replace("https://shop.example/", site.url) for a in first], tmp_path)
    done = crawl([a.replace("https://shop.example/", site.url) for a in again], tmp_path)
    # The summary line as the page shows it: the same site again, nothing new or changed.
    (shown,) = blocks("recrawl.md", "text")
    counts = r"(\d+) new, (\d+) changed, (\d+) unchanged, (\d+) gone"
    assert re.search(counts, shown)
    found = re.search(counts, done.stderr)
    assert found, done.stderr
    new, changed, unchanged, gone = map(int, found.groups())
    assert (new, changed, gone) == (0, 0, 0) and unchanged > 20
    lines = (tmp_path / "next-monday.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert all(r["changed"] is False for r in records if r["status"] == 200)
