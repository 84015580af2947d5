"""Keeping what was crawled: the WARC archive (``warc.py``), the saved-pages mirror
(``mirror.py``, ``save.py``) and the page data the worker hands them (``payload.py``).

Both sinks run in the one pipeline consumer (``crawler/pipeline.py``), so every mode has exactly
one writer: records from threads, greenlets or pool children reach them in turn.
"""
