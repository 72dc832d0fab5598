"""The demo and the per-kind pipelines on sample_data/ find the defects planted there."""

import json
import unicodedata
from pathlib import Path

import pytest
import yaml

from curate import io, rejected_rows
from curate.pipeline import load_config, run_pipeline
from curate.validate import find_problems
from tests.conftest import REPO
from tests.llm.chat_server import ChatServer

SAMPLE = REPO / "sample_data"
DEFECTS = json.loads((SAMPLE / "defects.json").read_text(encoding="utf-8"))
MRC = DEFECTS["korquad_sample.json"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    config = load_config(REPO / "pipelines" / "demo.yaml")
    return run_pipeline(config, input=SAMPLE / "korquad_sample.json", output=out)


def by_stage(result):
    rows = rejected_rows(result.dir).to_pylist()
    found: dict[str, dict[str, str]] = {}
    for row in rows:
        found.setdefault(row["reject_stage"], {})[row["id"]] = row["reject_reason"]
    return found


def test_validate_reports_exactly_the_planted_span_problems():
    problems = find_problems(io.read(SAMPLE / "korquad_sample.json")).problems.to_pylist()
    found = {(p["id"], p["problem"]) for p in problems}
    shifted = {d["id"] for d in MRC["shifted_offset"]}
    mismatch = shifted | set(MRC["nfd_answer"]) | set(MRC["stray_whitespace"]) | set(MRC["answer_not_in_context"])
    expected = (
        {(i, "span_mismatch") for i in mismatch}
        | {(i, "offset_out_of_range") for i in MRC["out_of_range"]}
        | {(i, "empty_answer") for i in MRC["empty_answer"]}
        | {(i, "impossible_with_answers") for i in MRC["impossible_with_answers"]}
        | {(i, "duplicate_id") for i in MRC["duplicate_id"]}
    )
    assert found == expected


def test_demo_repairs_shifted_offsets_to_the_true_start(demo):
    kept = {r["id"]: r for r in io.read(demo.dir / "01_validate_spans" / "kept.parquet").to_arrow().to_pylist()}
    for defect in MRC["shifted_offset"]:
        row = kept[defect["id"]]
        assert row["answers"][defect["answer_index"]]["answer_start"] == defect["true_start"]
        assert row["span_repair"]


def test_demo_rejects_unrepairable_rows_and_duplicates_with_reasons(demo):
    rejected = by_stage(demo)
    spans = rejected["validate_spans"]
    assert {i for i, r in spans.items() if r == "answer_not_found"} == set(MRC["answer_not_in_context"])
    assert {i for i, r in spans.items() if r == "empty_answer"} == set(MRC["empty_answer"])
    assert {i for i, r in spans.items() if r == "impossible_with_answers"} == set(MRC["impossible_with_answers"])
    assert {i for i, r in spans.items() if r == "duplicate_id"} == set(MRC["duplicate_id"])
    assert set(rejected["exact_dedup"]) == {d["id"] for d in MRC["exact_duplicate_question"]}
    assert set(rejected["near_dedup"]) == set(MRC["near_duplicate_paragraph"])
    assert set(rejected["language_filter"]) == set(MRC["english"])
    assert set(rejected["language_filter"].values()) == {"wrong_language"}
    assert set(rejected["korean_quality"]) == set(MRC["junk_spam"])
    assert set(rejected["gopher_quality"]) == set(MRC["junk_html"])  # a notice, not prose
    assert rejected["pii"] == {qid: "pii_in_answer" for qid in MRC["pii_answer"]}
    assert "mrc_checks" not in rejected  # every row it would reject is gone already


def test_demo_redacts_contact_details_and_keeps_the_other_answers_exact(demo):
    rows = {row["id"]: row for row in demo.output.to_arrow().to_pylist()}
    kept = set(MRC["pii_context"]) - set(MRC["pii_answer"])
    assert kept <= set(rows)
    for qid in kept:
        row = rows[qid]
        assert "@" not in row["context"] and "010-" not in row["context"]
        assert "[EMAIL]" in row["context"] and "[PHONE]" in row["context"] and "[RRN]" in row["context"]
        assert row["pii_kinds"] == ["email", "phone", "rrn"]
        for answer in row["answers"]:
            start = answer["answer_start"]
            assert row["context"][start : start + len(answer["text"])] == answer["text"]


def test_demo_output_keeps_every_score_column_for_rethresholding(demo):
    names = set(demo.output.to_arrow().column_names)
    assert {"lang_context", "lang_context_score", "script_context", "lang_question"} <= names
    assert {"gopher_word_count", "gopher_dup_line_frac", "korean_jamo_ratio", "pii_count", "mrc_flags"} <= names


def test_demo_output_is_clean_nfc_and_every_span_exact(demo):
    output = io.read(demo.exports[0])
    assert find_problems(output).clean
    rows = {r["id"]: r for r in output.to_arrow().to_pylist()}
    notices = {r["id"]: r for r in rejected_rows(demo.dir).to_pylist() if r["reject_stage"] == "gopher_quality"}
    for qid in MRC["nfd_paragraph"] + MRC["nfd_answer"] + MRC["junk_control"] + MRC["junk_html"]:
        context = (rows.get(qid) or notices[qid])["context"]
        assert unicodedata.is_normalized("NFC", context)
        assert "\u200b" not in context and "<p>" not in context and "&nbsp;" not in context
    for qid in MRC["irregular_whitespace"]:
        assert "  " not in rows[qid]["context"] and "\t" not in rows[qid]["context"]
    assert demo.stages[-1].stats.rows_kept == output.num_rows


@pytest.mark.parametrize("pipeline", sorted((REPO / "pipelines").glob("*.yaml")), ids=lambda p: p.stem)
def test_every_shipped_pipeline_runs_on_sample_data(pipeline: Path, tmp_path, monkeypatch):
    """LLM stages are pointed at the local chat-completions server, with their cache in tmp_path."""
    monkeypatch.chdir(REPO)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    config = yaml.safe_load(pipeline.read_text(encoding="utf-8"))
    llm_stages = [spec for spec in config["stages"] if spec["use"] == "generate_questions"]
    with ChatServer() as server:
        for spec in llm_stages:
            spec["params"].update(base_url=server.base_url, cache_dir=str(tmp_path / "llm-cache"))
        result = run_pipeline(config, output=tmp_path / "run")
        assert server.count == sum(spec["params"].get("max_passages", 0) for spec in llm_stages)
    assert result.stages and result.output.num_rows > 0
    for run in result.stages:
        assert run.stats.rows_kept + run.stats.rows_rejected == run.stats.rows_in + run.stats.rows_added
        if run.use == "generate_questions":
            assert run.stats.rows_added > 0


def test_classification_pipeline_finds_planted_duplicates_and_empty_texts(tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    result = run_pipeline(REPO / "pipelines" / "classification.yaml", output=tmp_path / "run")
    rejected = by_stage(result)
    cls = DEFECTS["reviews_cls.tsv"]
    assert set(rejected["length_filter"]) == set(cls["empty_text"])
    assert set(rejected["language_filter"]) == set(cls["english"])
    assert set(rejected["exact_dedup"]) == {d["id"] for d in cls["exact_duplicate"]}


def test_reader_augmented_pipeline_adds_tagged_rows_that_validate_as_squad2(tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    result = run_pipeline(REPO / "pipelines" / "reader_augmented.yaml", output=tmp_path / "run")
    exported = io.read(result.exports[0])
    assert find_problems(exported).clean
    rows = result.output.to_arrow().to_pylist()
    sources = {row["source"] for row in rows}
    assert {"original", "augment:distractor", "augment:shuffle", "augment:unanswerable"} <= sources
    for row in rows:
        if row["source"] == "augment:unanswerable":
            assert row["is_impossible"] and row["answers"] == []
        for answer in row["answers"]:
            start = answer["answer_start"]
            assert row["context"][start : start + len(answer["text"])] == answer["text"]
    doc = json.loads(result.exports[0].read_text(encoding="utf-8"))
    assert doc["version"] == "v2.0"


def test_retrieval_triplets_pipeline_never_mines_a_false_negative(tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    result = run_pipeline(REPO / "pipelines" / "retrieval_triplets.yaml", output=tmp_path / "run")
    assert result.output.kind == "triplets"
    rows = result.output.to_arrow().to_pylist()
    assert rows and all(1 <= len(row["negatives"]) <= 3 for row in rows)
    assert sum(len(row["negatives"]) == 3 for row in rows) >= 0.95 * len(rows)  # a 39-passage corpus
    for row in rows:
        assert row["positive_id"] not in row["negative_ids"]
        for negative in row["negatives"]:
            assert negative != row["positive"]
            assert not any(answer in negative for answer in row["answers"])
    dpr = json.loads((result.dir / "train.dpr.json").read_text(encoding="utf-8"))
    assert len(dpr) == len(rows)
    assert [len(e["hard_negative_ctxs"]) for e in dpr] == [len(r["negatives"]) for r in rows]


def test_beir_pipeline_cleans_the_retrieval_set_and_its_qrels(tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    planted = DEFECTS["retrieval"]
    result = run_pipeline(REPO / "pipelines" / "beir.yaml", output=tmp_path / "run")
    out = tmp_path / "run" / "beir"
    corpus = io.read(out, format="beir", kind="corpus").to_arrow()
    kept = set(corpus.column("doc_id").to_pylist())
    copies = {d["id"]: d["duplicate_of"] for d in planted["duplicate_passage"]}
    assert kept.isdisjoint({*copies, *planted["empty_passage"]}) and set(copies.values()) <= kept
    assert corpus.num_rows == 64 - len(copies) - len(planted["empty_passage"])
    qrels = io.read(out, format="beir", kind="qrels").to_arrow()
    assert set(qrels.column("doc_id").to_pylist()) <= kept
    missing = planted["missing_doc_qrel"][0]
    by_reason = {r["reject_reason"]: r for r in rejected_rows(result.dir).to_pylist()}
    assert by_reason["missing_document"]["doc_id"] == missing["corpus-id"]
    assert by_reason["too_short"]["doc_id"] in planted["empty_passage"]
    assert qrels.num_rows == 40 - 1 and len(io.read(out, format="beir", kind="queries")) == 40
