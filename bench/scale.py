"""The scale benchmark: ``python -m bench.scale`` (a URL list of a million pages, memory backend).

What it measures, for the in-memory crawl state (``crawler/backends/memory``) and the seed list:

- ``state``: N URLs pushed into a fresh frontier and visited set in a child process (as a
  crawl's seeds are: claimed, then queued), N/2 of them popped and done again; reports the
  child's RSS growth and ``tracemalloc``'s count per URL, and the time per URL. No server.
- ``crawl``: one server process (``bench/hosts_site.py``) serves ``--hosts`` loopback hosts
  (127.1.X.Y) of tiny pages at latency 0; ``crawl --mode gevent`` fetches a list of N of their
  URLs (interleaved by host, or ``--order sorted``) at depth 0, records to ``/dev/null``.
  Reported: seconds from the crawl's start to the server's first request (both read
  ``time.monotonic``, one clock for the whole machine), the crawl's peak RSS (``wait4``'s
  ``ru_maxrss``: that child alone), bytes per URL of peak RSS over a baseline crawl of
  ``--baseline`` URLs of the same hosts, pages/s over the whole crawl.
  ``--max-pages`` ends the crawl early (the list is still read), and ``--seconds`` stops it
  (Ctrl-C) after that long: the first-request figure, and the peak while the list is read,
  without a crawl of a million pages (~250 pages/s on a busy 2-core machine).

The targets (issue 16): 1 M listed URLs, first request within 2 s of start; peak RSS <= 300 MB
for the whole crawl (<= ~250 B per URL). Printed next to the figures; the exit code does not
judge them.

Examples::

    python -m bench.scale state --urls 1000000
    python -m bench.scale crawl --urls 200000
    python -m bench.scale crawl --urls 1000000 --max-pages 20000
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

import click

from bench.hosts_site import HostsSite
from fixtures.site import REPO_ROOT

# Pages on each host: /p/1.html ..; each page links to one other (the site needs a link),
# which --depth 0 leaves alone.
PAGE_BYTES = 64
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def url_list(origins: list[str], n: int, order: str) -> list[str]:
    """``n`` distinct page URLs over ``origins``: one per host in turn (``interleaved``) or
    every page of one host, then the next (``sorted``)."""
    per_host = -(-n // len(origins))
    urls = [f"{o}/p/{k}.html" for k in range(1, per_host + 1) for o in origins][:n]
    return sorted(urls) if order == "sorted" else urls


def run_state(code: str, n: int, hosts: int, trace: bool) -> dict[str, float]:
    """``bench/scale_state.py`` in a fresh interpreter on the checkout ``code`` (so the RSS
    figure is the state's alone, and two checkouts are compared in one run)."""
    script = os.path.join(REPO_ROOT, "bench", "scale_state.py")
    env = {**os.environ, "PYTHONPATH": code}
    out = subprocess.run(
        [sys.executable, script, str(n), str(hosts), str(int(trace))],
        cwd=code,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_crawl(
    site: HostsSite,
    code: str,
    path: str,
    extra: list[str],
    workers: int,
    seconds: float | None = None,
) -> dict[str, float]:
    """One ``crawl --mode gevent`` (the checkout ``code``'s) of the list at ``path``:
    first-request delay, peak RSS, rate. ``seconds``: Ctrl-C it then."""
    _get(site, "/__reset")
    cmd = [sys.executable, "-m", "crawler", "run", path, "--mode", "gevent"]
    cmd += ["--workers", str(workers), "--ignore-robots", "--depth", "0", "-q"]
    cmd += ["-o", os.devnull, *extra]
    started = time.monotonic()
    env = {**os.environ, "PYTHONPATH": code}
    child = subprocess.Popen(
        cmd, cwd=code, env=env, stdout=subprocess.DEVNULL, preexec_fn=_default_sigint
    )
    if seconds is not None:
        try:
            child.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            child.send_signal(signal.SIGINT)  # the crawl's Ctrl-C: pages in flight finish
    _pid, status, usage = os.wait4(child.pid, 0)
    wall = time.monotonic() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    log = json.loads(_get(site, "/__log"))
    starts = [t for entry in log.values() for t, _path in entry["starts"]]
    return {
        "exit": child.returncode,
        "pages": len(starts),
        "first_request_s": (min(starts) - started) if starts else float("nan"),
        "peak_rss_mb": usage.ru_maxrss / 1024,  # KiB on Linux
        "wall_s": wall,
        "pages_per_s": len(starts) / wall,
    }


def _default_sigint() -> None:
    # A shell's background job starts with SIGINT ignored, and so would the crawl: --seconds
    # could not stop it.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _get(site: HostsSite, path: str) -> bytes:
    with _OPENER.open(site.url.rstrip("/") + path, timeout=120) as response:
        return response.read()


@click.group()
def main() -> None:
    """The scale benchmark (see the module docstring)."""


CODE = click.option(
    "--code",
    "codes",
    multiple=True,
    type=click.Path(exists=True, file_okay=False),
    help="A checkout whose crawler to measure (repeatable: compared in one run) [this one].",
)


@main.command("state")
@click.option("--urls", default=1_000_000, type=click.IntRange(min=1000), show_default=True)
@click.option("--hosts", default=1000, type=click.IntRange(min=1), show_default=True)
@click.option("--tracemalloc/--no-tracemalloc", "trace", default=False, show_default=True)
@CODE
def state(urls: int, hosts: int, trace: bool, codes: tuple[str, ...]) -> None:
    """Bytes and time per URL of the memory backend's frontier + visited set."""
    for code in codes or (str(REPO_ROOT),):
        figures = run_state(code, urls, hosts, trace)
        traced = figures.get("traced_bytes_per_url")
        click.echo(
            f"state [{code}]: {urls:,} URLs over {hosts:,} hosts: "
            f"{figures['rss_bytes_per_url']:.0f} B/URL RSS"
            + (f", {traced:.0f} B/URL traced" if traced is not None else "")
            + f", push {figures['push_us_per_url']:.1f} us/URL,"
            f" pop+done {figures['pop_us_per_url']:.1f} us/URL"
        )


@main.command("crawl")
@click.option("--urls", default=1_000_000, type=click.IntRange(min=1000), show_default=True)
@click.option("--small", is_flag=True, help="200,000 URLs instead of --urls.")
@click.option("--hosts", default=1000, type=click.IntRange(min=1), show_default=True)
@click.option("--order", default="interleaved", type=click.Choice(["interleaved", "sorted"]))
@click.option("--workers", default=64, type=click.IntRange(min=1), show_default=True)
@click.option("--baseline", default=1000, type=click.IntRange(min=1), show_default=True)
@click.option("--max-pages", default=None, type=click.IntRange(min=1), help="End early.")
@click.option(
    "--seconds", default=None, type=click.FloatRange(min=1), help="Ctrl-C the crawl then."
)
@CODE
def crawl(
    urls: int,
    small: bool,
    hosts: int,
    order: str,
    workers: int,
    baseline: int,
    max_pages: int | None,
    seconds: float | None,
    codes: tuple[str, ...],
) -> None:
    """A gevent crawl of a URL list: first request, peak RSS, bytes per URL, pages/s."""
    n = 200_000 if small else urls
    extra = ["--max-pages", str(max_pages)] if max_pages else []
    per_host = -(-n // hosts)
    with (
        HostsSite(
            hosts=hosts, pages=per_host + 1, latency_ms=0, links=1, page_bytes=PAGE_BYTES
        ) as site,
        tempfile.TemporaryDirectory() as tmp,
    ):
        lists = {}
        for label, count in (("baseline", baseline), ("list", n)):
            lists[label] = os.path.join(tmp, f"{label}.txt")
            with open(lists[label], "w") as handle:
                handle.writelines(u + "\n" for u in url_list(site.hosts, count, order))
        for code in codes or (str(REPO_ROOT),):
            base = run_crawl(site, code, lists["baseline"], [], workers)
            run = run_crawl(site, code, lists["list"], extra, workers, seconds)
            click.echo(f"[{code}] baseline: {json.dumps(base)}")
            click.echo(f"[{code}] list: {json.dumps(run)}")
            per_url = (run["peak_rss_mb"] - base["peak_rss_mb"]) * 1024 * 1024 / n
            click.echo(
                f"crawl [{code}]: {n:,} URLs over {hosts:,} hosts ({order}): first request "
                f"{run['first_request_s']:.2f} s (target <= 2), peak RSS "
                f"{run['peak_rss_mb']:.0f} MB (target <= 300), {per_url:.0f} B/URL over a "
                f"{baseline:,}-URL crawl (target <= 250), {run['pages_per_s']:.0f} pages/s "
                f"({run['pages']:,} pages)"
            )


if __name__ == "__main__":
    main()
