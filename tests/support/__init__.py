"""Helpers shared by the tests: servers, crawl runners, scrapers used as callbacks."""
