"""The --backend password never reaches output: errors, summary, STATS, records, stats file."""

from __future__ import annotations

import pytest
import redis

from crawler.config import CrawlConfig, redact_url
from tests.support.cli import invoke_cli, run_cli

pytestmark = pytest.mark.timeout(60)

SECRET = "s3cretpw"


@pytest.mark.parametrize(
    "url",
    [
        f"redis://:{SECRET}@127.0.0.1:1/0",
        f"redis://someone:{SECRET}@127.0.0.1:1/0",
        f"unix://someone@/nonexistent/redis.sock?db=0&password={SECRET}",
    ],
)
@pytest.mark.parametrize("command", ["run", "results"])
def test_an_unreachable_backend_error_hides_the_password(url, command):
    args = ["--backend", url, "--backend-retry", "0"]
    done = invoke_cli(command, *args, *(["http://127.0.0.1:1/"] if command == "run" else []))
    assert done.returncode == 2, done.stderr
    assert SECRET not in done.stderr + done.stdout
    assert "***" in done.stderr and "Traceback" not in done.stderr


def test_a_malformed_backend_url_error_hides_the_password():
    done = invoke_cli("--backend", f"http://:{SECRET}@127.0.0.1:1/0", "http://127.0.0.1:1/")
    assert done.returncode == 2 and SECRET not in done.stderr and "***" in done.stderr


def test_the_config_repr_hides_the_backend():
    assert SECRET not in repr(CrawlConfig(backend=f"redis://:{SECRET}@127.0.0.1:1/0"))


def test_redact_url_keeps_everything_but_the_password():
    assert redact_url(f"redis://u:{SECRET}@h:1/0") == "redis://u:***@h:1/0"
    assert redact_url("redis://h:1/0") == "redis://h:1/0"
    assert redact_url("redis://u@h:1/0") == "redis://u@h:1/0"


def test_a_crawl_with_a_password_writes_it_nowhere(redis_url, httpserver, tmp_path):
    client = redis.Redis.from_url(redis_url)
    client.acl_setuser(
        "crawler", enabled=True, passwords=[f"+{SECRET}"], keys=["*"], commands=["+@all"]
    )
    url = redis_url.replace("redis://", f"redis://crawler:{SECRET}@")
    httpserver.expect_request("/p").respond_with_data("<title>t</title>", content_type="text/html")
    stats = tmp_path / "stats.json"
    done = run_cli(
        "--backend",
        url,
        "--crawl-id",
        "secrets",
        "--ignore-robots",
        "-v",
        "--health-port",
        "0",
        "--stats-json",
        str(stats),
        "--max-retry-wait",  # the closed port's two retries, without 1.5 s of backoff
        "0.1",
        "-",
        input=httpserver.url_for("/p") + "\nhttp://127.0.0.1:1/\n",
    )
    assert done.returncode == 1, done.stderr  # the closed port is one error record
    assert "crawl finished" in done.stderr
    assert SECRET not in done.stdout + done.stderr + stats.read_text()
    exported = invoke_cli("results", "--backend", url, "--crawl-id", "secrets")
    assert exported.returncode == 0 and SECRET not in exported.stdout + exported.stderr
