"""Tests of the crawler, laid out like the package; shared helpers live in ``tests/support``."""
