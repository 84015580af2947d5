from crawler.links.extract import charset_of, extract


def test_extracts_title_base_and_links_skipping_nofollow():
    body = (
        b"<html><head><title>  Hello \n World </title><base href='/b/'></head><body>"
        b"<a href='1.html'>one</a><a rel='nofollow' href='trap.html'>x</a>"
        b"<a rel='noopener nofollow' href='trap2.html'>x</a><a>no href</a>"
        b"<a rel='noopener' href='2.html'>two</a></body></html>"
    )
    page = extract(body)
    assert page.title == "Hello World"
    assert page.base == "/b/"
    assert page.links == ["1.html", "2.html"]
    assert len(extract(body, follow_nofollow=True).links) == 4


def test_declared_charset_decides_and_bad_bytes_do_not_crash():
    body = "<title>caf\xe9</title>".encode("latin-1")
    assert extract(body, "iso8859-1").title == "caf\xe9"
    assert extract(b"<title>\xff\xfe\x00bad</title><a href=x>").links in ([], ["x"])
    assert extract(b"").title is None
    assert extract(b"   ").links == []


def test_meta_charset_used_when_header_is_silent():
    body = '<html><head><meta charset="windows-1251"><title>Привет</title></head></html>'
    assert extract(body.encode("cp1251")).title == "Привет"


def test_charset_of_header():
    assert charset_of("text/html; charset=UTF-8") == "utf-8"
    assert charset_of('text/html; charset="latin1"') == "iso8859-1"
    assert charset_of("text/html; charset=bogus") is None
    assert charset_of("text/html") is None
    assert charset_of(None) is None


# Where a page's <title> and <base href> can sit: read from <head>'s children when there,
# else found by a walk of the whole tree; either way the document's first, as a walk finds it.
_PLACES = [
    "<title>a</title><base href='/x/'>",
    "<html><head></head><body><title>in body</title><base href='/b/'></body>",
    "<head></head><title>after head</title><base href='/after/'><body>x</body>",
    "<body><p>x</p><title>late</title></body>",
    "<title>one</title><title>two</title><base href='/1/'><base href='/2/'>",
    "<base target='_top'><base href='/second/'><title></title>",
    "<head><base target='x'></head><body><base href='/body/'></body>",
    "<head><template><title>inert</title><base href='/t/'></template></head><p>x</p>",
    "<head><template><title>inert</title></template><title>real</title></head>",
    "<noscript><title>ns</title></noscript><base href='/ns/'>",
    "<body><svg><title>svg title</title></svg><title>html title</title></body>",
    "<TITLE>Upper</TITLE><BASE HREF='/UP/'>",
    "<frameset><frame src='/f'></frameset><title>f</title>",
    "<p>no head content</p>",
    "",
    "<base href>",
    "<base href='  '><title>  spaced\n out  </title>",
    "<title>x</title><body><base href='/late/'></body>",
]


def _by_walk(html: str) -> tuple[str | None, str | None]:
    from selectolax.lexbor import LexborHTMLParser

    tree = LexborHTMLParser(html)
    title = tree.css_first("title")
    base = next((n.attributes for n in tree.tags("base") if "href" in n.attributes), None)
    text = " ".join(title.text(deep=True).split())[:500] or None if title is not None else None
    return text, (base["href"] or "").strip() or None if base is not None else None


def test_title_and_base_are_the_first_in_the_document_wherever_they_sit():
    for html in _PLACES:
        page = extract(html.encode())
        expected = _by_walk(html) if html else (None, None)
        assert (page.title, page.base) == expected, html
