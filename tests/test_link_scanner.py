"""The C link scanner (``crawler/links/_hrefs.c``) finds what lexbor's tree has.

Every document here goes through both ``extract`` (the scanner, lexbor where it declines) and
``parsed`` (lexbor alone); where the scanner answers, title, base and links (first-seen order,
no repeats) must be the same. The generated documents are built from the pieces where
tokenizers and tree builders differ (tables, templates, raw text, scripts, comments, SVG,
unclosed quotes...), with fixed seeds.
"""

from __future__ import annotations

import os
import random

import pytest

from crawler.links import extract as extract_module
from crawler.links.extract import Extracted, _scanned, extract, parsed
from crawler.links.page import page_links
from crawler.links.refs import unescape
from fixtures.content import build_routes
from tests.test_same_links import BASES, MALFORMED, ORIGIN

built = extract_module.scan is not None
needs_scanner = pytest.mark.skipif(not built, reason="the C scanner is not built here")


def _seen(page: Extracted) -> tuple:
    return page.title, page.base, list(dict.fromkeys(page.links))


def _agree(doc: bytes) -> bool:
    """Whether the scanner answered for ``doc`` (with and without rel=nofollow), asserting
    that its answer is lexbor's."""
    answered = True
    for follow_nofollow in (False, True):
        got = _scanned(doc, follow_nofollow)
        if got is None:
            answered = False
            continue
        assert _seen(got) == _seen(parsed(doc, follow_nofollow=follow_nofollow)), doc
    return answered


def test_the_c_loops_are_built_in_ci():
    from crawler.backends.memory import fingerprints
    from crawler.links import urls

    both = built and fingerprints._insert is not None and urls.join_many is not None
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        assert both, "CI must build the C loops of setup.py (a C compiler and Python headers)"
    elif not both:
        pytest.skip("no C compiler at install: the Python and lexbor paths run instead")


# Documents the scanner must read itself (and the same as lexbor).
ANSWERED = [
    b"<title>A &amp; B</title><base href='/b/'><a href=x.html>x</a>",
    b"<a href='?a=1&copy=2'>legacy name before '='</a><a href='?a=1&copy;=2'>with ';'</a>",
    b"<a href='&copy.'>x</a><a href='&notit;'>x</a><a href='&#x80;&#1;&#0;'>x</a>",
    b"<a href=x.html rel='noopener NOFOLLOW'>x</a><a href=y.html rel=noopener>y</a>",
    b"<a href=>empty unquoted</a><a href= >x</a><a href=''>x</a><a href>x</a>",
    b"<!--> <a href=after-abrupt.html> --><!---> <a href=2.html>",
    b"<!-- a --!> <a href=after-bang.html> <!-- b ---> <a href=c.html>",
    b"<script>if (a<b) x = '<a href=in-js.html>'</script><a href=out.html>",
    b"<script><!-- document.write('<a href=old.html>') //--></script><a href=after.html>",
    b"<script><!--<script></script><a href=in-script.html>--></script><a href=d.html>",
    b"<script><!--<script></script>--><a href=in-script.html></script><a href=d2.html>",
    b"<script><!--<scriptx></script><a href=after-script.html>",
    b"<script>x</SCRIPT ><a href=upper-end.html><script>y</script foo='>'><a href=e.html>",
    b"<style>a[href='<a href=no.html>']{}</style><xmp><a href=no2.html></xmp><a href=f.html>",
    b"<textarea><a href=no.html></textarea><title>t</title><iframe><a href=n></iframe>",
    b"<table><tr><td><a href=cell.html>c</a></td></tr></table><a href=after-table.html>",
    b"<table><caption><a href=cap.html></caption><td><a href=td.html><td><a href=td2.html>",
    b"<template><a href=tpl.html><title>not it</title><base href=/no/></template><a href=g.html>",
    b"<svg viewBox='0 0 1 1'><path d='M0 0'/><g><use href='#i'/></g></svg><a href=h.html>",
    b"<svg><![CDATA[<a href=cdata.html>]]></svg><a href=i.html>",
    b"<svg role=img><title>Logo &amp; co</title><desc>d</desc><path d='M0'/></svg>"
    b"<title>late</title>",
    b"<title>first</title><svg><title>icon</title></svg><svg><title/></svg><a href=k.html>",
    b"<div title='<a href=q.html>'>x</div><a href=j.html title='>'>k</a>",
    b"<a/href=slash.html><a\thref\n=\x0cws.html><A HREF=UP.HTML><a =x href=eq.html>",
    b"<a href='unclosed.html>and the rest of the document",
    b"<p><a href=1.html><p>x</a><a href=2.html>",
    b"<math display=block><semantics><mrow><mi>E</mi><mo>=</mo><msup><mi>c</mi><mn>2</mn>"
    b"</msup></mrow><annotation encoding=tex>E=c^2 &lt; x</annotation></semantics></math>"
    b"<a href=after-math.html>",
    b"<select><option>o<a href=in-select.html></select><select><style><a href=no></style></select>",
    b"<form><select name=v><option value=1>one<option>two</select><textarea>t</textarea></form>",
    b"<a\r\nhref=crlf.html>x</a><title>a\r\nb</title>",
]

