"""The Redis backend: one crawl shared by many processes and machines. ``backend.RedisBackend``
(with its record sink), the shared queue (``frontier``), the visited-set filter (``visited``),
the leases a process holds and their heartbeat (``leases``), popped items that fail their checks
(``rejected``), records and page states waiting for a ``POP`` (``outbox``), its keys and Lua
scripts (``state``, ``scripts``, ``items``), politeness across machines (``politeness``) and
page states (``pages``). Importing this package does not import ``redis``."""
