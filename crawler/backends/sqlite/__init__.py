"""The ``--state FILE`` backend: the embedded crawl made resumable in a SQLite file.
``backend.SqliteBackend``; the file, its schema and transactions in ``state``; the rows in
flight in ``leases``."""
