"""The one way the tests run the crawler (or any Python) as another process, as a user would.

``run_cli(*args)`` is ``python cli.py ARGS`` from the checkout, waited for, output captured;
``start_cli(*args)`` the same left running (a ``Popen``); ``cli_records(*args)`` runs it and
parses the JSONL records on stdout. ``run_python(code)`` / ``start_python(code)`` run a
``python -c`` program (or a script, a module) with the checkout importable. A test that calls
one of these is marked ``subprocess`` by tests/conftest.py, so ``make test-fast`` leaves it out.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from typing import Any

from tests.support.paths import ROOT

__all__ = [
    "cli_argv",
    "cli_records",
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
