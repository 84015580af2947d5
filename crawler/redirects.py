"""A redirect: the request for its target, or why there is none (in the page's record).

A hop is a request of its own at the same depth, so the frontier schedules it politely like
any page; it keeps how the request entered the crawl and how it is read (a sitemap).
"""

from __future__ import annotations

from crawler.base import Request, Response
from crawler.links.scope import Scope
from crawler.links.urls import canonical, host_of, resolve
from crawler.record import Record

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


def follow_redirect(
    request: Request, response: Response, record: Record, scope: Scope, max_redirects: int
) -> list[Request]:
    """The request for a redirect's target, at the same depth: none when the ``Location`` is
    unusable, loops back, goes past ``max_redirects`` or out of ``scope`` (the record's
    ``error`` and ``detail`` say which)."""
    target = resolve(request.url, response.headers["location"])
    if target is None:
        record.error = "bad_redirect"
        record.detail = f"unusable Location: {response.headers['location'][:200]!r}"
        return []
    record.final_url = target
    chain = (*request.chain, request.url)
    if canonical(target) in {canonical(url) for url in chain}:
        record.error, record.detail = "redirect_loop", f"back to {target}"
        return []
    if len(chain) > max_redirects:
        record.error = "too_many_redirects"
        record.detail = f"more than {max_redirects} redirects"
        return []
    seed_host = redirect_scope(scope, request, target)
    if seed_host is None:
        record.error = "offsite_redirect"
        record.detail = f"{target} is outside the crawl scope"
        return []
    # _replace keeps how the request entered the crawl and how it is read (a sitemap).
    return [request._replace(url=target, parent=request.url, seed_host=seed_host, chain=chain)]


def redirect_scope(scope: Scope, request: Request, target: str) -> str | None:
    """The seed host ``target`` is crawled under, or None when it is out of scope.

    A seed (depth 0, or a redirect hop of one) may move from ``www.example.com`` to
    ``example.com`` or any subdomain of it, as wget and browsers users expect
    (``http://x`` -> ``https://www.x`` is in scope already): the crawl's scope moves with it.
    """
    if scope.allows(target, request.seed_host):
        return request.seed_host
    seed = request.seed_host
    if request.depth > 0 or not seed.startswith("www."):
        return None
    site = seed[4:]
    host = host_of(target)
    if (host == site or host.endswith("." + site)) and scope.allows(target, site):
        return site
    return None
