"""The Redis backend: one crawl shared by many processes and machines. ``backend.RedisBackend``;
its keys and Lua scripts (``state``, ``scripts``) and politeness across machines (``politeness``).
Importing this package does not import ``redis``."""
