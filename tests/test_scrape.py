"""Parse callbacks: what a Page offers, what a callback may return, Follow rules, errors."""

import dataclasses
import datetime
import functools
import sys
import threading

import pytest
from werkzeug import Response

from crawler import ConfigError, CrawlConfig, Follow, Page
from crawler.scrape.callbacks import check_importable, load_callable, run_callback
from tests.support.cli import run_python
from tests.support.helpers import by_url, run_crawl
from tests.support.paths import ROOT, SUPPORT


def html(body: str, title: str = "T", content_type="text/html; charset=utf-8") -> Response:
    return Response(
        f"<html><head><title>{title}</title></head><body>{body}</body></html>",
        content_type=content_type,
    )


def module_level(page):
    return {"url": page.url}


class Callable:
    def __call__(self, page):
        return None


@dataclasses.dataclass
class Product:
    name: str
    price: float


def test_page_offers_url_headers_text_soup_links_and_depth(httpserver):
    httpserver.expect_request("/").respond_with_response(
        html('<h1>Caf\xe9</h1><a href="/a">a</a><a href="mailto:x@y">m</a><a href="/a#x">a</a>')
    )
    seen = []
    records, _ = run_crawl([httpserver.url_for("/")], parse=seen.append)
    (page,) = seen
    assert isinstance(page, Page) and page.url == httpserver.url_for("/")
    assert (page.status, page.depth, page.parent, page.title) == (200, 0, None, "T")
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert page.content_type == "text/html" and page.encoding == "utf-8"
    assert "<h1>Caf\xe9</h1>" in page.text
    assert page.soup.h1.get_text() == "Caf\xe9"
    assert page.links == [httpserver.url_for("/a")]
    assert page.urljoin("b?x=1#f") == httpserver.url_for("/b?x=1")
    assert page.urljoin("javascript:void(0)") is None
    assert records[0].items == [] and records[0].error is None


def test_items_from_return_values_of_every_supported_shape():
    page = Page(url="http://h/", status=200, headers={}, body=b"")
    assert run_callback(lambda p: None, page).items == []
    assert run_callback(lambda p: {"a": 1}, page).items == [{"a": 1}]
    assert run_callback(lambda p: [{"a": 1}, Follow("/x")], page).follows == ["/x"]
    assert run_callback(lambda p: Product("pen", 1.5), page).items == [
        {"name": "pen", "price": 1.5}
    ]
    assert run_callback(lambda p: iter([Follow("/y")]), page).follows == ["/y"]
    when = datetime.date(2024, 1, 2)
    # Items become plain JSON data in the worker, the same in every mode.
    assert run_callback(lambda p: {"t": (1, 2), "d": when, 3: "k"}, page).items == [
        {"t": [1, 2], "d": "2024-01-02", "3": "k"}
    ]


def test_wrong_shapes_and_exceptions_are_summarised_in_one_line():
    page = Page(url="http://h/", status=200, headers={}, body=b"")
    wrong = run_callback(lambda p: "text", page)
    assert wrong.error.endswith(
        "TypeError: parse produced a str; expected a dict (an item), "
        "a dataclass instance or Follow(url)"
    )
    assert run_callback(lambda p: [{"a": 1}, 42], page).error.endswith(
        "produced a int; " + ("expected a dict (an item), a dataclass instance or Follow(url)")
    )

    def partial(p):
        yield {"n": 1}
        yield Follow("/kept")
        raise KeyError("boom")

    out = run_callback(partial, page)
    assert out.items == [{"n": 1}] and out.follows == ["/kept"]
    assert out.error.startswith(f"{__file__}:") and out.error.endswith(
        "in partial: KeyError: 'boom'"
    )
    assert "\n" not in out.error


def test_a_raising_callback_gives_parse_callback_records_and_the_crawl_goes_on(httpserver):
    httpserver.expect_request("/").respond_with_response(
        html('<a href="/bad">b</a><a href="/ok">o</a>')
    )
    httpserver.expect_request("/bad").respond_with_response(html('<a href="/deep">d</a>', "Bad"))
    httpserver.expect_request("/ok").respond_with_response(html("", "Ok"))
    httpserver.expect_request("/deep").respond_with_response(html("", "Deep"))

    def parse(page):
        yield {"title": page.title}
        if page.title == "Bad":
            raise ZeroDivisionError("division by zero")

    records, stats = run_crawl([httpserver.url_for("/")], depth=2, parse=parse)
    table = by_url(records)
    bad = table[httpserver.url_for("/bad")]
    assert bad.error == "parse_callback" and bad.status == 200
    assert bad.detail.endswith("in parse: ZeroDivisionError: division by zero")
    assert bad.items == [{"title": "Bad"}]  # produced before the error: kept
    # Its links were still followed, and every other page scraped normally.
    assert table[httpserver.url_for("/deep")].items == [{"title": "Deep"}]
    assert stats.pages == 4 and stats.errors == {"parse_callback": 1} and stats.items == 4