# Documents the scanner leaves to lexbor.
DECLINED = [
    b"<a href=nul\x00.html>",
    b"<math><annotation-xml><a href=m.html></a></annotation-xml></math>",
    b"<math><mtext>text <b>and markup</b></mtext></math>",
    b"<math><mglyph/></math>",
    b"<svg><title>tip <b>bold</b></title></svg>",
    b"<svg><foreignObject><a href=f.html></a></foreignObject></svg>",
    b"<svg><a href=svg.html>x</a></svg>",
    b"<svg><style>a{}</style></svg>",
    b"<frameset><a href=f.html>",
    b"<plaintext><a href=p.html>",
    b"<table><a href=foster.html><tr><td>x</table>",
    b"<table><tr><td><a href=1.html><marquee></td></tr></table>",
    b"<template><a href=t.html><marquee></template>",
    b"<template><td><a href=t.html></template>",
    b"<table>" * 70 + b"<a href=deep.html>",
]


@needs_scanner
@pytest.mark.parametrize("doc", ANSWERED)
def test_documents_the_scanner_reads(doc):
    assert _agree(doc)


@needs_scanner
@pytest.mark.parametrize("doc", DECLINED)
def test_documents_the_scanner_leaves_to_lexbor(doc):
    assert _scanned(doc, False) is None
    assert extract(doc) == parsed(doc)  # and extract() is lexbor's answer


@needs_scanner
@pytest.mark.parametrize("doc", MALFORMED)
def test_the_reference_corpus(doc):
    _agree(doc)


@needs_scanner
def test_fixture_and_bench_pages_are_all_read_by_the_scanner():
    routes = {
        **build_routes(ORIGIN, pages=40, links=10, page_bytes=3000),
        **build_routes(ORIGIN, pages=12, links=300, page_bytes=100_000),
    }
    pages = [r.body for r in routes.values() if r.content_type.startswith("text/html")]
    assert len(pages) > 40
    assert all(_agree(body) for body in pages)


TABLE = [
    *("<table>", "</table>", "<tr>", "</tr>", "<td>", "</td>", "<th>", "</th>", "<tbody>"),
    *("<caption>", "</caption>", "</tbody>", "</thead>", "<colgroup>", "<col>", "<tfoot>"),
    *("<a href=%d.html>", "<title>%d</title>", "<base href=/%d/>", "<p>", "</p>", "<b>"),
    *("</b>", "<div>", "</div>", "x", "<template>", "</template>", "<marquee>", "<svg>"),
    *("<select>", "</select>", "<option>"),
]
PIECES = [
    *TABLE,
    *("<a href=x.html>", "<a href='y.html' rel=nofollow>", '<A HREF="Z.html">', "</a>"),
    *("<a href=s.html rel=nofollow>", "<a rel='NOFOLLOW' href=r.html>", "<a href>", "<a"),
    *("<a href=>", "<a href=''>", "<a/href=u.html>", "<a\thref\n=\fw.html>", " href="),
    *("<a href=z.html title='>'>", '<a title="\'" href=k.html>', "<a =x href=eq.html>"),
    *("<a href='unclosed>", "<abbr href=no.html>", "<a href=1.html><a href=2.html>"),
    *('<a href="a&amp;b">', "<a href=?x=1&copy=2>", "<a href=&quot;q&quot;>", "&notit;"),
    *("<title>", "</title>", "</TITLE x='>'>", "<title>T&amp;t</title>", "<base href=/b/>"),
    *("<base>", "<base href>", "<base href='/c/'>", "<!--", "-->", "--!>", "<!-->", "<!--->"),
    *("<!", "<?", "</", ">", "<", "<![CDATA[", "]]>", "<!DOCTYPE html>", "=", "/", "'", '"'),
    *("<script>", "</script>", "<script><!--", "//-->", "<!--<script>", "</script\n>"),
    *("<script>a<!--b<script>c</script>d</script>", "<script>'<a href=js.html>'", "<SCRIPT>"),
    *("<style>", "</style>", "<textarea>", "</textarea>", "<xmp>", "</xmp>", "<iframe>"),
    *("</iframe>", "<noscript>", "</noscript>", "<noembed>", "<noframes>", "</noframes>"),
    *("<template>", "</template>", "<template><a href=tpl.html>", "<svg>", "</svg>", "<svg/>"),
    *("<path d='M0'/>", "<g>", "</g>", "<use href=#i />", "<linearGradient>", "<desc>"),
    *("<svg><title>icon</title></svg>", "<title>t</title>", "<title/>", "<desc>d</desc>"),
    *("<math>", "</math>", "<mi>x</mi>", "<mrow>", "</mrow>", "<mtext>t<b>b</b></mtext>", "<mi/>"),
    *("<annotation encoding=tex>a</annotation>", "<annotation-xml>", "<mtable><mtr><mtd>"),
    *("<math>", "<select>", "</select>", "<option>", "<optgroup>", "<input>", "<frameset>"),
    *("<plaintext>", "<object>", "<marquee>", "<applet>"),
    *("<p>", "</p>", "<div title='<a href=q.html>'>", "<b>", "</b>", "<i>", "<nobr>", "<dd>"),
    *("<html>", "<head>", "</head>", "<body>", "</body>", "</html>", "<form>", "</form>"),
    *("<button>", "<li>", "<ul>", "<h1>", "<pre>", "<option>", "<input type=hidden>", "<hr>"),
    *("text", " ", "\n", "\r\n", "\r", "é", "&amp;", "&#47;", "&#x80;", "<meta charset=utf-8>"),
]


