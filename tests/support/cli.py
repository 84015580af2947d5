"""The one way the tests run the crawler (or any Python) as another process, as a user would.

``run_cli(*args)`` is ``python cli.py ARGS`` from the checkout, waited for, output captured;
``start_cli(*args)`` the same left running (a ``Popen``); ``cli_records(*args)`` runs it and
parses the JSONL records on stdout. ``run_python(code)`` / ``start_python(code)`` run a
``python -c`` program (or a script, a module) with the checkout importable. A test that calls
one of these is marked ``subprocess`` by tests/conftest.py, so ``make test-fast`` leaves it out.

``invoke_cli(*args)`` is ``run_cli``'s in-process twin: the same ``crawl`` entry point and the
same result (exit code, stdout, stderr; a traceback on stderr and exit 1 for an exception that
escapes), without the ~0.3 s of CPU a new Python pays to start and import the crawler. It is
for commands that need no process of their own: no signal, no gevent (it patches the process
for good), no processes mode, no environment, locale, working directory or real stdin of their
own, no ``-W error`` at import.
"""

from __future__ import annotations

import contextlib
import io
import json
import locale
import os
import subprocess
import sys
import traceback
from collections.abc import Iterator, Sequence
from typing import Any

from tests.support.paths import ROOT

__all__ = [
    "cli_argv",
    "cli_records",
    "invoke_cli",
    "jsonl",
    "python_env",
    "run_cli",
    "run_python",
    "start_cli",
    "start_python",
]

# Long enough for a loaded 2-core machine; every test also has a pytest-timeout bound.
TIMEOUT = 90.0


def cli_argv(*args: str | bytes, module: bool = False, warnings_as_errors: bool = False) -> list:
    """The command line: ``python [-W error] cli.py ARGS`` (``-m crawler`` when ``module``)."""
    python = [sys.executable, *(["-W", "error"] if warnings_as_errors else [])]
    entry = ["-m", "crawler"] if module else [os.path.join(ROOT, "cli.py")]
    return [*python, *entry, *(a if isinstance(a, bytes) else str(a) for a in args)]


def python_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """``env`` (default: this process's) with the checkout first on PYTHONPATH, so a program
    run from another directory still imports this checkout's ``crawler`` and ``tests``."""
    base = dict(os.environ if env is None else env)
    base["PYTHONPATH"] = os.pathsep.join(filter(None, [ROOT, base.get("PYTHONPATH")]))
    return base


def run_cli(
    *args: str,
    cwd: str | os.PathLike[str] = ROOT,
    input: str | bytes | None = None,  # subprocess.run's name for it
    timeout: float = TIMEOUT,
    env: dict[str, str] | None = None,
    module: bool = False,
    warnings_as_errors: bool = False,
    text: bool = True,
) -> subprocess.CompletedProcess:
    """Run the ``crawl`` command to the end; return it with its stdout and stderr (as text, or
    as bytes when not ``text``; arguments may be bytes too)."""
    return subprocess.run(
        cli_argv(*args, module=module, warnings_as_errors=warnings_as_errors),
        input=input,
        capture_output=True,
        text=text,
        timeout=timeout,
        cwd=cwd,
        env=python_env(env),
    )


def start_cli(
    *args: str,
    cwd: str | os.PathLike[str] = ROOT,
    env: dict[str, str] | None = None,
    module: bool = False,
    **popen: Any,
) -> subprocess.Popen:
    """Start the ``crawl`` command and return at once; ``popen`` goes to ``subprocess.Popen``
    (``stdout``, ``stderr``, ``text``, ``start_new_session`` ...). The caller waits or kills."""
    return subprocess.Popen(cli_argv(*args, module=module), cwd=cwd, env=python_env(env), **popen)


def _stream(like: io.TextIOBase | None, data: bytes = b"") -> io.TextIOWrapper:
    """A text stream over bytes, encoded as ``like`` (this process's own stdout or stderr, a
    pipe like the one a program run by ``run_cli`` would get)."""
    encoding = getattr(like, "encoding", None) or "utf-8"
    errors = getattr(like, "errors", None) or "strict"
    return io.TextIOWrapper(io.BytesIO(data), encoding=encoding, errors=errors, write_through=True)


