"""Running user code safely: the parse callback, and loading or vetting it before a crawl.

User code is trusted to be code, not to be correct: whatever a callback raises or yields, the
worker loop goes on and the page still gets its record (``error: "parse_callback"``).
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import os
import pickle
import sys
import traceback
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from crawler.errors import ConfigError, one_line
from crawler.safetext import has_surrogates, writable
from crawler.scrape.page import Follow, Page

ParseCallback = Callable[[Page], Any]


@dataclass(slots=True)
class Scraped:
    """What one callback call produced; ``error`` is a one-line summary when it raised."""

    items: list[dict[str, Any]] = field(default_factory=list)
    follows: list[str] = field(default_factory=list)
    error: str | None = None


def run_callback(parse: ParseCallback, page: Page) -> Scraped:
    """Call ``parse(page)`` and collect what it returns or yields: items (dicts, mappings or
    dataclass instances) and ``Follow`` requests. Never raises an ``Exception``; what was
    produced before an error is kept (as Scrapy keeps items yielded before a failure)."""
    out = Scraped()
    try:
        result = parse(page)
        if result is None:
            return out
        if isinstance(result, (Mapping, Follow)) or _is_dataclass_instance(result):
            _take(out, result)
        elif isinstance(result, (str, bytes)):
            raise TypeError(_wrong_type(result))
        else:
            for produced in result:
                _take(out, produced)
    except Exception as exc:
        out.error = summarize(exc)
    return out


def _is_dataclass_instance(value: object) -> bool:
    return dataclasses.is_dataclass(value) and not isinstance(value, type)


def _wrong_type(value: object) -> str:
    return (
        f"parse produced a {type(value).__name__}; "
        "expected a dict (an item), a dataclass instance or Follow(url)"
    )


def _take(out: Scraped, produced: object) -> None:
    if isinstance(produced, Follow):
        out.follows.append(str(produced.url))
        return
    if _is_dataclass_instance(produced):
        produced = dataclasses.asdict(produced)  # type: ignore[arg-type]
    if not isinstance(produced, Mapping):
        raise TypeError(_wrong_type(produced))
    out.items.append(to_json_data(produced))


def to_json_data(item: Mapping[str, Any]) -> dict[str, Any]:
    """``item`` as plain JSON data (str keys; values JSON cannot hold become ``str(value)``).

    Done in the worker so that every mode yields the same items: a tuple is a list whether or
    not it crossed a process boundary, and nothing unpicklable (a soup ``Tag``) has to cross.
    Lone surrogates (text decoded with ``surrogateescape``) are escaped, so every output can
    write the item as UTF-8.
    """
    text = json.dumps(dict(item), ensure_ascii=False, default=str)
    data = json.loads(text)
    return writable(data) if has_surrogates(text) else data


def summarize(exc: BaseException) -> str:
    """One line: where the error happened (the innermost frame) and what it was."""
    what = one_line(exc)
    # Import machinery frames say nothing to the user; the innermost frame of theirs does.
    frames = traceback.extract_tb(exc.__traceback__)
    frames = [f for f in frames if not f.filename.startswith("<frozen")]
    if not frames:
        return what
    last = frames[-1]
    return f"{last.filename}:{last.lineno} in {last.name}: {what}"


def check_importable(fn: object, option: str = "parse", mode: str = "processes") -> None:
    """Raise a one-line ``ConfigError`` unless ``fn`` can be sent to a worker process.

    Processes receive the callback by reference (module and qualified name), so it must be a
    module-level object that ``importlib`` finds again under the same name. Lambdas, nested
    functions and functions typed into an interactive session (a notebook, ``python -c``) fail
    there with a pickling traceback; this says so before the crawl starts.
    """
    advice = f"{option}= must be defined at module level in an importable module (mode {mode!r})"
    if isinstance(fn, types.FunctionType):
        name, module = fn.__qualname__, fn.__module__
        if "<lambda>" in name:
            raise ConfigError(f"{option}=<lambda> cannot be sent to worker processes: {advice}")
        if "<locals>" in name:
            raise ConfigError(f"{option}={name} is a nested function: {advice}")
        if module == "__main__" and not getattr(sys.modules.get("__main__"), "__file__", None):
            raise ConfigError(f"{option}={name} was defined interactively: {advice}")
        if _lookup(module, name) is not fn:
            raise ConfigError(f"{option}={module}.{name} cannot be imported by name: {advice}")
        return
    try:  # a bound method, a callable object, a functools.partial: it crosses if it pickles
        pickle.dumps(fn)
    except Exception as exc:
        raise ConfigError(f"{option}={fn!r} cannot be pickled ({exc}): {advice}") from None


def _lookup(module: str, qualname: str) -> object:
    try:
        found: object = importlib.import_module(module)
        for part in qualname.split("."):
            found = getattr(found, part)
    except Exception:
        return None
    return found


def load_callable(spec: str, option: str = "--parse") -> Callable[..., Any]:
    """The function named by ``module:function`` (or ``path/to/file.py:function``).

    The current directory is importable; a file path puts its directory on ``sys.path`` and
    imports the file by its name, so that worker processes can import it again. Either
    directory goes at the *end* of ``sys.path``: first, a ``redis.py`` or ``certifi.py`` lying
    there would shadow the real package for the rest of the process. Raises a one-line
    ``ConfigError`` for anything wrong (a file whose name an installed module already has,
    too).
    """
    module_name, sep, attr = spec.rpartition(":")
    if not sep or not module_name or not attr:
        raise ConfigError(f"{option} expects module:function, got {spec!r}")
    if module_name.endswith(".py") or os.sep in module_name:
        directory, filename = os.path.split(os.path.abspath(module_name))
        if not os.path.isfile(os.path.join(directory, filename)):
            raise ConfigError(f"{option}: no such file {module_name!r}")
        _append_path(directory)
        module_name = filename.removesuffix(".py")
        wanted: str | None = os.path.join(directory, filename)
    else:
        _append_path(os.getcwd())
        wanted = None
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name:
            raise ConfigError(f"{option}: no module named {module_name!r}") from None
        raise ConfigError(f"{option}: cannot import {module_name!r}: {summarize(exc)}") from None
    except Exception as exc:
        raise ConfigError(f"{option}: cannot import {module_name!r}: {summarize(exc)}") from None
    here = getattr(module, "__file__", None)
    if wanted is not None and (here is None or not os.path.samefile(here, wanted)):
        raise ConfigError(
            f"{option}: {module_name!r} is already the name of another module ({here}); "
            "rename the file"
        )
    found = _lookup(module.__name__, attr)
    if found is None:
        raise ConfigError(f"{option}: module {module_name!r} has no attribute {attr!r}")
    if not callable(found):
        raise ConfigError(f"{option}: {spec!r} is not callable")
    return found  # type: ignore[return-value]


def _append_path(directory: str) -> None:
    if directory not in sys.path:
        sys.path.append(directory)
