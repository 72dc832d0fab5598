"""A retrieval set (corpus + queries + qrels) as one pipeline input: the primary part runs through
the stages, the qrels follow the passages a dedup keeps, and the whole set is published."""

import json
import re

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from curate import io
from curate.dataset import Dataset
from curate.errors import ConfigError
from curate.pipeline import run_pipeline
from tests.conftest import REPO
from tests.test_cli import curate, without_progress

LONG = (
    "한강은 태백산맥에서 시작하여 서울을 가로질러 황해로 흘러드는 강으로, 길이는 약 514킬로미터이며 "
    "유역 면적은 남한에서 가장 넓다. 강을 따라 많은 다리와 공원이 놓여 있어 시민들이 즐겨 찾는다."
)
PASSAGES = {
    "p1": "서울은 대한민국의 수도이다. 서울의 인구는 약 940만 명이다.",
    "p2": "서울은  대한민국의 수도이다.  서울의 인구는 약 940만 명이다.",  # p1 with extra spaces
    "p3": LONG,
    "p4": LONG.replace("즐겨 찾는다", "자주 찾는다"),  # a near-copy of p3
    "p5": "부산은 대한민국 남동쪽에 있는 항구 도시로, 해운대 해수욕장이 유명하다.",
    "p6": "",  # empty: the length filter removes it, so its qrel points nowhere
    "p7": "제주도는 화산섬으로 한라산이 섬 한가운데 솟아 있다.",
}
QUERIES = {
    "q1": "대한민국의 수도는?",
    "q2": "서울의 인구는?",
    "q3": "한강의 길이는?",
    "q4": "빈 문서의 질문",
    "q5": "부산의 해수욕장은?",
    "q6": "제주도의 산은?",
}
QRELS = [("q1", "p2"), ("q2", "p1"), ("q2", "p2"), ("q3", "p4"), ("q4", "p6"), ("q5", "p5"), ("q6", "p7")]


def beir_folder(path):
    corpus = pa.table({"doc_id": list(PASSAGES), "title": [""] * len(PASSAGES), "text": list(PASSAGES.values())})
    queries = pa.table({"query_id": list(QUERIES), "text": list(QUERIES.values())})
    qrels = pa.table(
        {
            "query_id": [q for q, _ in QRELS],
            "doc_id": [d for _, d in QRELS],
            "score": pa.array([1] * len(QRELS), pa.int32()),
        }
    )
    parts = {"corpus": corpus, "queries": queries, "qrels": qrels}
    return io.write_bundle({k: Dataset.from_arrow(t, k) for k, t in parts.items()}, path, format="beir")


DEDUP = {"fields": ["text"], "threshold": 0.7, "shingle": "char", "ngram": 3}


def pipeline_file(tmp_path, source, stages, **extra):
    config = {
        "name": "set",
        "input": {"path": str(source), **extra},
        "output": {"dir": str(tmp_path / "run"), "export": [{"path": "beir", "format": "beir"}]},
        "stages": stages,
    }
    path = tmp_path / "set.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


TEMPLATE_STAGES = [
    {"use": "normalize_text", "params": {"fields": ["title", "text"]}},
    {"use": "length_filter", "params": {"field": "text", "min": 1}},
    {"use": "exact_dedup", "params": {"fields": ["text"]}},
    {"use": "minhash_dedup", "id": "near_dedup", "params": DEDUP},
    {"use": "retrieval_checks", "part": "qrels"},
]


def artifact(stage_dir, name):
    path = stage_dir / f"{name}.parquet"
    return pq.read_table(path).to_pylist() if path.exists() else []


def read_qrels(folder):
    return io.read(folder, format="beir", kind="qrels").to_arrow()


