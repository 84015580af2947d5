"""``Record.to_json``, the one encoding of a record (JSON Lines files, durable backends, pool
children): the bytes ``json.dumps(record.to_dict(), ensure_ascii=False)`` gives, whichever of
its two encoders writes them (a reused C encoder for records without items, the full one for
records with them)."""

from __future__ import annotations

import json
import random

import pytest

from crawler.record import FIELD_NAMES, Record
from crawler.safetext import writable


def _expected(record: Record) -> bytes:
    try:
        return json.dumps(record.to_dict(), ensure_ascii=False).encode()
    except UnicodeEncodeError:
        return json.dumps(writable(record.to_dict()), ensure_ascii=False).encode()


def _random_text(rng: random.Random) -> str:
    alphabet = 'ab/:?&="\\\n\t\x00\x1f\x7fé€😀\u2028'
    return "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 12)))


def test_a_crawled_page_s_record_is_the_json_of_its_fields():
    record = Record(
        url="http://example.com/a?b=1",
        final_url="http://example.com/a?b=1",
        status=200,
        depth=3,
        parent="http://example.com/",
        content_type="text/html",
        bytes=10_000,
        elapsed_ms=0.8,
        title='Ünïcode “title” \\ "quoted"',
        links=11,
        mode="serial",
        worker="123",
        redirects=["http://example.com/x", "http://example.com/y"],
        attempts=1,
        changed=True,
        digest="sha1:3RILURVWQCJ2MKP5EG6HOR6YAHF64TJC",
    )
    line = record.to_json()
    assert line == _expected(record)
    assert list(json.loads(line)) == list(FIELD_NAMES)


@pytest.mark.parametrize("items", [[], [{"a": 1, "b": [1.5, None, "x"]}]])
def test_records_of_any_values_encode_as_json_dumps_does(items):
    rng = random.Random(20240611)
    for _ in range(300):
        record = Record(
            url=_random_text(rng),
            status=rng.choice([None, 200, 404]),
            error=rng.choice([None, "timeout", _random_text(rng)]),
            elapsed_ms=rng.choice([0.0, 1.25, 1e300, float("inf"), float("nan"), -0.0]),
            title=rng.choice([None, _random_text(rng)]),
            redirects=[_random_text(rng) for _ in range(rng.randrange(3))],
            not_modified=rng.choice([False, True]),
            changed=rng.choice([None, False, True]),
            items=list(items),
        )
        assert record.to_json() == _expected(record)


def test_a_lone_surrogate_is_escaped_with_or_without_items():
    for items in ([], [{"k": "\udc80"}]):
        record = Record(url="http://example.com/", title="bad \udc80 text", items=items)
        line = record.to_json()
        assert line == _expected(record)
        line.decode("utf-8")  # writable UTF-8
