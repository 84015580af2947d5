"""``crawl compare``: the same crawl under several modes, one clean process each (``modes.py``),
and the peak memory of each mode's processes (``pss.py``)."""
