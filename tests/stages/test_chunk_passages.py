"""``chunk_passages`` on MRC questions and on a retrieval corpus."""

from __future__ import annotations

import pyarrow as pa
import pytest

from curate.dataset import Dataset
from curate.errors import ConfigError
from curate.io import read
from curate.mrc.checks import check_row
from curate.stages.chunk_passages import ChunkPassages
from curate.stages.validate_spans import ValidateSpans
from tests.conftest import CONTEXT, REPO, answer

SAMPLE = REPO / "sample_data"


def korquad() -> Dataset:
    return read(SAMPLE / "korquad_sample.json")


def exact(row) -> bool:
    problems = check_row(row["context"], row["answers"], row["is_impossible"], row["plausible_answers"])
    return not [p for p in problems if p.code in ("span_mismatch", "offset_out_of_range", "empty_answer")]


def test_mrc_keeps_every_question_and_every_answer_exact(tmp_path):
    data = korquad()
    stage = ChunkPassages(size=150, overlap=40)
    kept_path, rejected_path, stats = stage.execute(data, out_dir=tmp_path, batch_rows=50)
    kept = pa.parquet.read_table(kept_path).to_pylist()
    rejected = pa.parquet.read_table(rejected_path).to_pylist()
    assert stats.rows_in == 272 and stats.rows_added == 0
    assert stats.rows_kept + stats.rows_rejected == stats.rows_in
    assert all(exact(row) for row in kept)
    assert {r["reject_reason"] for r in rejected} == {"span_invalid"}
    originals = {(r["id"], r["question"]): r for r in data.to_arrow().to_pylist()}  # ids repeat in the sample
    assert len(originals) == 272
    assert all(not exact(originals[r["id"], r["question"]]) for r in rejected)
    for row in kept:
        before = originals[row["id"], row["question"]]
        assert before["context"][row["start"] : row["start"] + len(row["context"])] == row["context"]
        if len(before["context"].strip()) <= 150:
            assert row["context"] == before["context"] and row["passage_id"] == before["passage_id"]
        else:
            assert row["passage_id"].split("#")[0] == before["passage_id"] == row["parent_id"]
            assert len(row["context"].strip()) <= 150 or row["chunk_widened"]
    assert {"parent_id", "start", "chunk_widened"} <= set(kept[0])


def test_after_validate_spans_nothing_is_rejected_and_output_is_deterministic():
    repaired = ValidateSpans()(korquad()).kept
    first = ChunkPassages(size=120)(repaired)
    assert first.stats.rows_rejected == 0 and first.stats.rows_kept == repaired.num_rows
    contexts = {(r["passage_id"], r["context"]) for r in first.kept.to_arrow().to_pylist()}
    assert len({pid for pid, _ in contexts}) == len(contexts)  # one passage id, one text
    small = ChunkPassages(size=120).execute(repaired, batch_rows=7)[0]
    assert small.equals(first.kept.to_arrow().cast(small.schema))


def test_questions_on_one_context_share_its_chunks():
    rows = [
        {"id": "q1", "context": CONTEXT, "question": "수도는?", "answers": [answer(CONTEXT, "서울")]},
        {"id": "q2", "context": CONTEXT, "question": "인구는?", "answers": [answer(CONTEXT, "약 940만 명")]},
        {"id": "q3", "context": CONTEXT, "question": "강은?", "answers": [answer(CONTEXT, "한강")]},
    ]
    data = Dataset.from_arrow(pa.Table.from_pylist(rows), "mrc")
    out = ChunkPassages(size=20).execute(data, batch_rows=1)[0].to_pylist()
    assert [r["context"] for r in out] == [
        "서울은 대한민국의 수도이다.",
        "서울의 인구는 약 940만 명이다.",
        "한강이 서울을 가로지른다.",
    ]
    assert [r["passage_id"].split("#")[1] for r in out] == ["0", "1", "2"]
    assert len({r["parent_id"] for r in out}) == 1
    assert [r["answers"][0]["answer_start"] for r in out] == [0, 8, 0]


