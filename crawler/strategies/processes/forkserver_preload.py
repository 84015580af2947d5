"""Imported by the forkserver alone, as the last of its preloaded modules (``PRELOAD``), never
by a crawl's own process: it blocks SIGINT in the forkserver for good, so that every child it
forks starts with SIGINT blocked, as ``sigint.starting_children`` starts the others. (The
forkserver ignores SIGINT anyway; its children take back Python's handler as they start, and
without the block a Ctrl-C before their initializer raised ``KeyboardInterrupt`` in them.)"""

from crawler.strategies.processes.sigint import block_sigint

block_sigint()
