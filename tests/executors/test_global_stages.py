"""Global stages whose plan is work of its own, run as tasks on the stage's executor: the folds of
``label_issues``, the query ranges of ``mine_hard_negatives`` (one shared index) and the row ranges
of ``decontaminate`` (one shared evaluation index) give, on local processes and on a real two-node
Ray cluster, the kept and rejected rows, counts and artifacts of a run in this process, and their
tasks run on both nodes."""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pyarrow as pa
import pytest

from curate import io
from curate.dataset import Dataset
from curate.executors import Executor, ExecutorSettings, Shared, make_executor
from curate.stages.base import PlannedStage, StageStats
from curate.stages.decontaminate import Decontaminate
from curate.stages.label_issues import LabelIssues
from curate.stages.mine_hard_negatives import MineHardNegatives
from tests.conftest import needs_shared
from tests.s3_server import S3Server, new_bucket

T = TypeVar("T")
R = TypeVar("R")

BATCH_ROWS = 256
PLAN_TASKS = {"fold", "query range", "row range"}
"""What the plans of the three stages name their tasks (the batches are ``batch``)."""


def _where() -> str:
    """The Ray node running this task, else this process."""
    import sys

    ray = sys.modules.get("ray")
    if ray is not None and ray.is_initialized():
        return str(ray.get_runtime_context().get_node_id())
    return f"pid {os.getpid()}"


def _traced(item: tuple[Callable[[Any], Any], Any]) -> tuple[Any, str]:
    task, value = item
    return task(value), _where()


class Traced(Executor):
    """An executor that runs its tasks on another and records where each ran: ``(what, where)``."""

    def __init__(self, inner: Executor):
        self.inner, self.name, self.workers, self.storage = inner, inner.name, inner.workers, inner.storage
        self.ran: Counter[tuple[str, str]] = Counter()

    def map(self, task: Callable[[T], R], items: Iterable[T], *, what: str = "task") -> Iterator[R]:
        for result, where in self.inner.map(_traced, ((task, item) for item in items), what=what):
            self.ran[what, where] += 1
            yield result

    def share(self, value: T) -> Shared[T]:
        return self.inner.share(value)

    def places(self, what: str) -> set[str]:
        return {where for (name, where), count in self.ran.items() if name == what and count}


