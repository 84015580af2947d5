"""A state file SQLite cannot use must not stay locked by the process that tried it."""

from __future__ import annotations

import pytest

from crawler.backends.sqlite.state import SqliteState
from crawler.errors import BackendError


def test_a_file_sqlite_refuses_leaves_no_lock_behind(tmp_path):
    path = tmp_path / "state.db"
    path.write_bytes(b"this is not a SQLite database, but it is long enough to be read" * 20)
    for _attempt in range(2):
        # The second attempt must fail for the same reason, not as "in use": the first one
        # released its flock (and closed its descriptor).
        with pytest.raises(BackendError, match="cannot use --state") as caught:
            SqliteState(str(path))
        assert "in use" not in str(caught.value)
