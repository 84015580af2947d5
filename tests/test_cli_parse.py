"""`crawl --parse MODULE:FUNCTION --items-output FILE`, as a user runs it (a real subprocess)."""

import os

import pytest

from tests.support.cli import invoke_cli, jsonl, run_cli
from tests.support.paths import SUPPORT


def test_parse_from_a_file_path_writes_items(site, tmp_path):
    items_file = tmp_path / "items.jsonl"
    out = run_cli(
        "--depth", "1", "--parse", "examples/titles.py:parse",
        "--items-output", str(items_file), "-o", str(tmp_path / "records.jsonl"), site.url,
    )  # fmt: skip
    assert out.returncode == 1, out.stderr  # the site has a 404 and a loop at depth 1
    items = jsonl(items_file.read_text())
    assert items[0]["url"] == site.url and items[0]["title"] == "Home"
    assert items[0]["headings"] == [
        {"level": "h1", "text": "Home"},
        {"level": "h2", "text": "Notes"},
    ]
    records = jsonl((tmp_path / "records.jsonl").read_text())
    assert sum(len(r["items"]) for r in records) == len(items)
    assert f", {len(items)} items;" in out.stderr


def test_parse_from_a_module_in_the_current_directory_to_stdout(site):
    # Run from tests/support/ so that `scrapers` is importable as a plain module name, as a user's
    # scraper in their working directory would be.
    out = run_cli("-q", "--depth", "50", "--parse", "scrapers:mixed", "--items-output", "-",
                "-o", os.devnull, site.url, cwd=SUPPORT)  # fmt: skip
    assert out.returncode == 1 and out.stderr == ""
    items = jsonl(out.stdout)
    pages = site.manifest()["pages"].values()
    html_pages = [p for p in pages if p["status"] == 200 and p["content_type"] == "text/html"]
    # Every HTML page but page 5 (the callback raises) and the one robots.txt disallows.
    assert len(items) == len(html_pages) - 2
    assert all(set(item) == {"url", "title", "headings"} for item in items)


def test_a_raising_callback_is_a_record_and_exit_1(site):
    out = run_cli("-q", "--depth", "50", "--parse", "scrapers:mixed", site.url, cwd=SUPPORT)
    assert out.returncode == 1
    broken = [r for r in jsonl(out.stdout) if r["error"] == "parse_callback"]
    assert [r["url"] for r in broken] == [site.url + "page/5.html"]
    assert "ValueError: cannot scrape" in broken[0]["detail"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--parse", "nocolon"], "--parse expects module:function, got 'nocolon'"),
        (["--parse", "no_such_scraper_module:parse"], "no module named 'no_such_scraper_module'"),
        (["--parse", "examples/titles.py:nope"], "has no attribute 'nope'"),
        (["--parse", "examples/missing.py:parse"], "no such file"),
        (["--items-output", "-"], "cannot both go to stdout"),
        (["--items-output", "/no/such/dir/items.jsonl"], "cannot write '/no/such/dir/items.jsonl'"),
    ],
)
def test_bad_parse_specs_and_outputs_are_one_line_and_exit_2(args, message, site):
    out = invoke_cli(*args, site.url)
    assert out.returncode == 2, out.stderr
    errors = out.stderr.strip().splitlines()
    assert len(errors) == 1 and message in errors[0] and errors[0].startswith("crawl: error:")
