"""A request read for its URLs (``Request.parse_as``, ``--sitemaps``): a sitemap, or robots.txt
for its ``Sitemap:`` lines. Its record counts the URLs it added (``sitemap_urls``); they come
back as depth-0 requests within the crawl's scope."""

from __future__ import annotations

from collections.abc import Callable

from crawler.archive.digest import body_digest
from crawler.archive.payload import payload_for
from crawler.base import Request, Response
from crawler.config import CrawlConfig
from crawler.links.scope import Scope
from crawler.record import Record
from crawler.redirects import REDIRECT_STATUSES
from crawler.sitemaps.follow import follow, robots_sitemaps, summary
from crawler.sitemaps.parse import read_sitemap

Redirect = Callable[[Request, Response, Record], list[Request]]


def robots_sitemap_lines(
    request: Request, record: Record, named_in: Callable[[str], list[str]], scope: Scope
) -> tuple[Record, list[Request]]:
    """robots.txt read for its ``Sitemap:`` lines (``named_in(url)``: the lines of the robots.txt
    of ``url``'s origin, read through the crawl's robots cache); ``/sitemap.xml`` without one."""
    named = named_in(request.url)
    followed = robots_sitemaps(request, named, scope)
    record.sitemap_urls = len(followed.requests)
    record.detail = summary(followed) if named else "no Sitemap line: /sitemap.xml tried"
    return record, followed.requests


def sitemap_page(
    request: Request,
    response: Response,
    record: Record,
    config: CrawlConfig,
    scope: Scope,
    redirect: Redirect,
) -> tuple[Record, list[Request]]:
    """A fetched sitemap: ``record`` (the request's, its attempts set) filled in, and the
    requests for its URLs (``redirect``: the worker's, for a sitemap that moved)."""
    record.final_url, record.status, record.error = request.url, response.status, response.error
    record.detail, record.content_type = response.detail, response.content_type
    record.elapsed_ms = response.elapsed_ms
    record.bytes = len(response.body) or sum(map(len, response.partial))
    if response.body:
        record.digest = body_digest(response.body)
    if config.warc or config.save_dir:  # a sitemap is archived like a page
        record.archive = payload_for(config, response, digest=record.digest)
    if response.error and not response.partial:
        return record, []
    if response.status in REDIRECT_STATUSES and "location" in response.headers:
        return record, redirect(request, response, record)
    if response.status is not None and response.status >= 400:
        record.error, record.detail = "http_error", f"HTTP {response.status}"
        return record, []
    if record.content_type in ("text/html", "application/xhtml+xml"):
        record.error, record.detail = "bad_sitemap", f"served as {record.content_type}"
        return record, []
    cut = bool(response.partial)
    body = response.partial if cut else (response.body,)
    sitemap = read_sitemap(body, config.max_bytes, complete=not cut)
    followed = follow(request, sitemap.entries, scope, config.since_date)
    record.sitemap_urls = len(followed.requests)
    notes = [summary(followed)]
    if sitemap.truncated:
        record.error = "too_large"
        notes.insert(0, f"truncated at {config.max_bytes} bytes: URLs read before kept")
    if sitemap.error:
        record.error = "bad_sitemap"
        notes.insert(0, sitemap.error)
    record.detail = "; ".join(note for note in notes if note) or None
    return record, followed.requests
