"""The Redis backend at scale: ``python -m bench.redis_scale [memory|crawl|all]``.

``memory``: queue ``--urls`` URLs (1 M by default, over ``--hosts`` hosts, each with a parent
page on its own host, as links found on a page are) through the backend's own ``push_many``,
which marks each one seen too, and print Redis's ``used_memory`` growth per URL, with the key
layout (bytes per group of keys, from ``MEMORY USAGE``).

``crawl``: the fixture site (``--pages`` pages at ``--latency-ms``) crawled from / by one
``gevent`` worker of ``--loops`` loops in memory and on Redis, then by 1, 2 and 4 such workers
sharing one Redis crawl (started together, each ``crawl run --backend ...``), plus the
fetch-only ceiling (``bench/ceiling.py``) with as many connections as the 4 workers' loops.
Printed: pages/s and the ratios the targets are written in (measured in this run), and the
commands Redis ran per page (``INFO commandstats``: script calls and plain commands, i.e.
round trips, apart from the commands the scripts ran inside).

Each run starts its own ``redis-server`` on a free loopback port (no persistence).
"""

from __future__ import annotations

import json
import os
import re
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid

import click

from bench.ceiling import measure as measure_ceiling
from bench.run import process_cpu
from crawler.compare.modes import ModeSpec, run_mode
from fixtures.site import SiteProcess


