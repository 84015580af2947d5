"""Seeds and items with bytes UTF-8 cannot hold, and URL files with a byte-order mark: every
record is written, bad input becomes an ``invalid_url`` record showing the escaped bytes."""

from __future__ import annotations

import csv
import json
import os

import pytest
from werkzeug import Response

from crawler.backends.codec import decode_record, encode_record
from crawler.record import Record
from tests.support.cli import run_cli
from tests.support.helpers import run_crawl

pytestmark = pytest.mark.timeout(60)


def locale(env: dict[str, str]) -> dict:
    """``run_cli`` options: bytes out, this environment plus ``env`` (a chosen locale)."""
    return {"text": False, "timeout": 60, "env": {**os.environ, **env}}


def lines(data: bytes) -> list[dict]:
    return [json.loads(line) for line in data.decode("utf-8").splitlines() if line.strip()]


C_LOCALE = {"LC_ALL": "C", "LANG": "C", "PYTHONUTF8": "0", "PYTHONCOERCECLOCALE": "0"}
STRICT_UTF8 = {"PYTHONIOENCODING": "utf-8:strict", "PYTHONUTF8": "0"}


@pytest.mark.parametrize("env", [C_LOCALE, STRICT_UTF8], ids=["C-locale", "strict-utf8"])
def test_an_undecodable_argv_seed_is_an_invalid_url_record(env, tmp_path):
    out_file = tmp_path / "out.jsonl"
    done = run_cli(b"http://127.0.0.1:1/caf\xff", "-o", str(out_file), "-q", **locale(env))
    assert b"Traceback" not in done.stderr, done.stderr.decode(errors="replace")
    assert done.returncode == 1
    (record,) = lines(out_file.read_bytes())
    assert record["error"] == "invalid_url"
    assert record["url"] == "http://127.0.0.1:1/caf\\xff"


@pytest.mark.parametrize("env", [C_LOCALE, STRICT_UTF8], ids=["C-locale", "strict-utf8"])
def test_undecodable_bytes_on_stdin_are_an_invalid_url_record(env, httpserver):
    httpserver.expect_request("/ok").respond_with_data(
        "<title>ok</title>", content_type="text/html"
    )
    stdin = b"http://127.0.0.1:1/\xff\xfe\n" + httpserver.url_for("/ok").encode() + b"\n"
    done = run_cli("--ignore-robots", "-q", "-", input=stdin, **locale(env))
    assert b"Traceback" not in done.stderr, done.stderr.decode(errors="replace")
    got = lines(done.stdout)
    assert [r["error"] for r in got] == ["invalid_url", None]
    assert got[0]["url"] == "http://127.0.0.1:1/\\xff\\xfe"
    assert got[0]["detail"].startswith("stdin:1: not a text URL")


@pytest.mark.parametrize("via", ["file", "stdin"])
def test_a_byte_order_mark_before_the_first_url_is_dropped(via, httpserver, tmp_path):
    httpserver.expect_request("/first").respond_with_data(
        "<title>1</title>", content_type="text/html"
    )
    data = b"\xef\xbb\xbf" + httpserver.url_for("/first").encode() + b"\r\n"
    urls = tmp_path / "urls.txt"
    urls.write_bytes(data)
    args = ["--ignore-robots", "-q", str(urls) if via == "file" else "-"]
    done = run_cli(*args, input=data if via == "stdin" else None, **locale({}))
    (record,) = lines(done.stdout)
    assert record["error"] is None and record["status"] == 200, record
    assert done.returncode == 0


def scrape_surrogates(page):
    """A callback whose item holds text decoded with surrogateescape, in a key and a value."""
    yield {"name": b"caf\xe9".decode("utf-8", "surrogateescape"), "k\udcff": "\ud800x"}


@pytest.mark.parametrize(
    "mode", ["serial", pytest.param("processes", marks=pytest.mark.subprocess)]
)
def test_items_and_records_with_lone_surrogates_reach_every_output(mode, httpserver, tmp_path):
    httpserver.expect_request("/p").respond_with_response(
        Response("<title>t</title>", content_type="text/html")
    )
    items_csv, records_csv = tmp_path / "items.csv", tmp_path / "records.csv"
    records, stats = run_crawl(
        [httpserver.url_for("/p"), b"http://x/\xff".decode("utf-8", "surrogateescape")],
        parse=scrape_surrogates,
        items_output=str(items_csv),
        output=str(records_csv),
        state=str(tmp_path / "state.db"),  # the SQLite backend stores every record too
        mode=mode,
        workers=2,
    )
    assert stats.pages == 2
    (page,) = [r for r in records if r.error is None]
    assert page.items == [{"name": "caf\\xe9", "k\\xff": "\\ud800x"}]
    rows = list(csv.reader(items_csv.open(encoding="utf-8")))
    assert rows == [["name", "k\\xff"], ["caf\\xe9", "\\ud800x"]]
    urls = [row["url"] for row in csv.DictReader(records_csv.open(encoding="utf-8"))]
    assert "http://x/\\xff" in urls


def test_the_durable_backends_codec_and_the_json_sink_take_any_record(tmp_path):
    record = Record(url="http://x/", title="bad \udcff title", detail="\ud800")
    stored = decode_record(encode_record(record))
    assert stored.title == "bad \\xff title" and stored.detail == "\\ud800"
    from crawler.sinks import CsvSink, JsonLinesSink

    for sink in (JsonLinesSink(str(tmp_path / "r.jsonl")), CsvSink(str(tmp_path / "r.csv"))):
        sink.write(record)
        sink.close()
    (line,) = (tmp_path / "r.jsonl").read_text(encoding="utf-8").splitlines()
    assert json.loads(line)["title"] == "bad \\xff title"
