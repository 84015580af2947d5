"""The processes strategy's messages: records travel encoded as the JSON line a sink writes,
the parent dispatches typed messages, and a real crawl (plain and greenlet children) decodes
nothing where every sink takes records encoded."""

from __future__ import annotations

import ast
import io
import json
import pickle
import time
from pathlib import Path

import pytest

from crawler.backends.memory.backend import MemoryBackend
from crawler.backends.memory.frontier import MemoryFrontier
from crawler.base import CrawlJob, Request
from crawler.config import CrawlConfig
from crawler.engine import Crawler
from crawler.errors import ModeUnavailable
from crawler.health.metrics import CrawlMetrics
from crawler.pipeline import Pipeline
from crawler.politeness.schedule import HostSchedule, Pace
from crawler.record import EncodedRecord, Record
from crawler.sinks import CallbackSink, JsonLinesSink
from crawler.stats import Stats
from crawler.strategies.processes.messages import BatchDone, Task, TaskFailed, TaskStarted
from crawler.strategies.processes.parent import ParentLoop
from crawler.strategies.processes.strategy import DispatchSync
from crawler.strategies.serial import SerialSync
from crawler.unshared import UNSHARED
from tests.support.paths import ROOT

RECORD = Record(
    url="http://127.0.0.1:1/p?q=ü",
    final_url="http://127.0.0.1:1/p?q=ü",
    status=200,
    depth=2,
    parent="http://127.0.0.1:1/",
    content_type="text/html",
    bytes=1234,
    title="Ünïcode «title»",
    links=3,
    mode="processes",
    worker="42",
    redirects=["http://127.0.0.1:1/r"],
    attempts=1,
    items=[{"name": "a"}, {"name": "b"}],
)


def test_an_encoded_record_is_the_json_line_and_decodes_to_the_record():
    encoded = pickle.loads(pickle.dumps(EncodedRecord.of(RECORD), pickle.HIGHEST_PROTOCOL))
    assert encoded.json == RECORD.to_json()
    assert json.loads(encoded.json) == RECORD.to_dict()
    assert encoded.decode() == RECORD
    assert (encoded.url, encoded.status, encoded.error, encoded.bytes, encoded.item_count) == (
        RECORD.url,
        200,
        None,
        1234,
        2,
    )


def test_json_lines_sink_writes_an_encoded_record_as_it_came(tmp_path):
    """Same bytes for a Record and an EncodedRecord, to a file it opens and to a text stream,
    and the same line as the documented format (``json.dumps`` with its default spacing)."""
    expected = json.dumps(RECORD.to_dict(), ensure_ascii=False) + "\n"
    for target in (str(tmp_path / "out.jsonl"), io.StringIO()):
        sink = JsonLinesSink(target)
        sink.write(RECORD)
        sink.write_encoded(EncodedRecord.of(RECORD))
        text = target.getvalue() if isinstance(target, io.StringIO) else None
        sink.close()
        if text is None:
            text = (tmp_path / "out.jsonl").read_text(encoding="utf-8")
        assert text == expected * 2


def test_the_pipeline_decodes_once_and_only_for_sinks_that_need_a_record():
    stream = io.StringIO()
    seen_a: list[Record] = []
    seen_b: list[Record] = []
    stats = Stats()
    pipeline = Pipeline(
        [JsonLinesSink(stream), CallbackSink(seen_a.append), CallbackSink(seen_b.append)], stats
    )
    failed = Record(url="http://127.0.0.1:1/x", error="timeout", mode="processes")
    pipeline.write(EncodedRecord.of(RECORD))
    pipeline.write(EncodedRecord.of(failed))
    assert seen_a == [RECORD, failed] and seen_a[0] is seen_b[0]  # one decode for both
    assert stream.getvalue().splitlines() == [
        RECORD.to_json().decode(),
        failed.to_json().decode(),
    ]
    assert (stats.pages, stats.ok, stats.items, stats.bytes) == (2, 1, 2, 1234)
    assert stats.errors == {"timeout": 1}


