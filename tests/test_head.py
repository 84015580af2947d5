"""The fast reader of a response's headers (crawler/http/head.py) builds the very message the
email parser builds, for plain heads and odd ones alike."""

from __future__ import annotations

import email.parser
import http.client
import io
import random

import pytest

from crawler.http.head import parse_headers

pytestmark = pytest.mark.timeout(30)

HEADS = [
    b"Content-Type: text/html\r\nContent-Length: 5\r\n\r\n",
    b"\r\n",
    b"",  # the peer closed before the blank line
    b"A: 1\r\n",  # ... after a header
    b"A: 1\n\n",  # LF-only line ends
    b"Set-Cookie: a=1\r\nSet-Cookie: b=2\r\nset-cookie: c=3\r\n\r\n",
    b"Empty:\r\nBlank: \r\nTabbed:\t\t v \r\nTrailing: x  \t\r\n\r\n",
    b"X-Latin: caf\xe9 \xff\r\nX-Colons: a:b::c\r\n\r\n",
    b"Weird!#$%&'*+-.^_`|~Name: v\r\n\r\n",
    # Odd heads: these take the email parser's path, and must come out the same.
    b"Folded: a\r\n b\r\n\tc\r\nNext: d\r\n\r\n",
    b" Leading: space\r\nA: 1\r\n\r\n",
    b"Bare: a\rb\r\nA: 1\r\n\r\n",
    b"No colon here\r\nA: 1\r\n\r\n",
    b": no name\r\nA: 1\r\n\r\n",
    b"From someone\r\nA: 1\r\n\r\n",
    b"Space Name: v\r\nA: 1\r\n\r\n",
    b"Ctl\x01: v\r\n\r\n",
    b"A: 1\r\nB: 2\x0bthree\x85four\r\n\r\n",
]


def email_parse(head: bytes) -> http.client.HTTPMessage:
    """What ``http.client.parse_headers`` does (CPython 3.11)."""
    lines = http.client._read_headers(io.BytesIO(head))
    text = b"".join(lines).decode("iso-8859-1")
    return email.parser.Parser(_class=http.client.HTTPMessage).parsestr(text)


def state(message: http.client.HTTPMessage) -> dict:
    """Everything the message holds (defects by kind: they compare by identity)."""
    kept = {key: value for key, value in vars(message).items() if key != "policy"}
    kept["defects"] = [type(defect) for defect in message.defects]
    return kept


@pytest.mark.parametrize("head", HEADS)
def test_the_message_is_the_email_parser_s(head):
    fast, slow = parse_headers(io.BytesIO(head)), email_parse(head)
    assert type(fast) is http.client.HTTPMessage
    assert state(fast) == state(slow)
    assert fast.items() == slow.items()
    assert fast.get_all("set-cookie") == slow.get_all("set-cookie")


def test_only_the_head_is_read():
    fp = io.BytesIO(b"A: 1\r\nB: 2\r\n\r\nbody bytes")
    assert parse_headers(fp).items() == [("A", "1"), ("B", "2")]
    assert fp.read() == b"body bytes"


def test_http_client_s_limits_still_hold():
    with pytest.raises(http.client.LineTooLong):
        parse_headers(io.BytesIO(b"A: " + b"x" * 70000 + b"\r\n\r\n"))
    with pytest.raises(http.client.HTTPException):
        parse_headers(io.BytesIO(b"A: 1\r\n" * 101 + b"\r\n"))


def test_random_heads_give_the_email_parser_s_message():
    # Lines drawn from the characters that decide which path a head takes and how it splits.
    rng = random.Random(14)
    pieces = [b"A", b"b-C", b":", b" ", b"\t", b"\r", b"\n", b"\r\n", b"v", b"\xe9", b"From "]
    for _ in range(3000):
        lines = [
            b"".join(rng.choice(pieces) for _ in range(rng.randint(0, 6))) + b"\r\n"
            for _ in range(rng.randint(0, 4))
        ]
        head = b"".join(lines) + rng.choice([b"\r\n", b"\n", b""])
        fast, slow = parse_headers(io.BytesIO(head)), email_parse(head)
        assert state(fast) == state(slow), head