def test_follow_goes_through_normal_form_scope_visited_and_depth(httpserver):
    other = httpserver.url_for("/elsewhere")  # host "localhost": out of the seed's scope
    httpserver.expect_request("/").respond_with_response(html('<a href="/linked">l</a>'))
    for path in ("/linked", "/extra", "/deeper"):
        httpserver.expect_request(path).respond_with_response(html("", path))
    seed = httpserver.url_for("/").replace("localhost", "127.0.0.1")

    def parse(page):
        if page.depth == 0:
            yield Follow("extra#frag")  # relative, with a fragment
            yield Follow("/linked")  # also a link on the page: fetched once
            yield Follow(other)
            yield Follow("mailto:someone@example.invalid")
        else:
            yield Follow("/deeper")

    records, _ = run_crawl([seed], depth=1, parse=parse)
    table = by_url(records)
    assert set(table) == {seed, seed + "linked", seed + "extra"}
    assert table[seed + "extra"].depth == 1 and table[seed + "extra"].parent == seed
    assert sorted(req.path for req, _ in httpserver.log) == ["/", "/extra", "/linked"]
    # depth 0 follows nothing, like links (Scrapy's DEPTH_LIMIT applies to callback requests).
    records, _ = run_crawl([seed], depth=0, parse=parse)
    assert [r.url for r in records] == [seed]
    records, _ = run_crawl([seed], depth=2, parse=parse)
    assert table[seed + "extra"].depth == 1 and seed + "deeper" in by_url(records)


def test_callback_sees_only_html_pages_fetched_without_error(httpserver):
    httpserver.expect_request("/").respond_with_response(
        html('<a href="/f.pdf">f</a><a href="/gone">g</a><a href="/r">r</a>')
    )
    httpserver.expect_request("/f.pdf").respond_with_data(b"%PDF", content_type="application/pdf")
    httpserver.expect_request("/gone").respond_with_data("no", status=404)
    httpserver.expect_request("/r").respond_with_response(
        Response(status=302, headers={"Location": "/"})
    )
    seen = []
    run_crawl([httpserver.url_for("/")], depth=1, parse=lambda page: seen.append(page.url))
    assert seen == [httpserver.url_for("/")]


def test_soup_is_built_only_when_the_callback_reads_it(site):
    code = (
        "import sys\n"
        f"sys.path[:0] = [{ROOT!r}, {SUPPORT!r}]\n"
        "import crawler, scrapers\n"
        f"items = list(crawler.crawl({site.url!r}, depth=1, parse=scrapers.title_only).items())\n"
        "assert len(items) > 5 and items[0]['title'] == 'Home', items\n"
        "print('bs4' in sys.modules)\n"
    )
    out = run_python(code, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_processes_mode_refuses_what_cannot_be_imported_by_name():
    def nested(page):
        return None

    cases = [
        (lambda page: None, "parse=<lambda> cannot be sent to worker processes"),
        (nested, "is a nested function"),
        (functools.partial(print, end=""), None),  # a partial of a builtin pickles: accepted
        (module_level, None),
        (Callable(), None),
        (Callable().__call__, None),  # a bound method pickles by reference
        (functools.partial(lambda page: None), "cannot be pickled"),
    ]
    for fn, message in cases:
        if message is None:
            CrawlConfig(mode="processes", parse=fn)
            continue
        with pytest.raises(ConfigError, match=message) as info:
            CrawlConfig(mode="processes", parse=fn)
        assert "\n" not in str(info.value) and "module level" in str(info.value)
        CrawlConfig(mode="serial", parse=fn)  # in-process modes take any callable
    with pytest.raises(ConfigError, match="cannot be pickled"):
        check_importable(functools.partial(module_level, threading.Lock()))


def test_functions_typed_into_an_interactive_session_are_refused():
    code = (
        f"import sys; sys.path.insert(0, {ROOT!r})\n"
        "from crawler import CrawlConfig, ConfigError\n"
        "def parse(page): return None\n"
        "try:\n"
        "    CrawlConfig(mode='processes', parse=parse)\n"
        "except ConfigError as exc:\n"
        "    print(exc)\n"
    )
    out = run_python(code, timeout=60)
    assert out.stdout.strip().startswith("parse=parse was defined interactively"), out


def test_load_callable_by_module_or_file(tmp_path, monkeypatch):
    (tmp_path / "my_scraper.py").write_text("def parse(page):\n    return None\nVALUE = 1\n")
    (tmp_path / "broken_scraper.py").write_text("import nowhere_to_be_found\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    assert load_callable("my_scraper:parse").__name__ == "parse"
    assert load_callable(str(tmp_path / "my_scraper.py") + ":parse").__module__ == "my_scraper"
    for spec, message in [
        ("my_scraper", "expects module:function"),
        ("no_such_module_here:parse", "no module named 'no_such_module_here'"),
        ("my_scraper:missing", "has no attribute 'missing'"),
        ("my_scraper:VALUE", "is not callable"),
        ("./nope.py:parse", "no such file"),
        ("broken_scraper:parse", "No module named 'nowhere_to_be_found'"),
    ]:
        with pytest.raises(ConfigError, match=message):
            load_callable(spec)
