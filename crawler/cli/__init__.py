"""The ``crawl`` command line: ``app.py`` (the group and exit codes), one module per command
(``run``, ``compare``, ``services``) and ``main.py`` (the entry point that registers them all)."""