@pytest.fixture(scope="module", params=["processes", "ray", "ray without the disk"])
def executor(request: pytest.FixtureRequest, s3_server: S3Server) -> Iterator[Executor]:
    """Local processes, the two-node Ray cluster, or that cluster's workers kept from this disk
    (:func:`~tests.conftest.blind_python`) with the files in an object store."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        if request.param == "processes":
            settings = ExecutorSettings(name="processes", workers=2)
        elif request.param == "ray":
            settings = ExecutorSettings(name="ray", address=request.getfixturevalue("ray_cluster"))
        else:
            settings = ExecutorSettings(
                name="ray",
                address=request.getfixturevalue("ray_cluster"),
                runtime_env={"py_executable": request.getfixturevalue("blind_python")},
                storage=new_bucket(s3_server, monkeypatch) + "/exchange",
            )
        with make_executor(settings) as started:
            yield started


def untimed(table: pa.Table) -> pa.Table:
    return table.drop_columns([c for c in table.column_names if c == "seconds" or c.endswith("_per_second")])


def counts(stats: StageStats) -> dict[str, Any]:
    return {k: v for k, v in vars(stats).items() if k != "seconds"}


def assert_same_as_local(make: Callable[[], PlannedStage], data: Dataset, executor: Executor, what: str) -> Traced:
    """``make()``'s stage on ``executor`` gives the rows, counts and artifacts it gives here; returns
    the traced executor it ran on (its plan's tasks named ``what``)."""
    here = make()
    kept, rejected, stats = here.execute(data, batch_rows=BATCH_ROWS)
    traced = Traced(executor)
    there = make()
    got_kept, got_rejected, got_stats = there.execute(data, batch_rows=BATCH_ROWS, executor=traced)
    assert isinstance(got_kept, pa.Table) and isinstance(got_rejected, pa.Table)
    assert got_kept.equals(kept) and got_rejected.equals(rejected)
    assert counts(got_stats) == counts(stats)
    want, have = here.artifacts(), there.artifacts()
    assert sorted(have) == sorted(want)
    for name, table in want.items():
        assert untimed(have[name]).equals(untimed(table)), name
    assert {name for name, _ in traced.ran} == {what, "batch"}  # the plan's tasks, then the batches
    assert f"pid {os.getpid()}" not in traced.places(what)  # not one ran in this process
    if executor.name == "ray":  # a head and a worker node, one CPU each: tasks on both
        assert len(traced.places(what)) == 2, traced.ran
    return traced


def test_label_issues_fits_its_folds_as_tasks(executor: Executor):
    data = io.read(needs_shared("nsmc", "binary_sample50k.tsv"), kind="classification", rename={"document": "text"})
    data = Dataset.from_arrow(data.to_arrow().slice(0, 2000), "classification")
    traced = assert_same_as_local(lambda: LabelIssues(reject=True), data, executor, "fold")
    assert sum(count for (what, _), count in traced.ran.items() if what == "fold") == 5


def test_mine_hard_negatives_searches_query_ranges_with_one_shared_index(executor: Executor):
    data = io.read(needs_shared("squad2", "train-v2.0-first10.json"))
    traced = assert_same_as_local(MineHardNegatives, data, executor, "query range")
    # 4,371 answerable questions in batches of 1,024 queries: a range holds whole batches
    assert sum(count for (what, _), count in traced.ran.items() if what == "query range") == 5


def test_decontaminate_checks_row_ranges_against_one_shared_evaluation_index(executor: Executor, tmp_path: Path):
    path = needs_shared("xquad", "xquad.en.json")
    squad = json.loads(path.read_text(encoding="utf-8"))
    evaluation = tmp_path / "eval.json"  # the first 10 of its 48 articles: their questions leak
    evaluation.write_text(json.dumps({**squad, "data": squad["data"][:10]}), encoding="utf-8")
    train = Dataset.from_parquet([io.write(io.read(path), tmp_path / "train.parquet")], "mrc")
    traced = assert_same_as_local(lambda: Decontaminate(eval_path=str(evaluation)), train, executor, "row range")
    assert sum(count for (what, _), count in traced.ran.items() if what == "row range") == 8
    result = Decontaminate(eval_path=str(evaluation))(train)
    assert 0 < result.stats.rows_rejected < train.num_rows


def test_decontaminate_finds_the_reviews_an_evaluation_set_took_from_the_training_set(
    executor: Executor, tmp_path: Path
):
    nsmc = io.read(needs_shared("nsmc", "binary_sample50k.tsv"), kind="classification", rename={"document": "text"})
    train = Dataset.from_arrow(nsmc.to_arrow().slice(0, 3000), "classification")
    evaluation = tmp_path / "eval.parquet"
    io.write(Dataset.from_arrow(train.to_arrow().slice(2500, 500), "classification"), evaluation)
    assert_same_as_local(lambda: Decontaminate(eval_path=str(evaluation)), train, executor, "row range")
    stage = Decontaminate(eval_path=str(evaluation))
    stage(train)
    taken = set(train.to_arrow().column("id").slice(2500).to_pylist())
    named = set(stage.artifacts()["contamination"].column("train_id").to_pylist())
    assert len(named & taken) > 250  # a review of 20 characters or more is found in its own copy


def test_dense_mining_sends_its_faiss_index_as_vectors(executor: Executor):
    table = io.read(needs_shared("squad2", "train-v2.0-first10.json")).to_arrow()
    rng = np.random.default_rng(0)
    for name in ("context_vector", "question_vector"):
        vectors = rng.standard_normal((table.num_rows, 16)).astype(np.float32)
        table = table.append_column(name, pa.array(list(vectors), pa.list_(pa.float32())))
    data = Dataset.from_arrow(table, "mrc")
    stage = partial(MineHardNegatives, embedding_column="context_vector", query_embedding_column="question_vector")
    assert_same_as_local(stage, data, executor, "query range")
