"""Every registered stage honours the contract: typed params, empty input, nothing lost, determinism."""

import pickle
from typing import ClassVar

import pyarrow as pa
import pytest

from curate.dataset import Dataset
from curate.errors import ConfigError
from curate.io import read
from curate.stages import REGISTRY, get_stage_class
from curate.stages.base import PlannedStage
from tests.conftest import REPO, mrc_rows
from tests.outputs import folder_bytes, parquet_rows

REQUIRED = {
    "length_filter": {"field": "question"},
    "sql_filter": {"where": "true"},
    "decontaminate": {"eval_path": str(REPO / "sample_data" / "korquad_sample.json")},
    "language_filter": {"languages": ["ko"]},
    "retrieval_checks": {"corpus": str(REPO / "sample_data" / "retrieval")},
    "retrieval_label_issues": {"corpus": str(REPO / "sample_data" / "retrieval")},
}


def sample(name: str, copies: int = 1) -> Dataset:
    """Rows of a kind the stage accepts: the tiny MRC rows, or the sample qrels."""
    kinds = REGISTRY[name].kinds
    if not kinds or "mrc" in kinds:
        rows = [dict(r) for r in mrc_rows() * copies]
        for i, row in enumerate(rows):
            row["id"] = f"r{i}"
        return Dataset.from_arrow(pa.Table.from_pylist(rows), "mrc")
    (kind,) = kinds
    if kind == "classification":
        table = read(REPO / "sample_data" / "reviews_cls.tsv", kind=kind).to_arrow().slice(0, 12)
    else:
        table = read(REPO / "sample_data" / "retrieval", format="beir", kind=kind).to_arrow()
    return Dataset.from_arrow(pa.concat_tables([table] * copies), kind)


@pytest.fixture(scope="module", autouse=True)
def quality_model(tmp_path_factory):
    """A tiny real quality model for ``quality_classifier``."""
    from curate.quality.classifier import TrainSettings, train_quality

    path = tmp_path_factory.mktemp("contract") / "quality.bin"
    texts = [row["context"] for row in mrc_rows()] + ["ㅋㅋㅋ 클릭", "!!!! 무료", "$$$ 광고", "ㅎㅎ ★★"]
    train_quality(texts, ["good"] * 4 + ["bad"] * 4, path, held_out=0, settings=TrainSettings(epoch=5, dim=10))
    REQUIRED["quality_classifier"] = {"model": str(path)}
    yield
    REQUIRED.pop("quality_classifier")


@pytest.fixture(scope="module", autouse=True)
def tokenizer(tokenizer_path):
    """The WordPiece tokenizer trained on the sample data, for ``token_count``."""
    REQUIRED["token_count"] = {"tokenizer": str(tokenizer_path)}
    yield
    REQUIRED.pop("token_count")


@pytest.fixture(scope="module", autouse=True)
def chat_server():
    """A local chat-completions server for ``generate_questions`` (no request leaves the machine)."""
    from tests.llm.chat_server import ChatServer

    with ChatServer() as server:
        REQUIRED["generate_questions"] = {"base_url": server.base_url, "model": "test-model", "cache_dir": None}
        yield server
    REQUIRED.pop("generate_questions")


def make(name: str, **params):
    return REGISTRY[name]({**REQUIRED.get(name, {}), **params})


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_unknown_param_names_the_key_and_the_allowed_ones(name):
    with pytest.raises(ConfigError) as info:
        make(name, bogus_key=1)
    message = str(info.value)
    assert "bogus_key" in message and name in message and "allowed:" in message


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_empty_input_gives_empty_outputs(name):
    data = sample(name)
    empty = Dataset.from_arrow(data.to_arrow().slice(0, 0), data.kind)
    result = make(name)(empty)
    assert result.kept.num_rows == 0 and result.rejected.num_rows == 0
    assert {"reject_stage", "reject_reason", "reject_detail"} <= set(result.rejected.schema.names)


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_kept_plus_rejected_is_input_and_outputs_are_deterministic(name, tmp_path):
    dataset = sample(name, copies=3)
    outputs = []
    for attempt in range(2):
        out = tmp_path / str(attempt)
        out.mkdir()
        kept, rejected, stats = make(name).execute(dataset, out_dir=out, batch_rows=5)
        assert stats.rows_in == dataset.num_rows
        assert stats.rows_kept + stats.rows_rejected == dataset.num_rows + stats.rows_added
        out_rows = parquet_rows(kept) + parquet_rows(rejected)
        assert out_rows == dataset.num_rows + stats.rows_added
        outputs.append((folder_bytes(kept), folder_bytes(rejected)))
    assert outputs[0] == outputs[1]


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_stage_runs_on_arrow_and_polars_and_returns_the_same_type(name):
    import polars as pl

    data = sample(name)
    table = data.to_arrow()
    assert isinstance(make(name)(table, kind=data.kind).kept, pa.Table)
    assert isinstance(make(name)(pl.from_arrow(table), kind=data.kind).kept, pl.DataFrame)
    assert isinstance(make(name)(data).kept, Dataset)


PLANNED = sorted(name for name, cls in REGISTRY.items() if issubclass(cls, PlannedStage))


