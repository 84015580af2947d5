#!/usr/bin/env python3
"""Run the crawler from a checkout: ``python cli.py --mode serial urls.txt``.

A thin launcher; the click app lives in ``crawler/cli/`` (installed as ``crawl``).
"""

if __name__ == "__main__":
    # Imported here, not at the top: a child of ``--mode processes --greenlets N`` is spawned,
    # and runs this file again (as ``__mp_main__``) before its task; at the top, the import
    # cost each such child click and the whole command line (~60 ms of CPU) for nothing.
    from crawler.cli.main import main

    main()
