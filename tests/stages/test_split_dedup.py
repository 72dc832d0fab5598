"""The dedup searches split into tasks (``shard_rows`` below the dataset's rows, or an executor)
decide what the search over the whole dataset decides, on real NSMC reviews and SQuAD/XQuAD
questions with near copies, exact repeats and repeats whose label or answer differs: same kept and
rejected rows, reasons, details, flags, clusters and conflicts."""

from __future__ import annotations

import pickle
import random
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from curate import io
from curate.dataset import Dataset
from curate.executors import Executor, ExecutorSettings, make_executor
from curate.stages import ExactDedup, MinHashDedup
from curate.stages.base import Stage
from tests.conftest import needs_shared


def _edited(text: str, rng: random.Random) -> str:
    """``text`` with one or two characters changed (a near copy)."""
    chars = list(text)
    for _ in range(rng.choice((1, 2))):
        if chars:
            chars[rng.randrange(len(chars))] = rng.choice("가나다라마바사 .!")
    return "".join(chars)


@pytest.fixture(scope="module")
def reviews() -> Dataset:
    """4,000 NSMC reviews, then 1,200 near copies, 400 exact repeats and 200 repeats with the other
    label (a conflict), in a seeded order after the originals."""
    table = (
        io.read(needs_shared("nsmc", "binary_sample50k.tsv"), kind="classification", rename={"document": "text"})
        .to_arrow()
        .slice(0, 4000)
    )
    rows = table.select(["id", "text", "label"]).to_pylist()
    rng = random.Random(7)
    extra: list[dict[str, Any]] = []
    for n, kind in enumerate(["near"] * 1200 + ["same"] * 400 + ["flip"] * 200):
        row = dict(rng.choice(rows), id=f"copy{n}")
        if kind == "near":
            row["text"] = _edited(row["text"], rng)
        elif kind == "flip":
            row["label"] = "1" if row["label"] == "0" else "0"
        extra.append(row)
    rng.shuffle(extra)
    return Dataset.from_arrow(
        pa.Table.from_pylist(rows + extra, schema=table.select(["id", "text", "label"]).schema), "classification"
    )


@pytest.fixture(scope="module")
def questions() -> Dataset:
    """The XQuAD English questions, then 300 of them repeated: a third as they are, a third with
    another answer, a third with one character of the question changed."""
    table = io.read(needs_shared("xquad", "xquad.en.json")).to_arrow()
    rng = random.Random(11)
    extra = []
    for n in range(300):
        row = dict(table.slice(rng.randrange(table.num_rows), 1).to_pylist()[0], id=f"again{n}")
        if n % 3 == 1:
            start = row["context"].find(" ") + 1
            row["answers"] = [{"text": row["context"][start : start + 3], "answer_start": start}]
        elif n % 3 == 2:
            row["question"] = _edited(row["question"], rng)
        extra.append(row)
    return Dataset.from_arrow(pa.concat_tables([table, pa.Table.from_pylist(extra, schema=table.schema)]), "mrc")


def outputs(stage: Stage, data: Dataset, executor: Any = None) -> tuple[pa.Table, pa.Table, dict, dict]:
    kept, rejected, stats = stage.execute(data, executor=executor)
    assert isinstance(kept, pa.Table) and isinstance(rejected, pa.Table)
    record = stats.as_dict()
    record.pop("seconds")
    return kept, rejected, record, stage.artifacts()


def assert_same(whole: tuple, split: tuple) -> None:
    for want, have in zip(whole, split, strict=True):
        if isinstance(want, dict) and want and isinstance(next(iter(want.values())), pa.Table):
            assert want.keys() == have.keys()
            for name in want:
                assert have[name].equals(want[name]), name
        elif isinstance(want, pa.Table):
            assert have.equals(want)
        else:
            assert have == want


@pytest.mark.parametrize("keep", ["central", "first", "longest"])
@pytest.mark.parametrize("clustering", ["greedy", "components"])
def test_minhash_split_search_decides_as_the_whole_search(reviews: Dataset, keep: str, clustering: str):
    whole = outputs(MinHashDedup(keep=keep, clustering=clustering), reviews)
    assert whole[2]["reasons"]["near_duplicate"] > 500 and whole[2]["reasons"]["label_conflict"] > 100
    split = outputs(MinHashDedup(keep=keep, clustering=clustering, shard_rows=700), reviews)
    assert_same(whole, split)


@pytest.mark.parametrize("stage", [ExactDedup, MinHashDedup], ids=["exact", "minhash"])
def test_split_search_on_questions_keeps_answers_apart(questions: Dataset, stage: type[Stage]):
    whole = outputs(stage(), questions)
    assert whole[2]["flags"]["answers_differ"] >= 100 and whole[2]["rows_rejected"] >= 100
    assert_same(whole, outputs(stage(shard_rows=250), questions))


def test_exact_split_search_decides_as_the_whole_search(reviews: Dataset):
    whole = outputs(ExactDedup(), reviews)
    assert whole[2]["reasons"] == {"exact_duplicate": whole[2]["reasons"]["exact_duplicate"], "label_conflict": 200}
    assert_same(whole, outputs(ExactDedup(shard_rows=900), reviews))
    assert_same(whole, outputs(ExactDedup(casefold=True, shard_rows=900), reviews))


@pytest.mark.parametrize("stage", [ExactDedup, MinHashDedup], ids=["exact", "minhash"])
def test_split_search_on_local_processes_decides_as_the_whole_search(
    reviews: Dataset, stage: type[Stage], tmp_path: Path
):
    whole = outputs(stage(), reviews)
    with make_executor(ExecutorSettings(name="processes", workers=2)) as executor:
        kept, rejected, stats = stage().execute(reviews, executor=executor, out_dir=tmp_path)
    assert isinstance(kept, Path) and isinstance(rejected, Path)
    assert io.read(kept).to_arrow().equals(whole[0]) and io.read(rejected).to_arrow().equals(whole[1])
    assert stats.rows_rejected == whole[2]["rows_rejected"]
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]  # scratch files removed


def test_a_batch_task_gets_only_its_rows_of_the_decisions(reviews: Dataset):
    stage = MinHashDedup()
    plan, _ = stage.planned(reviews)
    whole = len(pickle.dumps(plan))
    part = stage.plan_rows(plan, 4000, 4100)
    assert 0 < part.decisions.table.num_rows < 100
    assert len(pickle.dumps(part)) < whole / 20  # not the whole table behind a slice


class RunsEachTaskTwice(Executor):
    """A task run again, as after its worker died: it must find its input files as the first run did."""

    def map(self, task: Any, items: Any, *, what: str = "task") -> Any:
        for item in items:
            task(item)
            yield task(item)


@pytest.mark.parametrize("stage", [ExactDedup(shard_rows=900), MinHashDedup(shard_rows=700)], ids=["exact", "minhash"])
def test_a_task_run_again_decides_as_the_first_run(reviews: Dataset, stage: Stage):
    whole = outputs(type(stage)(), reviews)
    assert_same(whole, outputs(stage, reviews, RunsEachTaskTwice()))
