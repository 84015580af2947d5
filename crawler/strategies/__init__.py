"""Strategies by name. Each lives in its own module, imported only when chosen."""

from __future__ import annotations

from importlib import import_module

from crawler.base import Strategy
from crawler.config import MODES
from crawler.errors import ConfigError


def get_strategy(mode: str) -> Strategy:
    """The strategy for ``mode`` (``serial``, ``threads`` ...), ready to run in this process.

    A strategy may have a ``prepare()`` that readies the process when the mode is chosen (gevent
    patches it, or raises ``ModeUnavailable``); it runs here, before any crawl is set up.
    """
    try:
        module = MODES[mode]
    except KeyError:
        raise ConfigError(
            f"mode {mode!r} is not available; choose one of {', '.join(MODES)}"
        ) from None
    strategy = import_module(module).STRATEGY
    prepare = getattr(strategy, "prepare", None)
    if prepare is not None:
        prepare()
    return strategy