class _Taker:
    """A sink that takes records encoded or not, and keeps what it was given."""

    def __init__(self) -> None:
        self.got: list[Record | EncodedRecord] = []

    def write(self, record: Record | EncodedRecord) -> None:
        self.got.append(record)

    write_encoded = write

    def close(self) -> None:
        pass


def test_a_record_for_several_sinks_that_take_it_encoded_is_encoded_once():
    # The output file and a durable backend's store both write the record's JSON.
    stream_a, stream_b, taker = io.StringIO(), io.StringIO(), _Taker()
    pipeline = Pipeline([JsonLinesSink(stream_a), JsonLinesSink(stream_b), taker], Stats())
    got = taker.got
    plain = Record(url="http://127.0.0.1:1/x", status=200, mode="gevent")
    pipeline.write(plain)
    pipeline.write(RECORD)  # with items: as it came (an items sink would decode it again)
    assert isinstance(got[0], EncodedRecord) and got[0].json == plain.to_json()
    assert got[1] is RECORD
    assert (
        stream_a.getvalue()
        == stream_b.getvalue()
        == (plain.to_json().decode() + "\n" + RECORD.to_json().decode() + "\n")
    )


class _Child:
    """Records what the parent hands out; runs nothing (messages are fed by the test). Its
    process is ``pid``, alive until the test says otherwise."""

    def __init__(self) -> None:
        self.tasks: list[Task] = []
        self.pid, self.gone, self.starts = 1000, False, 1

    def submit(self, task: Task) -> None:
        self.tasks.append(task)

    def dead(self) -> bool:
        return self.gone

    def restart(self) -> None:
        self.pid, self.gone, self.starts = self.pid + 1, False, self.starts + 1


def test_the_parent_dispatches_each_message_kind():
    config = CrawlConfig(mode="processes", workers=1, robots=False)
    backend = MemoryBackend()
    frontier = backend.frontier(config, SerialSync())
    pool, consumed = _Child(), []
    loop = ParentLoop(CrawlJob(config, backend, []), consumed.append, [pool], frontier)
    loop.queued = frontier.push_many(
        [Request("http://127.0.0.1:1/a"), Request("http://127.0.0.1:1/b")]
    )
    loop.dispatch()
    first, second = pool.tasks  # one page each: a short queue is spread over the tasks
    assert (first.batch, second.batch) == (
        (Request("http://127.0.0.1:1/a"),),
        (Request("http://127.0.0.1:1/b"),),
    )

    loop.handle(TaskStarted(first.task_id, 4242))
    assert loop.tasks[first.task_id].pid == 4242
    records = [EncodedRecord.of(Record(url="http://127.0.0.1:1/a", status=200))]
    fresh = [Request("http://127.0.0.1:1/new", depth=1)]
    loop.handle(BatchDone(first.task_id, records, fresh))
    assert consumed == records  # handed on encoded, not decoded
    assert loop.queued == 1 and first.task_id not in loop.tasks

    loop.handle(TaskFailed(second.task_id, "RuntimeError: boom"))
    assert [(r.url, r.error, r.detail) for r in consumed[1:]] == [
        ("http://127.0.0.1:1/b", "internal", "worker raised RuntimeError: boom")
    ]
    # A late message for a task already given up on changes nothing.
    loop.handle(BatchDone(second.task_id, records, fresh))
    assert len(consumed) == 2 and loop.queued == 1
    assert not loop.tasks and loop.computing == 0
    assert frontier.snapshot()["queued"] == 1 and frontier.snapshot()["in_flight"] == 0
    loop.dispatch()
    assert pool.tasks[-1].batch == tuple(fresh)


