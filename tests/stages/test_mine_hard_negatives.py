"""The mine_hard_negatives stage: MRC rows in, triplets kept, unanswerable / unminable questions rejected."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from curate.dataset import Dataset
from curate.dedup.plan import MinHashSettings, cluster_texts
from curate.errors import ConfigError
from curate.io import read, read_bundle, write, write_bundle
from curate.retrieval.build import SUMMARY_SCHEMA, TRIPLET_SCHEMA, mrc_to_retrieval
from curate.retrieval.negatives import GUARDS, MiningSettings, fold
from curate.stages import REGISTRY
from curate.stages.mine_hard_negatives import MineHardNegatives, mine_retrieval_folder
from curate.text.answers import KeyedText, answer_variants
from tests.conftest import CONTEXT, REPO, answer, mrc_table, needs_shared
from tests.outputs import folder_bytes

SAMPLE = REPO / "sample_data" / "korquad_sample.json"


@pytest.fixture(scope="module")
def sample() -> Dataset:
    return read(SAMPLE)


def check_triplets(triplets: pa.Table, corpus_texts: list[str], count: int, threshold: float = 0.8) -> None:
    """No negative is the positive (or its normalized copy), holds an answer, or is a near-duplicate
    of the positive; at most ``count`` negatives, at least one."""
    texts = list(dict.fromkeys(corpus_texts))
    labels = cluster_texts(texts, MinHashSettings(threshold=threshold)).label
    label_of = dict(zip(texts, labels.tolist(), strict=True))
    for row in triplets.to_pylist():
        assert 1 <= len(row["negatives"]) <= count
        assert (
            len(row["negatives"])
            == len(row["negative_ids"])
            == len(row["negative_titles"])
            == len(row["negative_scores"])
        )
        assert row["positive_id"] not in row["negative_ids"]
        for text, title in zip(row["negatives"], row["negative_titles"], strict=True):
            assert fold(text) != fold(row["positive"])
            passage = f"{title or ''} {text}"
            assert not any(fold(a) in fold(passage) for a in row["answers"])
            assert not any(KeyedText.of(passage).contains(k) for a in row["answers"] for k in answer_variants(a))
            assert label_of[text] != label_of[row["positive"]]
        assert row["negative_scores"] == sorted(row["negative_scores"], reverse=True)


def test_sample_questions_become_guarded_triplets(sample):
    result = MineHardNegatives()(sample)
    kept, rejected = result.kept, result.rejected
    assert kept.kind == "triplets" and rejected.kind == "mrc"
    assert kept.to_arrow().schema.names == TRIPLET_SCHEMA.names
    assert kept.num_rows + rejected.num_rows == sample.num_rows == 272
    assert result.stats.rows_kept == kept.num_rows and result.stats.rows_added == 0
    reasons = result.stats.reasons
    assert reasons["no_positive"] == 17 and set(reasons) <= {"no_positive", "no_negatives"}
    triplets = kept.to_arrow()
    check_triplets(triplets, sample.to_arrow().column("context").to_pylist(), count=5)
    rows = {r["id"]: r for r in sample.to_arrow().to_pylist() if r["id"] not in ("ko-0127", "ko-0205")}
    for row in triplets.to_pylist():
        if row["query_id"] in rows:
            source = rows[row["query_id"]]
            assert row["query"] == source["question"] and row["positive"] == source["context"]
            assert row["positive_id"] == source["passage_id"] and row["positive_title"] == source["title"]
            assert row["answers"] == list(dict.fromkeys(a["text"] for a in source["answers"] if a["text"].strip()))
            assert row["positive_score"] > 0
    # near-duplicate paragraphs of the sample are never negatives of each other
    near = {"korquad_sample/2/1": "korquad_sample/4/2", "korquad_sample/4/2": "korquad_sample/2/1"}
    assert all(near.get(r["positive_id"]) not in r["negative_ids"] for r in triplets.to_pylist())
    # rejected rows keep their MRC columns and say why
    bad = rejected.to_arrow()
    assert bad.schema.names[: len(sample.schema.names)] == sample.schema.names
    impossible = bad.filter(pc.equal(bad.column("reject_reason"), "no_positive")).column("id").to_pylist()
    assert "ko-0062" in impossible and "ko-0128" in impossible
    assert set(bad.column("reject_stage").to_pylist()) == {"mine_hard_negatives"}
    assert all(bad.column("reject_detail").to_pylist())
    summary = result.artifacts["mining"]
    assert summary.schema == SUMMARY_SCHEMA and summary.num_rows == 1
    info = summary.to_pylist()[0]
    assert info["queries"] == 255 and info["negatives"] == sum(len(n) for n in triplets.column("negatives").to_pylist())
    assert info["corpus"] == 39 and info["dropped_near_duplicate"] > 0 and info["dropped_answer"] > 0
    assert info["no_negatives"] == reasons.get("no_negatives", 0) and info["queries_per_second"] > 0


def test_a_question_whose_passage_shares_no_word_with_others_is_rejected(sample):
    result = MineHardNegatives()(sample)
    bad = result.rejected.to_arrow().to_pylist()
    unminable = [r for r in bad if r["reject_reason"] == "no_negatives"]
    assert [r["id"] for r in unminable] == ["ko-0224"]
    assert "no passage besides the positive shares a token" in unminable[0]["reject_detail"]


def test_stage_is_deterministic_and_streams_in_batches(sample, tmp_path):
    outputs = []
    for attempt in range(2):
        out = tmp_path / str(attempt)
        out.mkdir()
        kept, rejected, stats = MineHardNegatives(count=3).execute(sample, out_dir=out, batch_rows=50)
        assert stats.rows_in == stats.rows_kept + stats.rows_rejected == 272
        outputs.append((folder_bytes(kept), folder_bytes(rejected)))
    assert outputs[0] == outputs[1]
    whole = MineHardNegatives(count=3)(sample).kept.to_arrow()
    assert pq.read_table(tmp_path / "0" / "kept.parquet").select(whole.schema.names).equals(whole)


def test_margin_tokenizer_and_window_params(sample):
    base = MineHardNegatives()(sample)
    margin = MineHardNegatives(margin=0.5)(sample)
    assert margin.artifacts["mining"].column("dropped_margin")[0].as_py() > 0
    for row in margin.kept.to_arrow().to_pylist():
        assert all(s < 0.5 * row["positive_score"] for s in row["negative_scores"])
    assert margin.stats.reasons.get("no_negatives", 0) >= base.stats.reasons.get("no_negatives", 0)
    word = MineHardNegatives(tokenizer="word", count=2, rank_from=2)(sample)
    assert word.artifacts["mining"].column("tokenizer")[0].as_py() == "word"
    assert max(len(n) for n in word.kept.to_arrow().column("negatives").to_pylist()) == 2
    loose = MineHardNegatives(near_duplicates=False, answers=False)(sample)
    info = loose.artifacts["mining"].to_pylist()[0]
    assert info["dropped_near_duplicate"] == info["dropped_answer"] == 0


def test_params_are_checked():
    with pytest.raises(ConfigError, match="allowed:"):
        MineHardNegatives(bogus=1)
    with pytest.raises(ConfigError, match="bad value for parameter 'count' .*greater than or equal to 1"):
        MineHardNegatives(count=0)
    with pytest.raises(ConfigError, match="both embedding_column and query_embedding_column"):
        MineHardNegatives(embedding_column="e")
    with pytest.raises(ConfigError, match="tokenizer"):
        MineHardNegatives(tokenizer="chars")
    assert MineHardNegatives.name == "mine_hard_negatives" and MineHardNegatives().output_kind("mrc") == "triplets"


def test_only_mrc_is_accepted_and_paths_are_checked(sample, tmp_path):
    corpus = read(REPO / "sample_data" / "retrieval", format="beir", kind="corpus")
    with pytest.raises(ConfigError, match="does not accept kind 'corpus'"):
        MineHardNegatives()(corpus)
    with pytest.raises(ConfigError, match="corpus not found"):
        MineHardNegatives(corpus=str(tmp_path / "absent.jsonl"))(sample)
    with pytest.raises(ConfigError, match="needs a .*column .* in its input"):
        MineHardNegatives(embedding_column="e", query_embedding_column="q")(sample)


def test_empty_input(sample):
    empty = Dataset.from_arrow(sample.to_arrow().slice(0, 0), "mrc")
    result = MineHardNegatives()(empty)
    assert result.kept.num_rows == 0 and result.rejected.num_rows == 0
    assert result.kept.to_arrow().schema.names == TRIPLET_SCHEMA.names
    assert {"reject_stage", "reject_reason", "reject_detail"} <= set(result.rejected.schema.names)


def test_extra_corpus_adds_candidates(tmp_path):
    rows = [
        {"id": "q1", "context": CONTEXT, "question": "대한민국의 수도는?", "answers": [answer(CONTEXT, "서울")]},
        {"id": "q2", "context": CONTEXT, "question": "서울을 가로지르는 강은?", "answers": [answer(CONTEXT, "한강")]},
    ]
    extra = [
        {"_id": "x1", "title": "강", "text": "서울을 가로지르는 강 이야기: 낙동강은 부산을 지난다."},
        {"_id": "x2", "title": "", "text": "대한민국의 수도 이전 논의는 세종시로 이어졌다."},
        {"_id": "x3", "title": "", "text": "가로지르는 강은 한강이다."},  # holds q2's answer
    ]
    path = tmp_path / "extra.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in extra), encoding="utf-8")
    stage = MineHardNegatives(corpus=str(path))
    assert stage.input_files() == [path]
    result = stage(Dataset.from_arrow(mrc_table(rows), "mrc"))
    triplets = {r["query_id"]: r for r in result.kept.to_arrow().to_pylist()}
    assert "x2" in triplets["q1"]["negative_ids"]
    assert "x1" in triplets["q2"]["negative_ids"] and "x3" not in triplets["q2"]["negative_ids"]
    assert result.artifacts["mining"].column("corpus")[0].as_py() == 4
    # a BEIR folder as the extra corpus
    folder = tmp_path / "beir"
    write_bundle({"corpus": Dataset.from_arrow(pa.Table.from_pylist(extra), "corpus")}, folder, format="beir")
    again = MineHardNegatives(corpus=str(folder))(Dataset.from_arrow(mrc_table(rows), "mrc"))
    assert again.kept.to_arrow().equals(result.kept.to_arrow())


def test_dense_mode_with_embedding_columns():
    pytest.importorskip("faiss")
    contexts = [
        "서울은 대한민국의 수도이다.",
        "부산은 항구 도시이다.",
        "대구는 분지에 있다.",
        "광주는 빛고을이다.",
        "서울에는 한강이 흐른다.",
    ]
    vectors = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [0.6, 0.4, 0.0], [0.9, 0.0, 0.1]]
    rows = []
    for i, (context, vector) in enumerate(zip(contexts, vectors, strict=True)):
        word = context.split()[0][:2]
        rows.append(
            {
                "id": f"q{i}",
                "context": context,
                "question": f"{word}?",
                "answers": [answer(context, word)],
                "e": vector,
                "qe": vector,
            }
        )
    table = pa.Table.from_pylist(rows)
    result = MineHardNegatives(count=2, embedding_column="e", query_embedding_column="qe", near_duplicates=False)(
        Dataset.from_arrow(table, "mrc")
    )
    triplets = {r["query_id"]: r for r in result.kept.to_arrow().to_pylist()}
    # q0 = [1, 0, 0]: passage 4 (0.9, holds "서울") is dropped by the answer guard; then 3 (0.6), then 1 and 2 tie at 0
    assert triplets["q0"]["negative_ids"] == [triplets["q3"]["positive_id"], triplets["q1"]["positive_id"]]
    assert triplets["q0"]["negative_scores"] == pytest.approx([0.6, 0.0])
    assert triplets["q0"]["positive_score"] == pytest.approx(1.0)
    assert result.artifacts["mining"].column("mode")[0].as_py() == "dense"
    bad = table.set_column(table.column_names.index("qe"), "qe", pa.array([[1.0, 0.0]] + [[1.0, 0.0, 0.0]] * 4))
    with pytest.raises(ConfigError, match="differ in size"):
        MineHardNegatives(embedding_column="e", query_embedding_column="qe")(Dataset.from_arrow(bad, "mrc"))
    text = table.set_column(table.column_names.index("qe"), "qe", pa.array(["x"] * 5))
    with pytest.raises(ConfigError, match="list<float>"):
        MineHardNegatives(embedding_column="e", query_embedding_column="qe")(Dataset.from_arrow(text, "mrc"))


def test_pipeline_run_turns_mrc_into_triplets_and_exports_training_files(sample, tmp_path, monkeypatch):
    from curate.pipeline import run_pipeline

    monkeypatch.setitem(REGISTRY, "mine_hard_negatives", MineHardNegatives)
    config = {
        "name": "mine",
        "input": {"path": str(SAMPLE)},
        "output": {
            "dir": str(tmp_path / "run"),
            "export": [
                {"path": "train_dpr.json", "format": "dpr"},
                {"path": "train_st.jsonl", "format": "sentence-transformers"},
            ],
        },
        "stages": [{"use": "mine_hard_negatives", "params": {"count": 2}}],
    }
    result = run_pipeline(config)
    assert result.output.kind == "triplets" and result.output.num_rows > 240
    run = result.stages[0]
    assert "mining.parquet" in run.artifacts
    dpr = json.loads((tmp_path / "run" / "train_dpr.json").read_text(encoding="utf-8"))
    assert len(dpr) == result.output.num_rows and len(dpr[0]["hard_negative_ctxs"]) <= 2
    lines = (tmp_path / "run" / "train_st.jsonl").read_text(encoding="utf-8").splitlines()
    negatives = sum(len(n) for n in result.output.to_arrow().column("negatives").to_pylist())
    assert len(lines) == negatives > result.output.num_rows
    assert set(json.loads(lines[0])) == {"anchor", "positive", "negative"}


# --------------------------------------------------------------------------- real data


@pytest.mark.integration
@pytest.mark.parametrize("language", ["en", "zh"])
def test_xquad_mining_keeps_every_guarantee(language, tmp_path):
    path = needs_shared("xquad", f"xquad.{language}.json")
    dataset = read(path)
    contexts = dataset.to_arrow().column("context").to_pylist()
    result = MineHardNegatives()(dataset)
    assert dataset.num_rows == 1190 and len(set(contexts)) == 240
    assert result.kept.num_rows + result.rejected.num_rows == 1190
    triplets = result.kept.to_arrow()
    check_triplets(triplets, contexts, count=5)
    info = result.artifacts["mining"].to_pylist()[0]
    assert info["queries"] == 1190 and info["corpus"] == 240
    assert info["dropped_answer"] > 0 and info["queries_per_second"] > 50
    assert info["short_queries"] < 1190 * 0.05  # nearly every question gets all five
    assert sum(len(n) == 5 for n in triplets.column("negatives").to_pylist()) > 1100
    # the same set as a BEIR folder
    parts = mrc_to_retrieval(dataset.to_arrow())
    folder = write_bundle({k: Dataset.from_arrow(v, k) for k, v in parts.items()}, tmp_path / "beir", format="beir")
    from_folder = mine_retrieval_folder(read_bundle(folder), MiningSettings())
    check_triplets(from_folder, contexts, count=5)
    assert from_folder.column("negative_ids").to_pylist() == triplets.column("negative_ids").to_pylist()
    # and written as DPR
    write(Dataset(kind="triplets", table=from_folder), tmp_path / "dpr.json", format="dpr")
    entries = json.loads((tmp_path / "dpr.json").read_text(encoding="utf-8"))
    assert len(entries) == from_folder.num_rows
    assert all(
        not any(fold(a) in fold(c["text"]) for a in e["answers"] for c in e["hard_negative_ctxs"]) for e in entries
    )
    assert {g for g in GUARDS} == {k.removeprefix("dropped_") for k in info if k.startswith("dropped_")}
