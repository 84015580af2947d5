"""The dates a sitemap carries: W3C datetimes (``lastmod``, Atom) and RFC 822 dates (RSS).

Every date is returned aware (UTC when the text names no zone), so any two compare.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

# W3C datetime allows a bare year or year-month, which ``fromisoformat`` refuses.
_PARTIAL = re.compile(r"(\d{4})(?:-(\d{2}))?")


def parse_date(text: str | None) -> datetime | None:
    """The aware datetime ``text`` names (``2024``, ``2024-05``, ``2024-05-01``,
    ``2024-05-01T10:00:00Z``, ``Wed, 01 May 2024 10:00:00 GMT``); None if unreadable."""
    if not text:
        return None
    text = text.strip()
    when: datetime | None = None
    if match := _PARTIAL.fullmatch(text):
        year, month = match.groups()
        try:
            when = datetime(int(year), int(month or 1), 1)
        except ValueError:
            return None
    else:
        try:
            when = datetime.fromisoformat(text)
        except ValueError:
            try:
                when = parsedate_to_datetime(text)
            except (TypeError, ValueError, IndexError):
                return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)
