"""Page states (``crawler/recrawl.py``) in the ``--state`` file: a ``pages`` table of its own,
beside the frontier's tables, and the reset that starts a re-crawl.

Each worker loop opens its own connection (non-exclusive: the crawl's process already holds
the file's lock), so loops in pool children use it as directly as threads do. A write is one
row in one short transaction; SQLite's busy timeout makes concurrent writers wait their turn.
"""

from __future__ import annotations

import json

from crawler.backends.sqlite.state import SqliteState
from crawler.base import Request
from crawler.errors import BackendError
from crawler.links.urls import fingerprint
from crawler.recrawl import PageState

_SCHEMA = "CREATE TABLE IF NOT EXISTS pages (fp BLOB PRIMARY KEY, data TEXT NOT NULL) WITHOUT ROWID"
# Tables a re-crawl keeps: the page states, and ``meta`` (its scope and the file's lease format;
# other keys go).
_KEPT = frozenset({"pages", "meta", "sqlite_sequence"})


class SqlitePages:
    """The ``pages`` table of one state file, through a connection of this loop's own."""

    def __init__(self, path: str) -> None:
        self.state = SqliteState(path, exclusive=False)
        self.state.db.execute("PRAGMA busy_timeout = 30000")
        with self.state.lock:
            self.state.db.execute(_SCHEMA)

    def empty(self) -> bool:
        """True when the table holds no page."""
        with self.state.lock:
            return self.state.db.execute("SELECT 1 FROM pages LIMIT 1").fetchone() is None

    def get(self, url: str) -> PageState | None:
        """The stored state of ``url``, or None."""
        with self.state.lock:
            row = self.state.db.execute(
                "SELECT data FROM pages WHERE fp = ?", (fingerprint(url),)
            ).fetchone()
        return PageState.from_data(json.loads(row[0])) if row else None

    def put(self, url: str, state: PageState) -> None:
        """Keep ``state`` for ``url``."""
        data = json.dumps(state.to_data(), ensure_ascii=False)
        with self.state.lock:
            self.state.db.execute(
                "INSERT OR REPLACE INTO pages VALUES (?, ?)", (fingerprint(url), data)
            )

    def drop(self, url: str) -> None:
        """Forget ``url``."""
        with self.state.lock:
            self.state.db.execute("DELETE FROM pages WHERE fp = ?", (fingerprint(url),))

    def flush(self) -> None:
        """Nothing waits: every write is made at once."""

    def close(self) -> None:
        """Close this connection."""
        self.state.close()

    def begin_recrawl(self) -> list[Request]:
        """Start the crawl over (a finished one only): empty every table but the page states
        and the scope, and return the stored pages' requests to queue again."""
        with self.state.transaction() as db:
            queued = db.execute("SELECT COUNT(*) FROM queue").fetchone()[0]
            if queued:
                raise BackendError(
                    f"--recrawl: --state {self.state.path!r} holds an unfinished crawl "
                    f"({queued} URLs to go); run it without --recrawl to finish it first"
                )
            tables = [
                name
                for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
                if name not in _KEPT
            ]
            for name in tables:  # whatever tables the frontier keeps: a new crawl has none
                db.execute(f'DELETE FROM "{name}"')
            db.execute("DELETE FROM meta WHERE key NOT IN ('scope', 'leases')")
            rows = db.execute("SELECT data FROM pages").fetchall()
        return [PageState.from_data(json.loads(data)).request for (data,) in rows]
