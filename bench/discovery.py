"""The discovery-limited bound of a link-following crawl: how fast *any* crawler could crawl the
site from ``/`` with N fetches in flight, if every fetch took the per-request time the fetch-only
ceiling observed and parsing cost nothing.

A fetch-only ceiling knows every URL up front; a crawl must find them: it starts with one page,
and a level of the site can only be fetched once the level above has been parsed. On a tree
such as the fixture site (three children per page) that ramp costs a fixed share of the crawl,
which this computes by an event simulation over the site's own link graph (the same routes the
site serves), breadth-first like the crawler. A crawl that obeys robots.txt (the default, and
the benchmark's) fetches it before anything else: one more round trip up front.
"""

from __future__ import annotations

import heapq

from fixtures.content import build_routes


def discovery_bound(
    *,
    pages: int,
    links: int,
    page_bytes: int,
    per_request_s: float,
    concurrency: int = 64,
    robots: bool = True,
) -> dict[str, float]:
    """Pages and seconds of an ideal breadth-first crawl of the fixture site from ``/``."""
    routes = build_routes("http://127.0.0.1:1", pages=pages, links=links, page_bytes=page_bytes)
    seen, queue = {"/"}, ["/"]
    in_flight: list[tuple[float, str]] = []
    now = per_request_s if robots else 0.0  # robots.txt first: nothing else can start before
    done, next_up = 0, 0
    while next_up < len(queue) or in_flight:
        while next_up < len(queue) and len(in_flight) < concurrency:
            heapq.heappush(in_flight, (now + per_request_s, queue[next_up]))
            next_up += 1
        now, path = heapq.heappop(in_flight)
        done += 1
        route = routes.get(path.split("?", 1)[0])
        if route is None:
            continue
        targets = [route.redirect_to] if route.redirect_to else []
        targets += [link.target for link in route.links if link.target and not link.nofollow]
        for target in targets:
            if target not in seen:
                seen.add(target)
                queue.append(target)
    return {"pages": done, "wall_s": now, "pages_per_s": done / now if now else 0.0}
