"""``--parse`` makes the callback importable without letting the current directory shadow the
packages the crawler imports (a ``redis.py`` lying in the directory a crawl starts from)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from crawler.errors import ConfigError
from crawler.scrape.callbacks import load_callable

pytestmark = pytest.mark.timeout(60)

SHADOW = 'import sys\nsys.stderr.write("SHADOWED\\n")\nraise SystemExit(42)\n'
SCRAPER = "def parse(page):\n    yield {'title': page.title}\n"


def test_a_redis_py_in_the_current_directory_does_not_shadow_redis(tmp_path, httpserver, redis_url):
    httpserver.expect_request("/p").respond_with_data("<title>t</title>", content_type="text/html")
    (tmp_path / "redis.py").write_text(SHADOW)
    (tmp_path / "scraper.py").write_text(SCRAPER)
    # The installed console script, as a user runs it: its sys.path does not start with cwd
    # (``python -m`` would put it there itself).
    script = Path(sys.executable).parent / "crawl"
    done = subprocess.run(
        [str(script), "--parse", "scraper:parse", "--backend", redis_url, "--crawl-id"]
        + ["parse-path", "--ignore-robots", "-q", httpserver.url_for("/p")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "SHADOWED" not in done.stderr
    assert done.returncode == 0, done.stderr


def test_a_callback_file_named_like_an_installed_module_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "path", list(sys.path))
    (tmp_path / "json.py").write_text(SCRAPER)
    with pytest.raises(ConfigError, match="already the name of another module"):
        load_callable(f"{tmp_path / 'json.py'}:parse")


def test_loading_appends_the_directory_to_sys_path(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "scraper_appended.py").write_text(SCRAPER)
    before = list(sys.path)
    assert callable(load_callable("scraper_appended:parse"))
    assert sys.path[: len(before)] == before  # nothing put in front
    sys.modules.pop("scraper_appended", None)
