"""Executors run module-level tasks in order, share values once and fail in one line, on real
processes and a real two-node Ray cluster on 127.0.0.1."""

import itertools
import os
import signal
from pathlib import Path

import pytest

from curate.errors import ExecutorError, InputError, Where
from curate.executors import Executor, ExecutorSettings, Shared, Span, make_executor, map_ranges, span_ranges


def square_and_pid(x: int) -> tuple[int, int]:
    return x * x, os.getpid()


def node_of(_: int) -> str:
    import ray

    return ray.get_runtime_context().get_node_id()


def bad_row(x: int) -> int:
    if x == 3:
        raise InputError("no such column", where=Where(file="in.jsonl", row=x, field="text"), value="txet")
    return x


def read_shared(args: tuple[Shared[dict[str, int]], str]) -> int:
    shared, key = args
    return shared.get()[key]


def summed(span: Span[list[int]]) -> tuple[int, int, int]:
    return span.start, span.stop, sum(span.value()[span.start : span.stop])


def die_once(args: tuple[str, int]) -> int:
    """Kill this worker process the first time item 2 is run (a marker file remembers), then succeed."""
    marker, x = Path(args[0]), args[1]
    if x == 2 and not marker.exists():
        marker.touch()
        os.kill(os.getpid(), signal.SIGKILL)
    return x


def die_always(x: int) -> int:
    if x == 1:
        os.kill(os.getpid(), signal.SIGKILL)
    return x


@pytest.fixture(params=["local", "processes", "ray"])
def executor(request, tmp_path):
    if request.param == "ray":
        address = request.getfixturevalue("ray_cluster")
        settings = ExecutorSettings(name="ray", address=address)
    else:
        settings = ExecutorSettings(name=request.param, workers=2)
    with make_executor(settings) as running:
        yield running


def test_results_come_in_item_order(executor: Executor):
    results = list(executor.map(square_and_pid, range(20)))
    assert [r[0] for r in results] == [x * x for x in range(20)]
    pids = {r[1] for r in results}
    assert (pids == {os.getpid()}) == (executor.name == "local")


def test_a_task_error_reaches_the_caller_as_itself(executor: Executor):
    with pytest.raises(InputError) as caught:
        list(executor.map(bad_row, range(6)))
    assert str(caught.value) == "no such column at in.jsonl, row 3, field 'text': got 'txet'"


def test_shared_values_are_read_by_every_task(executor: Executor):
    shared = executor.share({"a": 1, "b": 2})
    assert list(executor.map(read_shared, [(shared, k) for k in "abba"])) == [1, 2, 2, 1]


def test_ranges_cover_the_items_once_in_order_with_one_shared_value(executor: Executor):
    items = list(range(1000))
    found = list(map_ranges(executor, summed, items, len(items), align=64))
    assert [(start, stop) for start, stop, _ in found] == span_ranges(1000, executor.workers, align=64)
    assert sum(total for _, _, total in found) == sum(items)
    assert found[0][0] == 0 and found[-1][1] == 1000
    assert all(a[1] == b[0] for a, b in itertools.pairwise(found))
    assert all((stop - start) % 64 == 0 for start, stop, _ in found[:-1])
    assert len(found) == (1 if executor.workers == 1 else 8)  # 1000 / (2 workers x 4) -> 128 a range
    assert list(map_ranges(executor, summed, items, 0)) == []


def test_ray_spreads_tasks_over_both_nodes(ray_cluster):
    with make_executor(ExecutorSettings(name="ray", address=ray_cluster)) as running:
        assert running.workers == 2
        nodes = set(running.map(node_of, range(8)))
    assert len(nodes) == 2


def test_ray_retries_a_task_whose_worker_was_killed(ray_cluster, tmp_path):
    with make_executor(ExecutorSettings(name="ray", address=ray_cluster)) as running:
        marker = str(tmp_path / "killed")
        assert list(running.map(die_once, [(marker, x) for x in range(5)])) == [0, 1, 2, 3, 4]
    assert Path(marker).exists()  # the worker was killed once


def test_ray_gives_up_in_one_line_after_its_retries(ray_cluster):
    settings = ExecutorSettings(name="ray", address=ray_cluster, max_retries=1)
    died = r"a Ray worker died while running shard 1, 1 retries used"
    with make_executor(settings) as running, pytest.raises(ExecutorError, match=died):
        list(running.map(die_always, range(3), what="shard"))


def test_processes_end_in_one_line_when_a_worker_dies():
    settings = ExecutorSettings(name="processes", workers=2)
    died = r"a worker process died while running shard \d"
    with make_executor(settings) as running, pytest.raises(ExecutorError, match=died):
        list(running.map(die_always, range(3), what="shard"))


def test_joining_a_missing_cluster_is_one_line():
    pytest.importorskip("ray")
    with pytest.raises(ExecutorError, match="cannot join the Ray cluster"):
        make_executor(ExecutorSettings(name="ray", address="127.0.0.1:9"))


def test_a_cluster_on_the_loopback_address_is_joined_there():
    from curate.executors.ray_cluster import _is_loopback

    assert all(_is_loopback(a) for a in ("127.0.0.1:6379", "localhost:6379", "ray://127.0.0.1:10001"))
    assert not any(_is_loopback(a) for a in ("10.0.0.2:6379", "auto", "head.cluster:6379"))