def test_dedup_of_a_beir_set_moves_qrels_to_kept_passages_publishes_and_resumes(tmp_path):
    source = beir_folder(tmp_path / "in")
    pipeline = pipeline_file(tmp_path, source, TEMPLATE_STAGES)
    done = curate("run", pipeline)
    assert done.returncode == 0, done.stderr
    run = tmp_path / "run"

    corpus = io.read(run / "beir", format="beir", kind="corpus").to_arrow()
    kept_ids = set(corpus.column("doc_id").to_pylist())
    assert kept_ids == {"p1", "p3", "p5", "p7"} or kept_ids == {"p1", "p4", "p5", "p7"}
    qrels = read_qrels(run / "beir")
    pairs = list(zip(qrels.column("query_id").to_pylist(), qrels.column("doc_id").to_pylist(), strict=True))
    assert {d for _, d in pairs} <= kept_ids  # no qrel points at a removed passage
    removed = {}
    for stage in ("03_exact_dedup", "04_near_dedup"):
        rows = pq.read_table(run / stage / "rejected.parquet").to_pylist()
        removed.update({r["doc_id"]: r["duplicate_of"] for r in rows})
    assert removed.keys() == {"p2", "p3", "p4"} - kept_ids
    for query, doc in QRELS:  # each qrel of a removed passage now points at the passage kept in its place
        if doc in removed:
            assert (query, removed[doc]) in pairs
    assert pairs.count(("q2", "p1")) == 1  # q2 judged p1 and its copy p2: merged into one
    moves = [m for stage in ("03_exact_dedup", "04_near_dedup") for m in artifact(run / stage, "qrels_repointed")]
    listed = sorted((m["query_id"], m["doc_id"], m["duplicate_of"]) for m in moves)
    assert listed == sorted((q, d, removed[d]) for q, d in QRELS if d in removed)
    checked = pq.read_table(run / "05_retrieval_checks" / "rejected.parquet").to_pylist()
    assert [(r["query_id"], r["doc_id"], r["reject_reason"]) for r in checked] == [("q4", "p6", "missing_document")]
    assert len(pairs) == 5

    # the published set: output.parquet is the primary (the corpus), the other parts beside it
    manifest = json.loads((run / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["output"]["kind"] == "corpus" and manifest["output"]["rows"] == corpus.num_rows
    assert set(manifest["output"]["parts"]) == {"qrels", "queries"}
    for info in manifest["output"]["parts"].values():
        assert pq.read_metadata(run / info["path"]).num_rows == info["rows"]
    assert pq.read_metadata(run / "output.qrels.parquet").num_rows == len(pairs)
    assert pq.read_metadata(run / "output.queries.parquet").num_rows == len(QUERIES)

    # counts printed = counts written (per stage: the qrels it changed)
    printed = re.findall(r"(\d\d_\w+): .*; qrels (\d+) -> (\d+) rows", without_progress(done.stderr))
    assert printed and {name for name, _, _ in printed} <= {"03_exact_dedup", "04_near_dedup"}
    for stage, before, after in printed:
        assert pq.read_metadata(run / stage / "parts" / "qrels.parquet").num_rows == int(after)
        record = json.loads((run / stage / "stats.json").read_text(encoding="utf-8"))
        assert record["parts"]["qrels"] == [int(before), int(after)]

    again = curate("run", pipeline)
    assert again.returncode == 0, again.stderr
    assert without_progress(again.stderr).count("(resumed)") == len(TEMPLATE_STAGES)
    assert read_qrels(run / "beir").to_pylist() == qrels.to_pylist()

    tsv = source / "qrels" / "test.tsv"  # a sibling edited: the input is read again, every stage re-runs
    tsv.write_text(tsv.read_text(encoding="utf-8") + "q5\tp3\t1\n", encoding="utf-8")
    edited = curate("run", pipeline)
    assert edited.returncode == 0, edited.stderr
    assert "(resumed)" not in without_progress(edited.stderr)
    assert len(read_qrels(run / "beir")) == len(pairs) + 1


def test_run_on_a_set_gives_the_corpus_and_qrels_of_curate_dedup(tmp_path):
    source = beir_folder(tmp_path / "in")
    pipeline = pipeline_file(tmp_path, source, [{"use": "minhash_dedup", "params": DEDUP}])
    assert curate("run", pipeline).returncode == 0
    cli = curate("dedup", source, tmp_path / "cli", "--field", "text", "--threshold", "0.7", "--ngram", "3")
    assert cli.returncode == 0, cli.stderr
    for name in ("corpus.jsonl", "queries.jsonl", "qrels/test.tsv"):
        assert (tmp_path / "run" / "beir" / name).read_bytes() == (tmp_path / "cli" / name).read_bytes()
    assert len(read_qrels(tmp_path / "cli")) == len(QRELS) - 1  # q3 moved (p3/p4), q2's two judgements merged


def test_chunking_and_mining_a_set_match_their_commands(tmp_path):
    sample = REPO / "sample_data" / "retrieval"
    chunk = {"size": 60, "overlap": 0}
    run_pipeline(
        {
            "name": "chunk",
            "input": {"path": str(sample)},
            "output": {"dir": str(tmp_path / "chunk"), "export": [{"path": "pq", "format": "parquet"}]},
            "stages": [{"use": "chunk_passages", "params": chunk}],
        }
    )
    assert curate("chunk-passages", sample, tmp_path / "cli_chunk", "--size", 60, "--overlap", 0).returncode == 0
    cli_parts = io.read_bundle(tmp_path / "cli_chunk")
    for name in ("corpus", "queries", "qrels"):
        ours = pq.read_table(tmp_path / "chunk" / "pq" / f"{name}.parquet").to_pylist()
        theirs = cli_parts[name].to_arrow().to_pylist()
        assert [{k: r[k] for k in theirs[0]} for r in ours] == theirs

    mined = run_pipeline(
        {
            "name": "mine",
            "input": {"path": str(sample)},
            "output": str(tmp_path / "mine"),
            "stages": [{"use": "mine_hard_negatives", "part": "queries", "params": {"count": 3}}],
        }
    )
    assert mined.output.kind == "triplets" and mined.parts == {}
    assert not list((tmp_path / "mine").glob("output.*.parquet"))
    assert curate("mine-negatives", sample, tmp_path / "cli.parquet", "--count", 3).returncode == 0
    assert mined.output.to_arrow().to_pylist() == pq.read_table(tmp_path / "cli.parquet").to_pylist()
    stats = mined.stages[0].stats
    assert stats.rows_in == 40 and stats.rows_rejected == 1 and stats.reasons == {"no_positive": 1}


def test_primary_qrels_reads_corpus_and_queries_from_the_set(tmp_path):
    source = beir_folder(tmp_path / "in")
    stages = [{"use": "retrieval_checks"}, {"use": "retrieval_label_issues", "params": {"rank_threshold": 0}}]
    result = run_pipeline(pipeline_file(tmp_path, source, stages, primary="qrels"))
    assert result.output.kind == "qrels" and set(result.parts) == {"corpus", "queries"}
    assert result.stages[0].stats.reasons == {"empty_passage": 1}
    assert result.stages[1].stats.rows_in == len(QRELS) - 1 and "label_flags" in result.output.schema.names
    assert len(read_qrels(tmp_path / "run" / "beir")) == len(QRELS) - 1


def test_kind_on_a_folder_reads_one_part_as_before(tmp_path):
    source = beir_folder(tmp_path / "in")
    config = yaml.safe_load(
        pipeline_file(tmp_path, source, [{"use": "exact_dedup", "params": {"fields": ["text"]}}]).read_text()
    )
    config["input"].update(format="beir", kind="corpus")
    config["output"]["export"] = [{"path": "corpus.jsonl"}]
    result = run_pipeline(config)
    assert result.parts == {} and result.output.kind == "corpus" and result.output.num_rows == len(PASSAGES) - 1
    assert not list((tmp_path / "run").glob("output.*.parquet"))


def test_a_set_stage_without_its_parts_and_primary_without_a_set_are_one_line_errors(tmp_path):
    qrels_file = tmp_path / "qrels.jsonl"
    qrels_file.write_text('{"query_id": "q1", "doc_id": "p1", "score": 1}\n', encoding="utf-8")
    pipeline = tmp_path / "p.yaml"
    pipeline.write_text(
        yaml.safe_dump({"name": "p", "input": {"path": str(qrels_file)}, "stages": [{"use": "retrieval_checks"}]}),
        encoding="utf-8",
    )
    failed = curate("run", pipeline, "--output", tmp_path / "run")
    lines = without_progress(failed.stderr).strip().splitlines()
    assert failed.returncode == 2 and len(lines) == 1
    assert "needs the corpus and the queries" in lines[0] and "input.path without kind" in lines[0]

    with pytest.raises(ConfigError, match="input.primary"):
        run_pipeline(
            {"name": "p", "input": {"path": str(qrels_file), "primary": "qrels"}, "output": str(tmp_path / "r2")}
        )
    one_table = {"name": "p", "input": {"path": str(qrels_file)}, "output": str(tmp_path / "r3")}
    with pytest.raises(ConfigError, match=r"stages\[0\]\.part.*input is one table, not a retrieval set"):
        run_pipeline({**one_table, "stages": [{"use": "retrieval_checks", "part": "qrels"}]})


def test_a_stage_of_another_part_says_which_part_to_name(tmp_path):
    source = beir_folder(tmp_path / "in")
    for stage, part in (("retrieval_checks", "qrels"), ("mine_hard_negatives", "queries")):
        with pytest.raises(ConfigError) as caught:
            run_pipeline(pipeline_file(tmp_path, source, [{"use": stage}]))
        assert f"stage '{stage}' does not accept kind 'corpus'" in str(caught.value)
        assert f"add part: {part}" in str(caught.value)


def test_a_parquet_retrieval_folder_runs_and_exports_whole(tmp_path):
    parts = io.read_bundle(beir_folder(tmp_path / "in"))
    source = io.write_bundle(parts, tmp_path / "pq_in", format="parquet")
    config = yaml.safe_load(
        pipeline_file(tmp_path, source, [{"use": "exact_dedup", "params": {"fields": ["text"]}}]).read_text()
    )
    config["output"]["export"] = [{"path": "pq", "format": "parquet"}, {"path": "corpus.jsonl"}]
    result = run_pipeline(config)
    out = io.read_bundle(tmp_path / "run" / "pq")
    assert set(out) == {"corpus", "queries", "qrels"}
    assert out["corpus"].num_rows == len(PASSAGES) - 1 == len(io.read(tmp_path / "run" / "corpus.jsonl"))
    qrels = out["qrels"].to_arrow()
    assert "p2" not in qrels.column("doc_id").to_pylist() and qrels.num_rows == len(QRELS) - 1
    assert result.stages[0].parts == {"qrels": [len(QRELS), len(QRELS) - 1]}
