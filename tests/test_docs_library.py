"""The library page of the docs (``docs/library.md``) runs as written, against the local test site.

Its ```python blocks run in order as one program (later blocks use what earlier ones defined),
with ``https://example.org/`` replaced by the fixture site's URL, in a fresh interpreter whose
working directory is a temporary one (the blocks write files). A block right after the line
``<!-- docs-test: own process -->`` runs alone (gevent patches the whole process). Python blocks
in README.md, if it has any, run the same way, as a program of their own.
"""

import os
import re
import subprocess

import pytest

from tests.support.cli import run_python
from tests.support.paths import ROOT

LIBRARY_PAGE = os.path.join("docs", "library.md")
OWN_PROCESS = "<!-- docs-test: own process -->"
PLACEHOLDER = "https://example.org/"


def python_blocks(relpath: str) -> list[tuple[bool, str]]:
    """(runs alone?, code) for every python block of the file, in order."""
    with open(os.path.join(ROOT, relpath), encoding="utf-8") as handle:
        text = handle.read()
    pattern = re.compile(r"(" + re.escape(OWN_PROCESS) + r"\n)?```python\n(.*?)```", re.S)
    return [(bool(m.group(1)), m.group(2)) for m in pattern.finditer(text)]


def run_program(code: str, path) -> subprocess.CompletedProcess:
    path.write_text(code)
    return run_python(script=path, cwd=path.parent, timeout=100)


def test_the_library_page_has_blocks_and_uses_the_placeholder():
    blocks = python_blocks(LIBRARY_PAGE)
    assert len(blocks) >= 6 and any(alone for alone, _ in blocks)
    assert all(PLACEHOLDER in code or "def " in code for _, code in blocks)


@pytest.mark.timeout(110)
def test_library_page_blocks_run(site, tmp_path):
    blocks = [
        (alone, code.replace(PLACEHOLDER, site.url)) for alone, code in python_blocks(LIBRARY_PAGE)
    ]
    together = "\n\n".join(code for alone, code in blocks if not alone)
    out = run_program(together, tmp_path / "docs_library.py")
    assert out.returncode == 0, out.stderr
    assert f"200 {site.url} Home" in out.stdout
    assert "first item: {'url': " in out.stdout
    assert "in fragile: ZeroDivisionError" in out.stdout
    assert out.stdout.count("parse=<lambda> cannot be sent to worker processes") == 1
    assert "crawl finished:" in out.stdout
    assert (tmp_path / "records.jsonl").stat().st_size > 0
    assert (tmp_path / "items.csv").read_text().startswith("url,title,headings")
    for n, (_, code) in enumerate(b for b in blocks if b[0]):
        alone = run_program(code, tmp_path / f"docs_alone_{n}.py")
        assert alone.returncode == 0, alone.stderr
        assert "pages on greenlets" in alone.stdout


@pytest.mark.timeout(110)
def test_readme_python_blocks_run(site, tmp_path):
    """The README keeps its python short, or has none; whatever it has must run too."""
    blocks = [
        (alone, code.replace(PLACEHOLDER, site.url)) for alone, code in python_blocks("README.md")
    ]
    if not blocks:
        return
    together = "\n\n".join(code for alone, code in blocks if not alone)
    if together:
        out = run_program(together, tmp_path / "readme.py")
        assert out.returncode == 0, out.stderr
    for n, (_, code) in enumerate(b for b in blocks if b[0]):
        alone = run_program(code, tmp_path / f"readme_alone_{n}.py")
        assert alone.returncode == 0, alone.stderr
