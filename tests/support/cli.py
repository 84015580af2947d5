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
import signal
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Iterator, Sequence
from typing import Any

from tests.support.paths import ROOT

__all__ = [
    "alive",
    "cli_argv",
    "cli_records",
    "descendants",
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
# Holds the sitecustomize every program run here loads: SIGUSR2 dumps its stacks (_run_to_end).
STACKDUMP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "stackdump")
# Set to a folder, each process writes its stacks to a file of its own there (the sitecustomize).
STACKS_VARIABLE = "CRAWLER_TEST_STACKS"
DUMP_WAIT_S = 2.0  # how long an overrun program's processes get to write their stacks
STDERR_SHOWN = 30_000  # characters of an overrun program's stderr in the failure


def cli_argv(*args: str | bytes, module: bool = False, warnings_as_errors: bool = False) -> list:
    """The command line: ``python [-W error] cli.py ARGS`` (``-m crawler`` when ``module``)."""
    python = [sys.executable, *(["-W", "error"] if warnings_as_errors else [])]
    entry = ["-m", "crawler"] if module else [os.path.join(ROOT, "cli.py")]
    return [*python, *entry, *(a if isinstance(a, bytes) else str(a) for a in args)]


def python_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """``env`` (default: this process's) with the checkout first on PYTHONPATH, so a program
    run from another directory still imports this checkout's ``crawler`` and ``tests``."""
    base = dict(os.environ if env is None else env)
    path = [ROOT, STACKDUMP, base.get("PYTHONPATH")]
    base["PYTHONPATH"] = os.pathsep.join(filter(None, path))
    return base


def descendants(pid: int) -> list[int]:
    """The processes below ``pid`` (children, their children ...), from /proc."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                ppid = int(handle.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        parents.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        children = parents.get(todo.pop(), [])
        found.extend(children)
        todo.extend(children)
    return found


def alive(pid: int) -> bool:
    """True while ``pid`` runs; a zombie (an orphan's, awaiting init's reaping) counts as gone."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _command(pid: int) -> str:
    """A process's command line, shortened (empty once it is gone)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            words = handle.read().decode("utf-8", "replace").split("\0")
    except OSError:
        return ""
    return " ".join(words)[:200]


class Overran(AssertionError):
    """A program run to its end by these helpers did not end within its timeout."""


def _run_to_end(
    argv: list, *, input: Any, timeout: float, text: bool, env: dict[str, str], **popen: Any
) -> subprocess.CompletedProcess:
    """``subprocess.run(argv, capture_output=True)``, except at the timeout: every process of
    the program's tree writes its threads' stacks (SIGUSR2, ``STACKDUMP``), then the tree is
    killed, and ``Overran`` carries its stderr and each process's stacks."""
    stdin = subprocess.PIPE if input is not None else None
    with tempfile.TemporaryDirectory(prefix="stacks-") as folder:
        env = {**env, STACKS_VARIABLE: folder}
        with subprocess.Popen(
            argv,
            stdin=stdin,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=text,
            env=env,
            **popen,
        ) as proc:
            try:
                out, err = proc.communicate(input, timeout=timeout)
            except subprocess.TimeoutExpired:
                tree = [proc.pid, *descendants(proc.pid)]
                described = "; ".join(f"{pid} {_command(pid)}" for pid in tree)
                dump_stacks(tree)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.communicate(timeout=DUMP_WAIT_S)  # reads on while they write
                for pid in tree:
                    with contextlib.suppress(OSError):
                        os.kill(pid, signal.SIGKILL)
                out, err = proc.communicate()
                err = err if isinstance(err, str) else err.decode("utf-8", "replace")
                raise Overran(
                    f"{argv} did not end within {timeout:g} s; its processes: {described}; "
                    f"its stderr:\n{err[-STDERR_SHOWN:]}\n{stacks_in(folder)}"
                ) from None
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def dump_stacks(pids: Sequence[int]) -> None:
    """Ask each process to write its threads' stacks (SIGUSR2, ``STACKDUMP``)."""
    for pid in pids:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGUSR2)


def stacks_in(folder: str | os.PathLike[str]) -> str:
    """The stacks the processes wrote into ``folder`` (``STACKS_VARIABLE``), one process
    after another, each under its pid; the processes that wrote none are left out."""
    parts = []
    for name in sorted(os.listdir(folder), key=lambda n: int(n.split(".")[0])):
        with open(os.path.join(folder, name), errors="replace") as handle:
            text = handle.read()
        if text.strip():
            parts.append(f"--- stacks of process {name.split('.')[0]}:\n{text}")
    return "\n".join(parts) or "(no process wrote its stacks)"


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
    return _run_to_end(
        cli_argv(*args, module=module, warnings_as_errors=warnings_as_errors),
        input=input,
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
    return _run_to_end(
        _python_argv(code, script, module, args, warnings_as_errors),
        input=input,
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