def test_the_parent_books_each_host_from_its_pages_own_end_not_the_batchs_report():
    # A batch reports when its slowest page is parsed; each page's host keeps its delay from
    # when that page's network half ended (``BatchDone.ended``), not from the report.
    config = CrawlConfig(mode="processes", workers=1, robots=False, delay=10.0)
    clock = [100.0]
    schedule = HostSchedule(Pace(delay=10.0))
    frontier = MemoryFrontier(UNSHARED, schedule=schedule, clock=lambda: clock[0])
    pool = _Child()
    loop = ParentLoop(CrawlJob(config, MemoryBackend(), []), lambda r: None, [pool], frontier)
    urls = [f"http://127.0.0.{i}:1/{page}" for page in "ab" for i in (1, 2)]
    loop.queued = frontier.push_many([Request(url) for url in urls])
    loop.dispatch()  # at 100
    (task,) = pool.tasks
    assert [r.url for r in task.batch] == urls[:2]  # a host with a delay: one page out
    clock[0] = 110.0  # the batch reports 10 s later: its first page ended 6 s before that
    now = time.monotonic()
    records = [EncodedRecord.of(Record(url=r.url, status=200)) for r in task.batch]
    loop.handle(BatchDone(task.task_id, records, [], (now - 6.0, now)))
    assert 113.9 <= schedule.ready_at("127.0.0.1") <= 114.1
    assert 119.9 <= schedule.ready_at("127.0.0.2") <= 120.1


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    "options",
    [{"workers": 2}, {"workers": 2, "greenlets": 4}],
    ids=["plain", "greenlets"],
)
def test_a_processes_crawl_writes_json_lines_without_decoding_a_record(
    fresh_site, tmp_path, monkeypatch, options
):
    """Every sink here (the JSON Lines file, the metrics) takes records encoded: the parent
    never rebuilds a Record, and the file holds
    each record's one encoding. A sink that wants Records (a library consumer) still gets
    them, decoded from the same lines."""

    def no_decoding(data):
        raise AssertionError("the parent decoded a record")

    out = tmp_path / "out.jsonl"
    config = CrawlConfig(mode="processes", depth=50, robots=False, output=str(out), **options)
    crawler = Crawler(config)
    metrics = CrawlMetrics(crawler.live_stats, mode="processes")
    crawler.sinks.append(metrics.sink())
    with monkeypatch.context() as patch:
        patch.setattr(Record, "from_dict", no_decoding)
        stats = crawler.run([fresh_site.url])
    lines = out.read_bytes().splitlines()
    assert stats.pages == len(lines) > 50 and stats.ok > 50
    counted = [
        sample.value
        for family in metrics.registry.collect()
        for sample in family.samples
        if sample.name == "crawler_pages_total"
    ]
    assert sum(counted) == stats.pages
    records = [Record.from_dict(json.loads(line)) for line in lines]
    assert [record.to_json() for record in records] == lines  # the one encoding, unchanged

    seen: list[Record] = []
    config = config.with_options(output=str(tmp_path / "again.jsonl"))
    Crawler(config, [CallbackSink(seen.append)]).run([fresh_site.url])
    assert all(isinstance(record, Record) for record in seen)
    again = (tmp_path / "again.jsonl").read_bytes().splitlines()
    assert sorted(record.to_json() for record in seen) == sorted(again)
    assert {record.url for record in seen} == {record.url for record in records}


