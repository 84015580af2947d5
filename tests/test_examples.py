"""The scrapers in examples/ run as a user runs them, against the local fixture site."""

import json
import os
import subprocess

import pytest

from crawler.links.urls import canonical
from tests.support.cli import run_python
from tests.support.paths import ROOT


def run_example(name: str, *args: str) -> subprocess.CompletedProcess:
    out = run_python(script=os.path.join(ROOT, "examples", name), args=args, timeout=90)
    assert out.returncode == 0, out.stderr
    return out


@pytest.mark.parametrize("mode", ["serial", "threads", "gevent", "processes"])
def test_titles_lists_every_html_page_with_its_headings(site, mode):
    out = run_example("titles.py", site.url, "--depth", "50", "--mode", mode, "--workers", "4")
    items = [json.loads(line) for line in out.stdout.splitlines()]
    pages = site.manifest()["pages"]
    disallowed = {canonical(url) for url in site.manifest()["robots_disallowed"]}
    html = {
        url
        for url, page in pages.items()
        if page["status"] == 200 and page["error"] is None and page["content_type"] == "text/html"
    } - disallowed  # robots.txt is obeyed
    assert {canonical(item["url"]) for item in items} == html and len(items) == len(html)
    home = next(item for item in items if item["url"] == site.url)
    assert home == {
        "url": site.url,
        "title": "Home",
        "headings": [{"level": "h1", "text": "Home"}, {"level": "h2", "text": "Notes"}],
    }
    assert "crawl finished:" in out.stderr


@pytest.mark.parametrize("mode", ["serial", "processes"])
def test_files_lists_each_non_html_file_once_without_downloading_it(fresh_site, mode):
    out = run_example("files.py", fresh_site.url, "--depth", "50", "--mode", mode)
    items = [json.loads(line) for line in out.stdout.splitlines()]
    pages = fresh_site.manifest()["pages"]
    files = {url for url, page in pages.items() if page["content_type"] not in (None, "text/html")}
    assert files  # the site links a PDF and a CSV
    assert {canonical(item["file"]) for item in items} == files and len(items) == len(files)
    assert {item["type"] for item in items} == {"pdf", "csv"}
    assert all(item["found_on"].startswith(fresh_site.url) for item in items)
    assert not [path for path in fresh_site.counts() if path.startswith("/files/")]
    assert out.stderr.startswith(f"{len(files)} files; crawl finished:")
