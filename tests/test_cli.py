"""The `crawl` command as a user runs it: a real subprocess, real local servers.

Checks of what the command line says and exits with that need no process of their own
(version, help, usage errors, refused files) run ``crawl`` in this process (``invoke_cli``); the
exit codes of a real process (0, 1, 130, the installed ``python -m crawler``) are checked on one.
"""

import os
import re
import signal
import subprocess
import threading

import pytest
from werkzeug import Response

from tests.support.cli import invoke_cli, jsonl, run_cli, start_cli
from tests.support.paths import ROOT


def page(body=""):
    return Response(f"<html><title>t</title><body>{body}</body></html>", content_type="text/html")


def test_version_and_help():
    out = invoke_cli("--version")
    assert out.returncode == 0 and "crawl, version" in out.stdout
    out = invoke_cli("--help")
    assert out.returncode == 0 and "SOURCE" in out.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["--workers", "0", "x.txt"], "--workers"),
        (["--bogus", "x.txt"], "No such option"),
        (["does-not-exist.txt"], "no such file"),
        (["--exclude", "(", "http://127.0.0.1:1/"], "not a valid regex"),
        (["run"], "Missing argument"),
        ([ROOT], "directory"),
    ],
)
def test_usage_errors_are_one_line_and_exit_2(args, message):
    out = invoke_cli(*args)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], out.stderr
    assert "Traceback" not in out.stderr


def test_url_file_with_bad_lines_gives_records_and_exit_1(httpserver, tmp_path):
    httpserver.expect_request("/ok").respond_with_response(page())
    urls = tmp_path / "urls.txt"
    urls.write_text(f"# a comment\n\n{httpserver.url_for('/ok')}\nftp://x/f\nnot a url\nhttp://\n")
    out = run_cli(str(urls))
    assert out.returncode == 1, out.stderr
    got = jsonl(out.stdout)
    assert len(got) == 4
    bad = {r["url"]: r for r in got if r["error"] == "invalid_url"}
    assert set(bad) == {"ftp://x/f", "not a url", "http://"}
    assert bad["ftp://x/f"]["detail"].startswith(f"{urls}:4:")
    assert "3 errors" in out.stderr and "invalid_url 3" in out.stderr


def test_all_ok_exits_0_and_writes_jsonl_or_csv(httpserver, tmp_path):
    httpserver.expect_request("/").respond_with_response(page('<a href="/a">a</a>'))
    httpserver.expect_request("/a").respond_with_response(page())
    out_file = tmp_path / "out.jsonl"
    out = run_cli("--depth", "1", "-o", str(out_file), httpserver.url_for("/"))
    assert out.returncode == 0, out.stderr
    assert out.stdout == ""
    got = jsonl(out_file.read_text())
    assert {r["url"] for r in got} == {httpserver.url_for("/"), httpserver.url_for("/a")}
    assert set(got[0]) >= {
        "url",
        "final_url",
        "status",
        "error",
        "depth",
        "parent",
        "content_type",
        "bytes",
        "elapsed_ms",
        "title",
        "links",
        "mode",
        "worker",
    }
    csv_file = tmp_path / "out.csv"
    out = run_cli("-q", "--depth", "1", "-o", str(csv_file), httpserver.url_for("/"))
    assert out.returncode == 0 and out.stderr == ""
    lines = csv_file.read_text().splitlines()
    assert lines[0].startswith("url,final_url,status,error") and len(lines) == 3


def test_stdin_source(httpserver):
    httpserver.expect_request("/s").respond_with_response(page())
    out = run_cli("-", input=httpserver.url_for("/s") + "\n")
    assert out.returncode == 0
    assert [r["url"] for r in jsonl(out.stdout)] == [httpserver.url_for("/s")]


def test_installed_module_entry_point(httpserver):
    httpserver.expect_request("/m").respond_with_response(page())
    out = run_cli("-q", httpserver.url_for("/m"), module=True)
    assert out.returncode == 0 and len(jsonl(out.stdout)) == 1


