"""HTTP: the fetchers (``urllib3_fetcher``, ``requests_fetcher``, chosen by name in ``registry``),
the fetch core they share (``core``: capped reads, the page deadline, error kinds; the headers
in ``request_headers``), content decoding as urllib3 does it (``decoding``), the requests
adapter, the ``--block-private`` address guard (``netguard``) and the polite retry loop (``retry``);
``head`` and ``direct`` spare every request work ``http.client`` and urllib3 would repeat
(reading response headers, parsing the URL and finding its pool).

Nothing here imports the engine, the strategies or the CLI; importing the package imports
nothing."""
