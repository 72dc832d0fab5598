import pyarrow as pa
import pytest

from curate import io
from curate.dataset import Dataset
from curate.errors import ConfigError
from curate.retrieval.build import mrc_to_retrieval
from curate.stages.retrieval_label_issues import RetrievalLabelIssues
from tests.conftest import REPO

SAMPLE = REPO / "sample_data" / "retrieval"


def test_sample_folder_flags_buried_positives_without_rejecting():
    qrels = io.read(SAMPLE, kind="qrels")
    result = RetrievalLabelIssues(corpus=str(SAMPLE), rank_threshold=3)(qrels)
    kept = result.kept.to_arrow()
    assert result.stats.rows_rejected == 0 and kept.num_rows == qrels.num_rows
    flagged = [(r["query_id"], r["doc_id"]) for r in kept.to_pylist() if r["label_flags"]]
    assert flagged == [("q021", "d027"), ("q037", "d050")]
    assert result.stats.flags == {"buried_positive": 2} and result.stats.rows_flagged == 2
    assert result.artifacts["label_issues"].num_rows == 2


def test_reject_buried_positives_and_list_missing_ones(tmp_path):
    mrc = io.read(REPO / "sample_data" / "korquad_sample.json", kind="mrc").to_arrow()
    parts = mrc_to_retrieval(mrc)
    io.write(Dataset.from_arrow(parts["corpus"], "corpus"), tmp_path / "corpus.parquet")
    io.write(Dataset.from_arrow(parts["queries"], "queries"), tmp_path / "queries.parquet")
    qrels = parts["qrels"]
    removed = qrels.slice(0, 2).to_pylist()
    last_doc = parts["corpus"].column("doc_id")[-1].as_py()
    wrong = {"query_id": removed[0]["query_id"], "doc_id": last_doc, "score": 1, "split": "train"}
    edited = pa.concat_tables([qrels.slice(2), pa.Table.from_pylist([wrong], schema=qrels.schema)])
    stage = RetrievalLabelIssues(
        corpus=str(tmp_path / "corpus.parquet"),
        queries=str(tmp_path / "queries.parquet"),
        rank_threshold=5,
        reject=["buried_positive"],
    )
    result = stage(Dataset.from_arrow(edited, "qrels"))
    rejected = result.rejected.to_arrow().to_pylist()
    assert (wrong["query_id"], last_doc, "buried_positive") in {
        (r["query_id"], r["doc_id"], r["reject_reason"]) for r in rejected
    }
    issues = result.artifacts["label_issues"].to_pylist()
    missing = {(r["query_id"], r["doc_id"]) for r in issues if r["issue"] == "missing_positive"}
    assert (removed[1]["query_id"], removed[1]["doc_id"]) in missing


def test_a_lone_corpus_file_needs_queries(tmp_path):
    qrels = io.read(SAMPLE, kind="qrels")
    with pytest.raises(ConfigError, match="retrieval_label_issues"):
        RetrievalLabelIssues(corpus=str(SAMPLE / "corpus.jsonl"))(qrels)
