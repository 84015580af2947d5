"""The suite's own machinery: how tests sharing a process-starting fixture are scheduled on
pytest-xdist (tests/conftest.py), and how the fault suite measures a crawl's memory
(tests/support/crawl_process.py), and what a program that overruns its timeout leaves for the
failure (tests/support/cli.py)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests import conftest
from tests.support.cli import Overran, run_python
from tests.support.crawl_process import TreePeak, wait_until


@pytest.mark.parametrize("path", sorted(conftest.SHARED_FIXTURES))
def test_every_shared_fixture_has_its_users_in_one_unit(path, monkeypatch):
    # A fixture renamed, or its tests moved, would silently put each user back on a worker of
    # its own (one site process per worker): the table must still name fixtures with users.
    users = conftest._fixture_users(path, conftest.SHARED_FIXTURES[path])
    assert set(users.values()) == conftest.SHARED_FIXTURES[path], users
    monkeypatch.setitem(conftest._FIXTURE_USERS, path, users)
    scopes = {conftest._scope(f"{path}::{name}[x]") for name in users}
    assert scopes == {f"{path}::{fixture}" for fixture in users.values()}
    assert conftest._scope(f"{path}::test_not_a_user") == f"{path}::test_not_a_user"


def test_a_fixture_used_through_another_is_shared_by_that_ones_users(tmp_path, monkeypatch):
    source = (
        "import pytest\n"
        "@pytest.fixture(scope='module')\n"
        "def server(): ...\n"
        "@pytest.fixture\n"
        "def gated(server): ...\n"
        "def test_direct(server): ...\n"
        "def test_through(gated, tmp_path): ...\n"
        "def test_other(tmp_path): ...\n"
    )
    (tmp_path / "test_x.py").write_text(source)
    monkeypatch.setattr(conftest, "ROOT", str(tmp_path))
    users = conftest._fixture_users("test_x.py", {"server"})
    assert users == {"test_direct": "server", "test_through": "server"}


@pytest.mark.subprocess  # a process tree to measure
def test_the_tree_peak_counts_a_tree_with_children_and_skips_a_lone_process():
    # A lone process: its PSS is bounded by wait4's max RSS, so it is not sampled (None).
    lone = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.6)"])
    with TreePeak(lone.pid) as peak:
        lone.wait(30)
    assert peak.mb is None
    # A parent with a child (which ends when its stdin does): the tree is sampled, both
    # processes at once, while the child lives.
    child = "import sys; sys.stdin.read()"
    code = f"import subprocess, sys; subprocess.run([sys.executable, '-c', {child!r}])"
    tree = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE)
    try:
        with TreePeak(tree.pid) as peak:
            assert wait_until(lambda: peak.mb is not None, timeout=30)
            tree.stdin.close()
            tree.wait(30)
    finally:
        if tree.poll() is None:
            tree.kill()
            tree.wait()
    assert peak.mb > 5  # two interpreters


HANGS = """
import os, sys, threading
def stuck_in_a_thread():
    threading.Event().wait()
threading.Thread(target=stuck_in_a_thread, name="helper").start()
read_end, _ = os.pipe()
if os.fork() == 0:
    def stuck_in_the_child():
        os.read(read_end, 1)
    stuck_in_the_child()
print("started", flush=True)
sys.stderr.write("before the hang\\n")
sys.stderr.flush()
os.read(read_end, 1)
"""


@pytest.mark.timeout(30)
def test_a_program_that_overruns_shows_every_process_and_threads_stack():
    # A hang seen once in CI must say where it was: the program, its thread and its forked
    # child each write their stacks before the tree is killed.
    with pytest.raises(Overran) as info:
        run_python(HANGS, timeout=3)
    message = str(info.value)
    assert "did not end within 3 s" in message
    assert "before the hang" in message
    # Each process's stacks apart, under its pid (they dump at once: on one stderr, their
    # lines interleaved and broke the names).
    program, child = message.split("--- stacks of process ")[1:]
    assert "in stuck_in_a_thread" in program and "line 14 in <module>" in program
    assert "in stuck_in_the_child" in child and "stuck_in_a_thread" not in child