def _imports(path) -> set[str]:
    """Every module ``path`` imports, at its top or inside a function."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_the_processes_package_has_no_import_cycle():
    package = Path(ROOT) / "crawler" / "strategies" / "processes"
    prefix = "crawler.strategies.processes."
    graph = {
        prefix + path.stem: {name for name in _imports(path) if name.startswith(prefix)}
        for path in package.glob("*.py")
    }

    def reaches(start: str, target: str, seen: set[str]) -> bool:
        for name in graph.get(start, ()):
            if name == target or (name not in seen and reaches(name, target, seen | {name})):
                return True
        return False

    cycles = [module for module in graph if reaches(module, module, {module})]
    assert cycles == []


def _two_children(hosts: int, pages: int) -> tuple[ParentLoop, list[_Child], MemoryFrontier]:
    # Batches of G/4 = 2 pages, 2 × G/2 = 8 tasks out per child.
    config = CrawlConfig(mode="processes", workers=2, greenlets=8, robots=False)
    backend = MemoryBackend()
    frontier = backend.frontier(config, DispatchSync())
    pools = [_Child(), _Child()]
    loop = ParentLoop(CrawlJob(config, backend, []), lambda r: None, pools, frontier)
    urls = [f"http://h{h}.test/{p}" for h in range(hosts) for p in range(pages)]
    loop.queued = frontier.push_many([Request(url) for url in urls])
    return loop, pools, frontier


def _hosts(pool: _Child) -> set[str]:
    return {r.url.split("/")[2] for task in pool.tasks for r in task.batch}


def test_a_hosts_pages_go_to_the_child_that_took_its_first_page():
    # Each child keeps its own connections: a host spread over both opened one in each.
    loop, pools, _ = _two_children(16, 2)
    loop.dispatch()
    assert [len(p.tasks) for p in pools] == [8, 8]  # 32 pages, 2 a batch: both children full
    assert not _hosts(pools[0]) & _hosts(pools[1])
    assert len(_hosts(pools[0])) == len(_hosts(pools[1])) == 8


def test_a_page_waits_for_its_hosts_busy_child_rather_than_open_the_host_elsewhere():
    loop, pools, frontier = _two_children(16, 2)
    loop.dispatch()
    first = {host: k for k, pool in enumerate(pools) for host in _hosts(pool)}
    done = pools[1].tasks[0]
    records = [EncodedRecord.of(Record(url=r.url, status=200)) for r in done.batch]
    # Child 1 has room for one more task; a page of a host of each child comes.
    busy = next(h for h, k in first.items() if k == 0)
    free = next(h for h, k in first.items() if k == 1)
    fresh = [Request(f"http://{busy}/new", 1), Request(f"http://{free}/new", 1)]
    loop.handle(BatchDone(done.task_id, records, fresh))
    loop.dispatch()
    assert [r.url for r in pools[1].tasks[-1].batch] == [f"http://{free}/new"]
    assert len(pools[0].tasks) == 8 and loop.holding == 1
    done = pools[0].tasks[0]
    records = [EncodedRecord.of(Record(url=r.url, status=200)) for r in done.batch]
    loop.handle(BatchDone(done.task_id, records, []))
    loop.dispatch()  # its own child has room now
    assert [r.url for r in pools[0].tasks[-1].batch] == [f"http://{busy}/new"]
    assert loop.holding == 0 and frontier.snapshot()["queued"] == 0


def test_one_host_still_keeps_every_child_busy():
    loop, pools, _ = _two_children(1, 32)
    loop.dispatch()
    # Its home child full, a few pages wait for it; the rest go to the other.
    assert len(pools[0].tasks) == 8 and loop.holding == loop.hold_cap
    assert len(pools[1].tasks) == (32 - 16 - loop.hold_cap) // 2
    assert _hosts(pools[0]) == _hosts(pools[1]) == {"h0.test"}


def test_a_child_whose_processes_keep_dying_before_any_task_ends_the_crawl():
    # Restarted forever, such a child hid the failure and the crawl never ended (a pool once
    # wrote 77,000 start-up tracebacks in 20 minutes, its manager's socket gone).
    config = CrawlConfig(mode="processes", workers=1, robots=False)
    backend = MemoryBackend()
    child = _Child()
    loop = ParentLoop(
        CrawlJob(config, backend, []),
        lambda r: None,
        [child],
        backend.frontier(config, SerialSync()),
    )
    loop.queued = loop.frontier.push_many([Request("http://127.0.0.1:1/a")])
    loop.dispatch()
    (task,) = child.tasks
    for _ in range(3):  # three in a row die at start: each is replaced
        child.gone = True
        loop.watch(time.monotonic())
    assert child.starts == 4 and task.task_id in loop.tasks  # its task waits in the pipe
    loop.handle(TaskStarted(task.task_id, child.pid))  # the fourth one works
    child.gone = True  # ... and dies on its page: a crash, not a failure to start
    loop.watch(time.monotonic())
    assert child.starts == 5 and task.task_id not in loop.tasks  # given up: worker_crash
    for _ in range(3):
        child.gone = True
        loop.watch(time.monotonic())
    child.gone = True
    with pytest.raises(ModeUnavailable, match=r"keep exiting before taking any work \(4 in a row"):
        loop.watch(time.monotonic())
