"""Parse callbacks for the API tests, at module level so that processes mode can import them."""

from __future__ import annotations

import os
import signal

from crawler import Follow, Page

BROKEN = "/page/5.html"  # the page on which ``mixed`` raises


def mixed(page: Page):
    """An item per page (title and headings); asks to follow one deep page from home (a relative
    URL); raises on ``BROKEN`` after yielding nothing."""
    if page.url.endswith(BROKEN):
        raise ValueError(f"cannot scrape {page.url}")
    headings = [h.get_text(strip=True) for h in page.soup.find_all(["h1", "h2"])]
    yield {"url": page.url, "title": page.title, "headings": headings}
    if page.depth == 0:
        yield Follow("page/49.html")


def title_only(page: Page) -> dict:
    """Reads no soup: the BeautifulSoup tree must then never be built."""
    return {"url": page.url, "title": page.title}


def ctrl_c_on_stop(page: Page) -> dict:
    """Presses Ctrl-C (SIGINT to this process) while parsing a page whose URL has ``stop``:
    the interrupt then lands in the greenlet or thread that parses it, deterministically."""
    if "stop" in page.url:
        os.kill(os.getpid(), signal.SIGINT)
    return {"url": page.url}
