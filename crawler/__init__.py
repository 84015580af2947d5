"""crawler: a concurrent web crawler with one engine and several concurrency strategies.

Importing this package stays light (no HTTP stack), so a gevent crawl can monkey-patch first.
"""

from crawler.version import __version__

__all__ = ["__version__"]
