"""Crawler.stop's hook: the engine's backend wrapper closes every frontier a strategy builds."""

import pickle

from crawler.backends.memory.backend import MemoryBackend
from crawler.base import Request
from crawler.config import CrawlConfig
from crawler.stopping import StoppableBackend
from crawler.strategies.serial import SerialSync


def test_stop_closes_built_frontiers_and_any_built_later():
    backend = StoppableBackend(MemoryBackend())
    config = CrawlConfig()
    early = backend.frontier(config, SerialSync())
    early.push_many([Request("http://h/")])
    backend.stop()
    assert early.pop() is None  # closed: nothing more is handed out
    late = backend.frontier(config, SerialSync())
    late.push_many([Request("http://h/")])
    assert late.pop() is None
    assert backend.name == "memory" and backend.shared is False  # the rest passes through


def test_a_wrapped_backend_pickles_as_the_backend_itself():
    backend = StoppableBackend(MemoryBackend())
    backend.frontier(CrawlConfig(), SerialSync())
    assert type(pickle.loads(pickle.dumps(backend))) is MemoryBackend