def _output(stream: io.TextIOWrapper) -> str:
    """What a stream got, as ``subprocess.run(text=True)`` reads a pipe (the locale's encoding,
    universal newlines)."""
    stream.flush()
    data = stream.buffer.getvalue()  # type: ignore[attr-defined]
    text = data.decode(locale.getpreferredencoding(False))
    return text.replace("\r\n", "\n").replace("\r", "\n")


def invoke_cli(*args: str, input: str | None = None) -> subprocess.CompletedProcess:
    """Run the ``crawl`` command to the end in this process (see the module docstring for when
    that is the same as ``run_cli``); return its exit code, stdout and stderr as ``run_cli``
    does. stdin is ``input`` (empty when None), a stream without a file descriptor."""
    from crawler.cli.main import main

    stdin = _stream(sys.__stdin__, (input or "").encode("utf-8"))
    stdout, stderr = _stream(sys.__stdout__), _stream(sys.__stderr__)
    argv = [str(a) for a in args]
    with (
        contextlib.redirect_stdout(stdout),
        contextlib.redirect_stderr(stderr),
        _replaced_stdin(stdin),
    ):
        try:
            main(argv)
            code = 0
        except SystemExit as exc:  # what the interpreter does with it at exit
            if exc.code is None or isinstance(exc.code, int):
                code = exc.code or 0
            else:
                print(exc.code, file=sys.stderr)
                code = 1
        except Exception:  # uncaught: the interpreter prints the traceback, exits 1
            # (not BaseException: a test's timeout or Ctrl-C must still stop the test)
            traceback.print_exc()
            code = 1
    return subprocess.CompletedProcess(
        ["crawl", *argv], code, stdout=_output(stdout), stderr=_output(stderr)
    )


@contextlib.contextmanager
def _replaced_stdin(stream: io.TextIOWrapper) -> Iterator[None]:
    saved, sys.stdin = sys.stdin, stream
    try:
        yield
    finally:
        sys.stdin = saved


def jsonl(text: str) -> list[dict]:
    """The JSON objects of a JSONL text, blank lines skipped."""
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def cli_records(*args: str, **options: Any) -> tuple[int, list[dict], str]:
    """``run_cli`` with warnings as errors; return the exit code, the records on stdout (JSONL)
    and stderr."""
    options.setdefault("warnings_as_errors", True)
    out = run_cli(*args, **options)
    return out.returncode, jsonl(out.stdout), out.stderr


def _python_argv(
    code: str | None,
    script: str | os.PathLike[str] | None,
    module: str | None,
    args: Sequence[str],
    warnings_as_errors: bool,
) -> list[str]:
    if [code, script, module].count(None) != 2:
        raise TypeError("give exactly one of code, script= or module=")
    python = [sys.executable, *(["-W", "error"] if warnings_as_errors else [])]
    if code is not None:
        program = ["-c", code]
    elif script is not None:
        program = [str(script)]
    else:
        program = ["-m", str(module)]
    return [*python, *program, *map(str, args)]


def run_python(
    code: str | None = None,
    *,
    args: Sequence[str] = (),
    script: str | os.PathLike[str] | None = None,
    module: str | None = None,
    cwd: str | os.PathLike[str] = ROOT,
    input: str | None = None,  # subprocess.run's name for it
    timeout: float = TIMEOUT,
    env: dict[str, str] | None = None,
    warnings_as_errors: bool = False,
) -> subprocess.CompletedProcess[str]:
    """Run ``python -c CODE ARGS`` (or ``python SCRIPT ARGS``, ``python -m MODULE ARGS``) to
    the end, output captured."""
    return subprocess.run(
        _python_argv(code, script, module, args, warnings_as_errors),
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env=python_env(env),
    )


def start_python(
    code: str | None = None,
    *,
    args: Sequence[str] = (),
    script: str | os.PathLike[str] | None = None,
    module: str | None = None,
    cwd: str | os.PathLike[str] = ROOT,
    env: dict[str, str] | None = None,
    **popen: Any,
) -> subprocess.Popen:
    """Start ``python -c CODE ARGS`` (or a ``script``, a ``module``) and return at once (see
    ``start_cli``)."""
    argv = _python_argv(code, script, module, args, False)
    return subprocess.Popen(argv, cwd=cwd, env=python_env(env), **popen)