@pytest.mark.timeout(60)
def test_ctrl_c_flushes_records_prints_summary_and_exits_130(httpserver, tmp_path):
    arrived, release = threading.Event(), threading.Event()

    def blocking(request):
        arrived.set()
        release.wait(30)
        return page()

    httpserver.expect_request("/first").respond_with_response(page())
    httpserver.expect_request("/block").respond_with_handler(blocking)
    httpserver.expect_request("/never").respond_with_response(page())
    urls = tmp_path / "urls.txt"
    urls.write_text("\n".join(httpserver.url_for(p) for p in ("/first", "/block", "/never")))
    out_file = tmp_path / "out.jsonl"
    proc = start_cli(
        "-o", str(out_file), str(urls), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert arrived.wait(30), "the crawl never reached /block"
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=30)
    finally:
        release.set()
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert "crawl interrupted" in stderr
    got = {r["url"]: r for r in jsonl(out_file.read_text())}
    assert got[httpserver.url_for("/first")]["error"] is None
    assert got[httpserver.url_for("/block")]["error"] == "interrupted"
    assert httpserver.url_for("/never") not in got
    assert "/never" not in [req.path for req, _ in httpserver.log]


@pytest.mark.timeout(60)
def test_progress_bar_only_on_a_terminal(httpserver):
    import fcntl
    import pty
    import struct
    import termios

    httpserver.expect_request("/").respond_with_response(page('<a href="/a">a</a>'))
    httpserver.expect_request("/a").respond_with_response(page())
    args = ["--depth", "1", "-o", os.devnull, httpserver.url_for("/")]
    # stderr is a terminal: tqdm draws its bar there (it counts pages).
    controller, terminal = pty.openpty()
    # A real terminal has a size; a fresh pty reports 0 columns, where tqdm draws nothing.
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    proc = start_cli(*args, stderr=terminal, stdout=subprocess.DEVNULL)
    os.close(terminal)
    seen = b""
    while True:
        try:
            chunk = os.read(controller, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        seen += chunk
    os.close(controller)
    assert proc.wait(30) == 0
    # tqdm's counter reads "2page [00:00, ...]"; the summary line says "2 pages".
    assert re.search(rb"\dpage", seen), seen
    # stderr is a pipe: only the summary line, no bar.
    out = run_cli("--depth", "1", "-o", os.devnull, httpserver.url_for("/"))
    assert out.returncode == 0
    assert out.stderr.strip().splitlines() == [out.stderr.strip()]
    assert out.stderr.startswith("crawl finished: 2 pages")


def test_a_binary_file_is_refused_and_junk_lines_are_invalid(httpserver, tmp_path):
    binary = tmp_path / "image.bin"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00http://127.0.0.1:1/\n")
    out = invoke_cli(str(binary))
    assert out.returncode == 2
    assert (
        out.stderr.strip()
        == f"crawl: error: {str(binary)!r} is not a text file of URLs (it has NUL bytes)"
    )
    httpserver.expect_request("/ok").respond_with_response(page())
    mixed = tmp_path / "mixed.txt"
    mixed.write_bytes(
        b"http://127.0.0.1:1/\xff\xfe\nhttp://127.0.0.1:1/\x07bell\n"
        + httpserver.url_for("/ok").encode()
        + b"\n"
    )
    out = invoke_cli(str(mixed))
    got = jsonl(out.stdout)
    assert [r["error"] for r in got] == ["invalid_url", "invalid_url", None]
    assert got[0]["detail"].startswith(f"{mixed}:1: not a text URL")


def test_stats_cpu_is_counted_finer_than_clock_ticks():
    # --stats-json's cpu_s feeds the benchmarks' CPU per page: a count in 10 ms clock ticks
    # (os.times) was a tenth of a short crawl's CPU.
    import time

    from crawler.cli.run import _cpu_seconds

    start = _cpu_seconds()
    give_up = time.monotonic() + 5
    while (now := _cpu_seconds()) == start and time.monotonic() < give_up:
        pass
    assert 0 < now - start < 0.005
