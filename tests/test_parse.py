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
