#!/usr/bin/env python3
"""Run the crawler from a checkout: ``python cli.py --mode serial urls.txt``.

A thin launcher; the click app lives in ``crawler/cli/`` (installed as ``crawl``).
"""

from crawler.cli.main import main

if __name__ == "__main__":
    main()