def _document(rng: random.Random, tables: bool) -> bytes:
    if not tables and rng.random() < 0.3:  # tokenizer soup
        return "".join(rng.choice("<>/='\"!- a\n&#;xhrefbsctitl") for _ in range(60)).encode()
    parts = []
    for i in range(rng.randint(1, 40 if tables else 25)):
        piece = rng.choice(TABLE) if tables and rng.random() < 0.8 else rng.choice(PIECES)
        parts.append(piece.replace("%d", str(i)))
    return "".join(parts).encode()


@needs_scanner
@pytest.mark.parametrize("tables", [False, True], ids=["any", "tables"])
def test_generated_documents(tables):
    rng = random.Random(14 + tables)
    answered = sum(_agree(_document(rng, tables)) for _ in range(4000))
    assert answered > 1500  # the scanner declines some, not most


@needs_scanner
def test_page_links_are_the_same_with_and_without_the_scanner(monkeypatch):
    routes = build_routes(ORIGIN, pages=12, links=300, page_bytes=100_000)
    cases = [(ORIGIN + path, r.body, r.content_type) for path, r in routes.items()][:6]
    cases += [(base, doc, "text/html") for doc in ANSWERED + MALFORMED for base in BASES[:3]]
    scanned = [page_links(*case) for case in cases]
    monkeypatch.setattr(extract_module, "scan", None)
    assert [page_links(*case) for case in cases] == scanned


@pytest.mark.parametrize(
    "text, attribute, want",
    [
        ("?a=1&copy=2", True, "?a=1&copy=2"),  # a legacy name before '=' stays in a value
        ("?a=1&copy=2", False, "?a=1©=2"),
        ("&copyx", True, "&copyx"),
        ("&copy.", True, "©."),
        ("&copy;x", True, "©x"),
        ("&notit;", True, "&notit;"),
        ("&notit;", False, "¬it;"),
        ("&amp", True, "&"),
        ("&#47;&#x2F;&#X2f", True, "///"),
        ("&#x80;&#x9D;", True, "€\x9d"),  # windows-1252, and the five it leaves
        ("&#1;&#xFDD0;", True, "\x01\ufdd0"),  # kept, where html.unescape drops them
        ("&#0;&#xD800;&#x110000;", True, "\ufffd" * 3),
        ("&#00000000000065;", True, "A"),
        ("&#" + "9" * 5000 + ";", True, "\ufffd"),
        ("&#x;&#;&unknown;", True, "&#x;&#;&unknown;"),
    ],
)
def test_character_references(text, attribute, want):
    assert unescape(text, attribute=attribute) == want
    if attribute and "\x00" not in want:
        # lexbor decodes them so in an href (the scanner leaves them to unescape)
        assert parsed(f"<a href='{text}'>".encode()).links == [want]
