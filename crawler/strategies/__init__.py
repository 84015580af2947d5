"""Strategies by name. Each lives in its own module, imported only when chosen."""

from __future__ import annotations

from importlib import import_module

from crawler.base import Strategy
from crawler.errors import ConfigError

_MODULES = {
    "serial": "crawler.strategies.serial",
}


def get_strategy(mode: str) -> Strategy:
    """The strategy for ``mode`` (``serial``, ``threads`` ...)."""
    try:
        module = _MODULES[mode]
    except KeyError:
        raise ConfigError(
            f"mode {mode!r} is not available; choose one of {', '.join(_MODULES)}"
        ) from None
    return import_module(module).STRATEGY
