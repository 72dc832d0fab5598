import pyarrow as pa
import pyarrow.compute as pc

from curate import io
from curate.retrieval.build import mrc_to_retrieval
from curate.retrieval.label_issues import ISSUE_SCHEMA, find_retrieval_label_issues
from tests.conftest import REPO

SAMPLE = REPO / "sample_data" / "retrieval"


def korquad_set():
    mrc = io.read(REPO / "sample_data" / "korquad_sample.json", kind="mrc").to_arrow()
    return mrc_to_retrieval(mrc)


def test_sample_folder_with_a_low_threshold_reports_rank_score_and_best_passage():
    corpus, queries, qrels = (io.read(SAMPLE, kind=k).to_arrow() for k in ("corpus", "queries", "qrels"))
    issues = find_retrieval_label_issues(corpus, queries, qrels, rank_threshold=3)
    assert issues.schema == ISSUE_SCHEMA
    rows = issues.to_pylist()
    assert [(r["query_id"], r["doc_id"], r["rank"]) for r in rows] == [("q021", "d027", 6), ("q037", "d050", 5)]
    assert all(r["issue"] == "buried_positive" and r["best_score"] > r["score"] for r in rows)
    assert find_retrieval_label_issues(corpus, queries, qrels).num_rows == 0  # default threshold 100


def test_removed_qrels_come_back_as_missing_positives_and_a_wrong_qrel_is_buried():
    parts = korquad_set()
    qrels = parts["qrels"]
    removed = qrels.slice(0, 3).to_pylist()
    wrong = {"query_id": removed[0]["query_id"], "doc_id": None, "score": 1, "split": "train"}
    corpus = parts["corpus"]  # the wrong qrel points the first query at the last passage (another topic)
    docs = corpus.column("doc_id").to_pylist()
    wrong["doc_id"] = next(d for d in reversed(docs) if d != removed[0]["doc_id"])
    edited = pa.concat_tables([qrels.slice(3), pa.Table.from_pylist([wrong], schema=qrels.schema)])
    issues = find_retrieval_label_issues(corpus, parts["queries"], edited, rank_threshold=5)
    missing = issues.filter(pc.equal(issues.column("issue"), "missing_positive")).to_pylist()
    found = {(r["query_id"], r["doc_id"]) for r in missing}
    assert {(r["query_id"], r["doc_id"]) for r in removed[1:]} <= found
    buried = issues.filter(pc.equal(issues.column("issue"), "buried_positive")).to_pylist()
    assert (wrong["query_id"], wrong["doc_id"]) in {(r["query_id"], r["doc_id"]) for r in buried}
    assert any(r["qrels_row"] == edited.num_rows - 1 for r in buried)


def test_judged_negatives_and_queries_without_answers_are_not_missing_positives():
    corpus = pa.table({"doc_id": ["d1", "d2"], "title": [None, None], "text": ["서울은 수도이다.", "서울의 한강."]})
    queries = pa.table({"query_id": ["q1", "q2"], "text": ["서울은?", "서울은?"], "answers": [["서울"], []]})
    qrels = pa.table({"query_id": ["q1", "q1"], "doc_id": ["d1", "d2"], "score": pa.array([1, 0], pa.int32())})
    assert find_retrieval_label_issues(corpus, queries, qrels).num_rows == 0
    unjudged = qrels.slice(0, 1)
    rows = find_retrieval_label_issues(corpus, queries, unjudged).to_pylist()
    assert [(r["issue"], r["query_id"], r["doc_id"], r["answer"]) for r in rows] == [
        ("missing_positive", "q1", "d2", "서울")
    ]