def test_corpus_rows_split_into_passages_counted_as_added():
    corpus = read(SAMPLE / "retrieval", format="beir", kind="corpus")
    result = ChunkPassages(size=100, unit="chars")(corpus)
    stats = result.stats
    kept = result.kept.to_arrow().to_pylist()
    assert stats.rows_in == 64 and stats.rows_rejected == 0
    assert stats.rows_kept == stats.rows_in + stats.rows_added and stats.rows_added > 0
    cut = {r["parent_id"] for r in kept if r["source"] == "chunk"}
    assert stats.rewrites == {"chunked": len(cut)} and stats.rows_rewritten == len(cut) > 0
    originals = {r["doc_id"]: r for r in corpus.to_arrow().to_pylist()}
    assert {r["parent_id"] for r in kept} == set(originals)
    for row in kept:
        parent = originals[row["parent_id"]]
        assert row["title"] == parent["title"]
        assert parent["text"][row["start"] : row["start"] + len(row["text"])] == row["text"]
        if row["doc_id"] == row["parent_id"]:
            assert row["text"] == parent["text"] and row["source"] == "original"
        else:
            assert row["doc_id"].startswith(row["parent_id"] + "#") and len(row["text"]) <= 100
            assert row["source"] == "chunk"
    assert len({r["doc_id"] for r in kept}) == len(kept)


def test_token_chunks_fit_the_budget_and_keep_every_answer_exact(tokenizer_path):
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(tokenizer_path))

    def tokens(text: str) -> int:
        return len(tokenizer.encode(text.strip(), add_special_tokens=False))

    repaired = ValidateSpans()(korquad()).kept
    stage = ChunkPassages(unit="tokens", tokenizer=str(tokenizer_path), size=64, overlap=16)
    result = stage(repaired)
    assert result.stats.rows_rejected == 0 and result.stats.rows_kept == repaired.num_rows
    originals = {(r["id"], r["question"]): r for r in repaired.to_arrow().to_pylist()}
    long = 0
    for row in result.kept.to_arrow().to_pylist():
        before = originals[row["id"], row["question"]]
        assert exact(row)
        assert before["context"][row["start"] : row["start"] + len(row["context"])] == row["context"]
        assert (tokens(row["context"]) > 64) == row["chunk_widened"]
        if tokens(before["context"]) > 64:
            long += 1
            assert row["passage_id"].startswith(before["passage_id"] + "#")
        else:
            assert row["context"] == before["context"]
    assert long > 100
    assert stage.input_files() == [tokenizer_path]

    corpus = ChunkPassages(unit="tokens", tokenizer=str(tokenizer_path), size=40)(
        read(SAMPLE / "retrieval", format="beir", kind="corpus")
    )
    passages = corpus.kept.to_arrow().to_pylist()
    assert corpus.stats.rows_added > 0
    assert all(tokens(p["text"]) <= 40 for p in passages if p["source"] == "chunk")


def test_parameters_and_kinds_are_checked(tokenizer_path, tmp_path):
    with pytest.raises(ConfigError, match="overlap"):
        ChunkPassages(size=10, overlap=10)
    with pytest.raises(ConfigError, match="unit 'tokens' needs a tokenizer"):
        ChunkPassages(unit="tokens")
    with pytest.raises(ConfigError, match="tokenizer is only used with unit 'tokens'"):
        ChunkPassages(unit="words", tokenizer=str(tokenizer_path))
    with pytest.raises(ConfigError, match=f"tokenizer file not found at stage 'chunk_passages', {tmp_path}"):
        ChunkPassages(unit="tokens", tokenizer=str(tmp_path / "none.json"))(korquad())
    reviews = read(SAMPLE / "reviews_cls.tsv")
    with pytest.raises(ConfigError, match="does not accept kind"):
        ChunkPassages()(reviews)
