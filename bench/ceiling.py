"""The fetch-only ceiling: the same URLs fetched as fast as this machine can, with no parsing.

``python -m bench.ceiling URLS_URL --processes P --greenlets G`` downloads the URL list (the
site's ``/urls.txt``), splits it across P processes of G greenlets each (gevent + urllib3, one
connection per greenlet, keep-alive) and prints one JSON line: pages, errors, wall and CPU
seconds. Each process is a fresh interpreter that patches itself first, like the crawler's
processes × greenlets mode. Wall time runs from the first process's start signal to the last
one's finish (CLOCK_MONOTONIC is shared by all processes on Linux).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time


def _part(urls: list[str], greenlets: int) -> dict[str, float]:
    """Fetch ``urls`` on ``greenlets`` greenlets; the process is patched already."""
    import gevent.pool
    import urllib3

    errors = 0
    done = 0
    queue = iter(urls)

    def loop() -> None:
        nonlocal errors, done
        pool = urllib3.PoolManager(maxsize=1, retries=False, timeout=10)
        for url in queue:  # one shared iterator: greenlets take the next URL when free
            try:
                resp = pool.request("GET", url, redirect=False, preload_content=False)
                while resp.read1(65536):
                    pass
                resp.release_conn()
                done += 1
            except Exception:
                errors += 1
        pool.clear()

    started = time.monotonic()
    group = gevent.pool.Pool(greenlets)
    for _ in range(greenlets):
        group.spawn(loop)
    group.join()
    return {"start": started, "end": time.monotonic(), "pages": done, "errors": errors}


def url_list(urls_url: str) -> list[str]:
    """The site's URL list (loopback: never through a proxy from the environment)."""
    import urllib.request

    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(urls_url, timeout=30) as resp:
        return resp.read().decode().split()


def measure(urls_url: str, *, processes: int, greenlets: int) -> dict[str, float]:
    """Run the ceiling in ``processes`` fresh interpreters; their totals, summed."""
    urls = url_list(urls_url)
    cpu0 = os.times()
    children = []
    for i in range(processes):
        cmd = [sys.executable, "-m", "bench.ceiling", "--child", str(greenlets)]
        child = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        child.stdin.write(" ".join(urls[i::processes]) + "\n")
        child.stdin.flush()
        children.append(child)
    # A barrier: every child has imported and patched before any starts fetching.
    for child in children:
        assert child.stdout.readline().strip() == "ready"
    for child in children:
        child.stdin.write("go\n")
        child.stdin.close()
    parts = [json.loads(child.stdout.read()) for child in children]
    for child in children:
        child.wait()
    cpu1 = os.times()
    return {
        "pages": sum(p["pages"] for p in parts),
        "errors": sum(p["errors"] for p in parts),
        "wall_s": max(p["end"] for p in parts) - min(p["start"] for p in parts),
        "cpu_s": (cpu1[2] + cpu1[3]) - (cpu0[2] + cpu0[3]),
    }


def main(argv: list[str]) -> int:
    """``--child G`` (URLs on stdin) or ``URLS_URL [--processes P] [--greenlets G]``."""
    if argv[:1] == ["--child"]:
        from gevent import monkey

        monkey.patch_all()
        import urllib3  # noqa: F401 - imported before the barrier, not timed

        urls = sys.stdin.readline().split()
        print("ready", flush=True)
        sys.stdin.readline()
        print(json.dumps(_part(urls, int(argv[1]))))
        return 0
    import click

    @click.command()
    @click.argument("urls_url")
    @click.option("--processes", type=click.IntRange(min=1), default=os.cpu_count() or 1)
    @click.option("--greenlets", type=click.IntRange(min=1), default=32)
    def cli(urls_url: str, processes: int, greenlets: int) -> None:
        result = measure(urls_url, processes=processes, greenlets=greenlets)
        result["pages_per_s"] = result["pages"] / result["wall_s"]
        print(json.dumps(result))

    cli.main(args=argv, prog_name="python -m bench.ceiling")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