def test_every_global_stage_is_planned():
    assert {"exact_dedup", "minhash_dedup", "decontaminate", "chunk_passages", "mine_hard_negatives"} <= set(PLANNED)
    assert {"label_issues", "retrieval_checks", "bias_report", "augment_mrc", "generate_questions"} <= set(PLANNED)


def real(name: str) -> Dataset:
    """The sample data of a kind the stage accepts: the KorQuAD-style sample with its planted
    defects (repeated and near-repeated questions, broken spans), or the stage's :func:`sample`."""
    kinds = REGISTRY[name].kinds
    if not kinds or "mrc" in kinds:
        return read(REPO / "sample_data" / "korquad_sample.json")
    return sample(name, copies=3)


@pytest.mark.parametrize("name", PLANNED)
def test_a_pickled_plan_splits_batches_in_any_order_like_the_plan_in_order(name):
    dataset = real(name)
    stage = make(name)
    stage.check_input(dataset)
    plan = stage.plan(dataset)
    shipped = pickle.loads(pickle.dumps(plan))
    batches, start = [], 0
    for batch in dataset.batches(50):
        batches.append((batch, start))
        start += batch.num_rows
    in_order = [stage.split(batch, plan, start) for batch, start in batches]
    reversed_ = [make(name).split(batch, shipped, start) for batch, start in reversed(batches)][::-1]
    for a, b in zip(in_order, reversed_, strict=True):
        assert a.kept.to_pylist() == b.kept.to_pylist()
        assert a.rejected.to_pylist() == b.rejected.to_pylist()
        assert (a.added, a.flags, a.rewrites) == (b.added, b.flags, b.rewrites)
    assert stage.plan_artifacts(plan).keys() == stage.plan_artifacts(shipped).keys()


def test_unknown_stage_suggests_the_closest_name():
    with pytest.raises(ConfigError, match="did you mean 'exact_dedup'"):
        get_stage_class("exact_dedupe")


def test_stage_refuses_a_kind_it_does_not_accept():
    corpus = Dataset.from_arrow(pa.table({"doc_id": ["d1"], "text": ["본문"]}), "corpus")
    with pytest.raises(ConfigError, match="does not accept kind 'corpus'.*accepts: mrc"):
        REGISTRY["validate_spans"]()(corpus)


@pytest.fixture
def unregistered():
    """Stage classes a test defines, taken out of the registry afterwards."""
    before = set(REGISTRY)
    yield
    for name in set(REGISTRY) - before:
        REGISTRY.pop(name)


def test_a_batch_that_breaks_the_declared_schema_names_the_stage_and_the_column(unregistered):
    from curate.errors import StageError
    from curate.stages.base import Split, Stage, reject

    class Shout(Stage):
        name = "test_shout"
        role = "flag"
        adds: ClassVar = {"loud": pa.bool_()}

        def process(self, batch, kind):
            return reject(
                batch.append_column("louder", pa.array([True] * batch.num_rows)),
                [True] * batch.num_rows,
                stage=self.id,
                reasons="x",
            )

    with pytest.raises(StageError, match="kept rows lacks declared column 'loud' at stage 'shouting'"):
        Shout(id="shouting")(sample("answer_in_question"))

    class Count(Stage):
        name = "test_count"
        role = "flag"
        adds: ClassVar = {"n": pa.int32()}

        def process(self, batch, kind):
            table = batch.append_column("n", pa.array(["many"] * batch.num_rows))
            return Split(table, reject(batch, [True] * batch.num_rows, stage=self.id, reasons="x").rejected)

    with pytest.raises(StageError, match="kept column 'n' is string, declared int32 at stage 'test_count'"):
        Count()(sample("answer_in_question"))


def test_a_planned_stage_that_loses_rows_in_a_batch_fails_that_batch(unregistered):
    from curate.errors import StageError
    from curate.stages.base import reject

    class Drop(PlannedStage):
        name = "test_drop"
        role = "filter"

        def plan(self, dataset):
            return dataset.num_rows - 1  # the last row goes missing

        def split(self, batch, plan, start):
            keep = batch.slice(0, max(0, min(batch.num_rows, plan - start)))
            return reject(keep, [True] * keep.num_rows, stage=self.id, reasons="x")

    with pytest.raises(StageError, match="stage 'test_drop' lost rows: 2 in \\+ 0 added, 1 kept"):
        Drop().execute(sample("answer_in_question"), batch_rows=2)


def test_a_missing_or_mistyped_column_has_one_wording():
    data = sample("answer_in_question")
    with pytest.raises(ConfigError) as missing:
        make("length_filter", field="summary")(data)
    assert str(missing.value).startswith("needs a string column 'summary' in its input at stage 'length_filter', ")
    assert "got 'missing'" in str(missing.value) and "columns: id, title, context, question" in str(missing.value)
    with pytest.raises(ConfigError) as mistyped:
        make("length_filter", field="answers")(data)
    assert str(mistyped.value).startswith("needs a string column 'answers' in its input at stage 'length_filter', ")
    assert "got 'list<item: struct<text: string" in str(mistyped.value)
