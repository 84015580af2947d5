"""Sitemaps as seeds (``--sitemaps``): reading sitemaps, indexes, text lists and feeds."""