class Redis:
    """A throwaway ``redis-server`` on a free loopback port."""

    def __enter__(self) -> Redis:
        import redis

        exe = shutil.which("redis-server")
        if exe is None:
            raise click.ClickException("redis-server is not installed")
        self._dir = tempfile.TemporaryDirectory(prefix="bench-redis-")
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        cmd = [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly"]
        cmd += ["no", "--dir", self._dir.name]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.url = f"redis://127.0.0.1:{port}/0"
        self.client = redis.Redis(host="127.0.0.1", port=port)
        deadline = time.monotonic() + 10
        while True:
            try:
                self.client.ping()
                return self
            except redis.ConnectionError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise click.ClickException("redis-server did not start") from None
                time.sleep(0.05)

    def __exit__(self, *exc: object) -> None:
        self.client.close()
        self.proc.terminate()
        self.proc.wait(10)
        self._dir.cleanup()

    def used(self) -> int:
        """``used_memory`` in bytes."""
        return int(self.client.info("memory")["used_memory"])

    def calls(self) -> dict[str, int]:
        """Calls per command so far (``INFO commandstats``)."""
        stats = self.client.info("commandstats")
        return {name.removeprefix("cmdstat_"): int(v["calls"]) for name, v in stats.items()}


# --- memory -------------------------------------------------------------------------------


def requests_for(n: int, hosts: int):
    """``n`` links over ``hosts`` hosts, each found on a page of its own host."""
    from crawler.base import Request

    for i in range(n):
        host = f"www.shop{i % hosts:04d}.example"
        url = f"https://{host}/catalog/item-{i:07d}.html"
        parent = f"https://{host}/catalog/page-{i // 20:06d}.html"
        yield Request(url, 2, parent, host)


def key_groups(server: Redis, prefix: bytes) -> dict[str, tuple[int, int]]:
    """Bytes and key count per group of the crawl's keys (per-host and per-shard keys
    grouped by the part of their name before the host or shard)."""
    groups: dict[str, list[int]] = {}
    for key in server.client.scan_iter(match=prefix + b"*", count=1000):
        rest = key[len(prefix) :]
        name = rest.split(b":", 1)[0] if b":" in rest else rest
        if len(name) > 12 or not name.isascii():  # a shard key: its name is binary
            name = name[:1]
        size = int(server.client.memory_usage(key, samples=0) or 0)
        group = groups.setdefault(name.decode("ascii", "replace"), [0, 0])
        group[0] += size
        group[1] += 1
    return {name: (size, count) for name, (size, count) in sorted(groups.items())}


def measure_memory(n: int, hosts: int) -> dict:
    """Push ``n`` URLs through ``RedisBackend``'s frontier; bytes of Redis per URL."""
    from crawler.backends.redis.backend import RedisBackend
    from crawler.config import CrawlConfig
    from crawler.strategies.inprocess import ThreadingSync

    with Redis() as server:
        crawl_id = "m"
        config = CrawlConfig(backend=server.url, crawl_id=crawl_id, depth=5)
        backend = RedisBackend(config)
        frontier = backend.frontier(config, ThreadingSync())
        visited = backend.visited(config, ThreadingSync())
        before = server.used()
        started = time.monotonic()
        batch, url_chars = [], 0
        for request in requests_for(n, hosts):
            batch.append(request)
            url_chars += len(request.url)
            if len(batch) == 10_000:
                frontier.push_many(batch)
                batch = []
        frontier.push_many(batch)
        took = time.monotonic() - started
        after = server.used()
        queued = frontier.snapshot()["queued"]
        seen = len(visited)
        groups = key_groups(server, f"crawl:{{{crawl_id}}}:".encode())
        backend.close()
    return {
        "urls": n,
        "hosts": hosts,
        "queued": queued,
        "seen": seen,
        "mean_url_chars": url_chars / n,
        "bytes_per_url": (after - before) / n,
        "push_s": took,
        "groups": groups,
    }


# --- crawls -------------------------------------------------------------------------------


def script_commands() -> set[str]:
    """The commands the backend's Lua scripts run inside (counted apart from round trips)."""
    from crawler.backends.redis import scripts

    source = "\n".join(v for v in vars(scripts).values() if isinstance(v, str))
    return {name.lower() for name in re.findall(r"redis\.call\('(\w+)'", source)}


def round_trips(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    """Commands sent by clients (script calls and plain commands) between two readings."""
    inside = script_commands()
    sent = {}
    for name, calls in after.items():
        delta = calls - before.get(name, 0)
        if name.startswith(("info", "config")) or delta <= 0:
            continue
        if name in ("evalsha", "eval") or name not in inside:
            sent[name] = delta
    return sent


def startup_cpu(server: Redis, site_url: str, loops: int, crawl_id: str) -> float:
    """CPU seconds of a worker that starts, joins a finished crawl and exits: what each
    worker costs whatever it crawls (the interpreter, imports, connections)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    cmd = [sys.executable, "-m", "crawler", "run", "--mode", "gevent", "--workers", str(loops)]
    cmd += ["--depth", "1000", "--backend", server.url, "--crawl-id", crawl_id, "-q"]
    subprocess.run([*cmd, "-o", os.devnull, site_url], check=False, capture_output=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


def crawl_workers(
    server: Redis, site_url: str, workers: int, loops: int, tmp: str
) -> dict[str, float]:
    """``workers`` gevent workers started together on one Redis crawl; the group's figures."""
    crawl_id = uuid.uuid4().hex[:8]
    before = server.calls()
    cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    redis_cpu = process_cpu(server.proc.pid)
    procs = []
    for i in range(workers):
        stats_path = os.path.join(tmp, f"{crawl_id}-{i}.json")
        cmd = [sys.executable, "-m", "crawler", "run", "--mode", "gevent", "--workers"]
        cmd += [str(loops), "--depth", "1000", "--backend", server.url, "--crawl-id", crawl_id]
        cmd += ["-q", "-o", os.devnull, "--stats-json", stats_path, site_url]
        procs.append((subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True), stats_path))
    # The crawl's own span, read from Redis (not the processes' start-up and exit): from its
    # first scheduled URL to its last record.
    stats = f"crawl:{{{crawl_id}}}:stats"
    first = last = None
    recorded = polls = 0
    while any(proc.poll() is None for proc, _ in procs):
        polls += 1
        scheduled, done = server.client.hmget(stats, "scheduled", "recorded")
        now = time.monotonic()
        if first is None and scheduled is not None:
            first = now
        if done is not None and int(done) > recorded:
            recorded, last = int(done), now
        time.sleep(0.005)
    pages = 0
    for proc, stats_path in procs:
        if proc.returncode not in (0, 1):  # 1: some pages failed (the site has broken links)
            raise click.ClickException(f"a worker failed: {proc.stderr.read()[-500:]}")
        with open(stats_path, encoding="utf-8") as f:
            pages += json.load(f)["pages"]
    if first is None or last is None:
        raise click.ClickException("the crawl recorded nothing")
    wall = last - first
    sent = round_trips(before, server.calls())
    sent["hmget"] = sent.get("hmget", 0) - polls  # this monitor's, not the workers'
    if sent["hmget"] <= 0:
        del sent["hmget"]
    cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (cpu_after.ru_utime + cpu_after.ru_stime) - (cpu_before.ru_utime + cpu_before.ru_stime)
    return {
        "crawl_id": crawl_id,
        "workers": workers,
        "pages": pages,
        "cpu_ms_per_page": cpu * 1000 / pages,
        "redis_cpu_ms_per_page": (process_cpu(server.proc.pid) - redis_cpu) * 1000 / pages,
        "wall_s": wall,
        "pages_per_s": pages / wall,
        "sent_per_page": sum(sent.values()) / pages,
        "sent": sent,
    }


def measure_crawls(
    pages: int, latency_ms: float, loops: int, counts: list[int], repeat: int
) -> dict:
    """Memory vs Redis for one worker, then ``counts`` workers on one Redis, same site; each
    figure the best of ``repeat`` rounds (other work on the machine only slows a run down),
    the rounds interleaved so that a busy spell hits every configuration alike."""
    spec = ModeSpec("gevent", loops)
    args = ["--depth", "1000"]
    memory: list = []
    one: list = []
    groups: dict[int, list] = {n: [] for n in counts}
    startup: list[float] = []
    with (
        SiteProcess(pages=pages, latency_ms=latency_ms, startup_timeout=120) as site,
        Redis() as server,
        tempfile.TemporaryDirectory() as tmp,
    ):
        ceiling = measure_ceiling(
            site.url + "urls.txt", processes=os.cpu_count() or 1, greenlets=loops * max(counts)
        )
        ceiling["pages_per_s"] = ceiling["pages"] / ceiling["wall_s"]
        print(f"  ceiling: {ceiling['pages_per_s']:.0f} pages/s", file=sys.stderr)
        for _ in range(repeat):
            result = run_mode(spec, site.url, args)
            memory.append(
                {
                    "pages": result.pages,
                    "pages_per_s": result.pages_per_s,
                    "cpu_ms_per_page": result.cpu_ms_per_page,
                }
            )
            print(f"  memory: {result.pages_per_s:.0f} pages/s", file=sys.stderr)
            before = server.calls()
            crawl_id = ["--crawl-id", uuid.uuid4().hex[:8]]
            result = run_mode(spec, site.url, [*args, "--backend", server.url, *crawl_id])
            sent = round_trips(before, server.calls())
            one.append(
                {
                    "pages": result.pages,
                    "pages_per_s": result.pages_per_s,
                    "cpu_ms_per_page": result.cpu_ms_per_page,
                    "sent_per_page": sum(sent.values()) / max(1, result.pages),
                    "sent": sent,
                }
            )
            print(f"  redis, 1 worker: {result.pages_per_s:.0f} pages/s", file=sys.stderr)
            for n in counts:
                group = crawl_workers(server, site.url, n, loops, tmp)
                groups[n].append(group)
                if not startup:  # once: what a worker costs before its first page
                    startup.append(startup_cpu(server, site.url, loops, group["crawl_id"]))
                print(f"  redis, {n} workers: {group['pages_per_s']:.0f} pages/s", file=sys.stderr)

    def best(runs: list) -> dict:
        return max(runs, key=lambda run: run["pages_per_s"])

    return {
        "pages": pages,
        "latency_ms": latency_ms,
        "loops": loops,
        "repeat": repeat,
        "ceiling": ceiling,
        "memory": best(memory),
        "redis": best(one),
        "groups": [best(groups[n]) for n in counts],
        "startup_cpu_s": startup[0] if startup else 0.0,
    }


# --- report -------------------------------------------------------------------------------


def print_memory(m: dict) -> None:
    print(
        f"memory: {m['urls']:,} URLs over {m['hosts']:,} hosts (mean URL {m['mean_url_chars']:.0f}"
        f" chars, each with a parent on its host), pushed in {m['push_s']:.1f} s: "
        f"queued {m['queued']:,}, seen {m['seen']:,}"
    )
    print(f"  Redis used_memory: {m['bytes_per_url']:.1f} B per URL (target <= 150)")
    for name, (size, count) in m["groups"].items():
        print(f"  {name:>10}: {count:>7,} keys, {size / m['urls']:6.1f} B per URL")


def print_crawls(c: dict) -> None:
    mem, one = c["memory"], c["redis"]
    cpus = os.cpu_count() or 1
    print(
        f"crawl: fixture site, {c['pages']} pages at {c['latency_ms']:g} ms, gevent "
        f"{c['loops']} loops per worker; fetch-only ceiling ({c['ceiling']['pages']} pages, "
        f"{cpus} processes): {c['ceiling']['pages_per_s']:.0f} pages/s"
    )
    print(
        f"  memory, 1 worker: {mem['pages_per_s']:6.0f} pages/s, "
        f"{mem['cpu_ms_per_page']:.2f} ms CPU per page"
    )
    print(
        f"  redis,  1 worker: {one['pages_per_s']:6.0f} pages/s, "
        f"{one['cpu_ms_per_page']:.2f} ms CPU per page: "
        f"{one['pages_per_s'] / mem['pages_per_s']:.2f} x memory (target >= 0.8); "
        f"{one['sent_per_page']:.2f} commands sent per page {one['sent']}"
    )
    print(
        f"  (best of {c['repeat']} rounds; N workers: the crawl's span in Redis, first URL "
        "scheduled to last record; CPU: the workers', and redis-server's)"
    )
    base = c["groups"][0]["pages_per_s"] if c["groups"] else one["pages_per_s"]
    start = c["startup_cpu_s"]
    print(f"  a worker's start-up (joining a finished crawl): {start:.2f} s CPU")
    for g in c["groups"]:
        n = g["workers"]
        per_page = g["cpu_ms_per_page"] + g["redis_cpu_ms_per_page"]
        # Past start-up, what one more page costs: the bound a longer crawl approaches.
        steady = max(0.01, per_page - n * start * 1000 / g["pages"])
        print(
            f"  redis, {n} workers: {g['pages_per_s']:6.0f} pages/s = {g['pages_per_s'] / base:.2f}"
            f" x one worker (linear: {n}); {g['sent_per_page']:.2f} sent per page; "
            f"{g['pages_per_s'] / c['ceiling']['pages_per_s']:.2f} of the ceiling; CPU per page "
            f"{g['cpu_ms_per_page']:.2f} ms + redis {g['redis_cpu_ms_per_page']:.2f} ms: "
            f"{cpus} CPUs bound it at {cpus * 1000 / per_page:.0f} pages/s "
            f"({cpus * 1000 / steady:.0f} past start-up); it kept "
            f"{g['pages_per_s'] * per_page / 1000:.2f} CPUs busy"
        )


@click.command()
@click.argument("what", type=click.Choice(["memory", "crawl", "all"]), default="all")
@click.option("--urls", type=click.IntRange(min=1000), default=1_000_000, show_default=True)
@click.option("--hosts", type=click.IntRange(min=1), default=1000, show_default=True)
@click.option("--pages", type=click.IntRange(min=10), default=2000, show_default=True)
@click.option("--latency-ms", type=float, default=50, show_default=True)
@click.option("--loops", type=click.IntRange(min=1), default=32, show_default=True)
@click.option("--workers", "counts", default="1,2,4", show_default=True)
@click.option("--repeat", type=click.IntRange(min=1), default=2, show_default=True)
@click.option("--json", "json_path", default=None, metavar="FILE", help="Also write JSON.")
def main(
    what: str,
    urls: int,
    hosts: int,
    pages: int,
    latency_ms: float,
    loops: int,
    counts: str,
    repeat: int,
    json_path: str | None,
) -> None:
    """Redis memory per URL, and pages/s of one and several workers on one Redis."""
    print(f"command: python -m bench.redis_scale {' '.join(sys.argv[1:])}".rstrip())
    print(f"machine: {os.cpu_count()} CPUs; load average before: {os.getloadavg()[0]:.2f}")
    out = {}
    if what in ("memory", "all"):
        out["memory"] = measure_memory(urls, hosts)
        print_memory(out["memory"])
    if what in ("crawl", "all"):
        numbers = [int(n) for n in counts.split(",") if n.strip()]
        out["crawl"] = measure_crawls(pages, latency_ms, loops, numbers, repeat)
        print_crawls(out["crawl"])
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    if json_path:
        with open(json_path, "w", encoding="utf-8") as f:
            json.dump(out, f, indent=2)


if __name__ == "__main__":
    main()
