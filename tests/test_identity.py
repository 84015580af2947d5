"""Identity: User-Agent, extra headers, a proxy, and cookies kept for the crawl."""

import json

import pytest
from click.testing import CliRunner
from werkzeug import Response

from crawler.cli.main import app
from crawler.config import FETCHERS
from crawler.version import __version__
from tests.support.helpers import by_url, run_crawl


def test_default_user_agent_names_the_project_and_version(httpserver):
    httpserver.expect_request("/").respond_with_data("<title>x</title>", content_type="text/html")
    run_crawl([httpserver.url_for("/")])
    agent = httpserver.log[0][0].headers["User-Agent"]
    assert agent.startswith(f"crawler/{__version__}")


def test_cli_headers_are_sent_and_a_malformed_one_is_a_usage_error(httpserver, tmp_path):
    httpserver.expect_request("/").respond_with_data("<title>x</title>", content_type="text/html")
    out = tmp_path / "out.jsonl"
    args = ["run", "-q", "--ignore-robots", "-o", str(out)]
    result = CliRunner().invoke(
        app,
        [*args, "-H", "X-Token: s3cret: yes", "--header", "User-Agent: mybot/2", "-H", "X-E:"]
        + [httpserver.url_for("/")],
    )
    assert result.exit_code == 0, result.output
    headers = httpserver.log[0][0].headers
    assert headers["X-Token"] == "s3cret: yes" and headers["User-Agent"] == "mybot/2"
    assert headers["X-E"] == ""
    bad = CliRunner().invoke(app, [*args, "-H", "no colon here", httpserver.url_for("/")])
    assert bad.exit_code == 2
    assert bad.output.strip().splitlines() == [
        "crawl: error: -H/--header wants 'Name: value', got 'no colon here'"
    ]


@pytest.mark.parametrize("fetcher", sorted(FETCHERS))
def test_proxy_receives_absolute_form_requests(httpserver, monkeypatch, fetcher):
    # --proxy wins over the environment's proxy (a dead port here).
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:1")
    # pytest-httpserver plays the proxy: requests sends "GET http://host/path" to it, so the
    # crawl never resolves or contacts the (non-existent) origin host itself.
    httpserver.expect_request("/page").respond_with_data(
        "<title>via proxy</title>", content_type="text/html"
    )
    records, _ = run_crawl(
        ["http://origin.invalid/page"], proxy=httpserver.url_for("/"), fetcher=fetcher
    )
    assert records[0].ok and records[0].title == "via proxy"
    request = httpserver.log[0][0]
    assert request.host == "origin.invalid"


def test_bad_proxy_is_a_usage_error():
    result = CliRunner().invoke(app, ["run", "--proxy", "nonsense", "http://127.0.0.1:1/"])
    assert result.exit_code == 2 and "--proxy" in result.output


@pytest.mark.parametrize("fetcher", sorted(FETCHERS))
def test_cookies_set_by_one_page_are_sent_to_the_next(httpserver, fetcher):
    seen: dict[str, str | None] = {}

    def login(request):
        response = Response('<a href="/account">a</a>', content_type="text/html")
        response.set_cookie("session", "abc123", path="/")
        return response

    def account(request):
        seen["cookie"] = request.headers.get("Cookie")
        return Response("<title>mine</title>", content_type="text/html")

    httpserver.expect_request("/login").respond_with_handler(login)
    httpserver.expect_request("/account").respond_with_handler(account)
    records, _ = run_crawl([httpserver.url_for("/login")], depth=1, fetcher=fetcher)
    assert seen["cookie"] == "session=abc123"
    assert by_url(records)[httpserver.url_for("/account")].title == "mine"
    # A new crawl starts with no cookies.
    run_crawl([httpserver.url_for("/account")], fetcher=fetcher)
    assert seen["cookie"] is None


def test_records_carry_attempts_in_json(httpserver, tmp_path):
    httpserver.expect_request("/").respond_with_data("<title>x</title>", content_type="text/html")
    out = tmp_path / "out.jsonl"
    result = CliRunner().invoke(
        app, ["run", "-q", "--ignore-robots", "-o", str(out), httpserver.url_for("/")]
    )
    assert result.exit_code == 0
    assert json.loads(out.read_text())["attempts"] == 1


@pytest.mark.parametrize("fetcher", sorted(FETCHERS))
def test_one_jar_shared_by_loops_on_threads(httpserver, fetcher):
    from http.cookiejar import CookieJar

    from tests.support.politeness_helpers import crawl_on_threads

    sent: dict[str, str | None] = {}

    def login(request):
        links = "".join(f'<a href="/p{i}">p</a>' for i in range(8))
        response = Response(links, content_type="text/html")
        response.set_cookie("session", "xyz", path="/")
        return response

    def page(request):
        sent[request.path] = request.headers.get("Cookie")
        return Response("<title>p</title>", content_type="text/html")

    httpserver.expect_request("/").respond_with_handler(login)
    for i in range(8):
        httpserver.expect_request(f"/p{i}").respond_with_handler(page)
    records = crawl_on_threads(
        [httpserver.url_for("/")],
        loops=4,
        cookies=CookieJar(),
        depth=1,
        robots=False,
        fetcher=fetcher,
    )
    assert len(records) == 9
    assert len({r.worker for r in records}) > 1  # several loops fetched pages
    assert set(sent.values()) == {"session=xyz"}
