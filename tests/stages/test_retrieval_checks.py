import json

import pyarrow as pa
import pytest

from curate import io
from curate.dataset import Dataset
from curate.errors import ConfigError, CurateError
from curate.stages.retrieval_checks import RetrievalChecks
from tests.conftest import REPO, mrc_rows

SAMPLE = REPO / "sample_data" / "retrieval"


def sample_qrels():
    return io.read(SAMPLE, kind="qrels")


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture
def tiny(tmp_path):
    """A BEIR-style set in separate files: corpus.jsonl and queries.jsonl (with answers), qrels."""
    corpus = write_jsonl(
        tmp_path / "corpus.jsonl",
        [
            {"_id": "d1", "title": "서울", "text": "서울은 대한민국의 수도이다."},
            {"_id": "d2", "title": "한강", "text": "한강이 서울을 가로지른다."},
            {"_id": "d3", "title": "빈 문단", "text": "   "},
        ],
    )
    queries = write_jsonl(
        tmp_path / "queries.jsonl",
        [
            {"_id": "q1", "text": "대한민국의 수도는?", "answers": ["서울"]},
            {"_id": "q2", "text": "서울을 가로지르는 강은?", "answers": ["낙동강"]},
            {"_id": "q3", "text": "빈 문단의 내용은?", "answers": []},
        ],
    )
    qrels = Dataset.from_arrow(
        pa.table(
            {
                "query_id": ["q1", "q2", "q3", "q1", "q9", "q1"],
                "doc_id": ["d1", "d2", "d3", "d1", "d1", "d404"],
                "score": pa.array([1, 1, 1, 1, 1, 1], pa.int32()),
            }
        ),
        "qrels",
    )
    return corpus, queries, qrels


def test_sample_folder_rejects_the_qrel_to_a_missing_passage_and_reports_every_problem():
    qrels = sample_qrels()
    result = RetrievalChecks(corpus=str(SAMPLE))(qrels)
    rejected = result.rejected.to_arrow().to_pylist()
    assert [(r["query_id"], r["doc_id"], r["reject_reason"]) for r in rejected] == [
        ("q029", "d999", "missing_document")
    ]
    assert rejected[0]["reject_detail"] == "missing_document: passage d999 is not in the corpus"
    assert rejected[0]["retrieval_flags"] == ["missing_document"]
    assert result.kept.num_rows + result.rejected.num_rows == qrels.num_rows
    assert result.stats.reasons == {"missing_document": 1}
    problems = result.artifacts["problems"]
    assert problems.schema.names == ["table", "row", "id", "field", "code", "detail"]
    assert sorted(zip(problems.column("code").to_pylist(), problems.column("id").to_pylist(), strict=True)) == [
        ("empty_passage", "d025"),
        ("missing_document", "d999"),
        ("no_positive", "q040"),
    ]
    assert all(flags == [] for flags in result.kept.to_arrow().column("retrieval_flags").to_pylist())


def test_single_beir_files_use_their_ids():
    stage = RetrievalChecks(corpus=str(SAMPLE / "corpus.jsonl"), queries=str(SAMPLE / "queries.jsonl"))
    result = stage(sample_qrels())
    assert result.stats.reasons == {"missing_document": 1}
    assert stage.input_files() == [SAMPLE / "corpus.jsonl", SAMPLE / "queries.jsonl"]
    assert RetrievalChecks(corpus=str(SAMPLE)).input_files() == [SAMPLE]


def test_a_parquet_bundle_works_like_the_beir_folder(tmp_path):
    io.write_bundle(io.read_bundle(SAMPLE), tmp_path / "bundle", format="parquet")
    result = RetrievalChecks(corpus=str(tmp_path / "bundle"))(sample_qrels())
    assert result.stats.reasons == {"missing_document": 1}


def test_every_broken_qrel_is_rejected_with_its_reason_across_batches(tiny):
    corpus, queries, qrels = tiny
    stage = RetrievalChecks(corpus=str(corpus), queries=str(queries))
    kept, rejected, stats = stage.execute(qrels, batch_rows=2)
    assert kept.column("query_id").to_pylist() == ["q1"]
    rows = rejected.to_pylist()
    assert [(r["query_id"], r["doc_id"], r["reject_reason"]) for r in rows] == [
        ("q2", "d2", "answer_not_in_positive"),
        ("q3", "d3", "empty_passage"),
        ("q1", "d1", "duplicate_qrel"),
        ("q9", "d1", "missing_query"),
        ("q1", "d404", "missing_document"),
    ]
    assert rows[0]["reject_detail"] == "answer_not_in_positive: no answer of query q2 (낙동강) is in passage d2"
    assert stats.rows_in == 6 == stats.rows_kept + stats.rows_rejected


def test_which_problems_reject_is_configurable(tiny):
    corpus, queries, qrels = tiny
    result = RetrievalChecks(corpus=str(corpus), queries=str(queries), reject=["missing_query"])(qrels)
    assert result.rejected.to_arrow().column("query_id").to_pylist() == ["q9"]
    flags = result.kept.to_arrow().column("retrieval_flags").to_pylist()
    assert flags == [[], ["answer_not_in_positive"], ["empty_passage"], ["duplicate_qrel"], ["missing_document"]]
    nothing = RetrievalChecks(corpus=str(corpus), queries=str(queries), reject=[])(qrels)
    assert nothing.stats.rows_rejected == 0 and nothing.kept.num_rows == 6


def test_the_answers_column_can_be_named_or_left_out(tiny, tmp_path):
    corpus, queries, qrels = tiny
    renamed = write_jsonl(
        tmp_path / "renamed.jsonl",
        [
            {"_id": r["_id"], "text": r["text"], "gold": r["answers"]}
            for r in map(json.loads, queries.read_text().splitlines())
        ],
    )
    without = RetrievalChecks(corpus=str(corpus), queries=str(renamed))(qrels)
    assert "answer_not_in_positive" not in without.stats.reasons
    named = RetrievalChecks(corpus=str(corpus), queries=str(renamed), answers_column="gold")(qrels)
    assert named.stats.reasons["answer_not_in_positive"] == 1


# ----------------------------------------------------------------- errors a user can cause


def one_line(info):
    message = str(info.value)
    assert "\n" not in message
    return message


def test_missing_corpus_names_the_file_and_the_parameter(tmp_path):
    with pytest.raises(ConfigError) as info:
        RetrievalChecks(corpus=str(tmp_path / "nope.jsonl"), queries=str(SAMPLE / "queries.jsonl"))(sample_qrels())
    message = one_line(info)
    assert "corpus not found" in message and "nope.jsonl" in message and "field 'corpus'" in message


def test_queries_are_needed_when_the_corpus_is_a_file():
    with pytest.raises(ConfigError) as info:
        RetrievalChecks(corpus=str(SAMPLE / "corpus.jsonl"))(sample_qrels())
    assert "missing parameter 'queries'" in one_line(info)


def test_a_named_answers_column_the_queries_lack_names_file_and_column(tiny):
    corpus, queries, qrels = tiny
    with pytest.raises(ConfigError) as info:
        RetrievalChecks(corpus=str(corpus), queries=str(queries), answers_column="gold")(qrels)
    message = one_line(info)
    assert "no such column in the queries" in message and "queries.jsonl" in message and "'gold'" in message


def test_answers_of_the_wrong_type_name_file_and_column(tiny, tmp_path):
    corpus, _, qrels = tiny
    queries = write_jsonl(tmp_path / "q.jsonl", [{"_id": "q1", "text": "수도는?", "answers": "서울"}])
    with pytest.raises(ConfigError) as info:
        RetrievalChecks(corpus=str(corpus), queries=str(queries))(qrels)
    message = one_line(info)
    assert "answers column must be list<string>" in message and "q.jsonl" in message and "field 'answers'" in message


def test_a_corpus_without_text_names_the_file(tmp_path, tiny):
    _, queries, qrels = tiny
    corpus = write_jsonl(tmp_path / "bad.jsonl", [{"_id": "d1", "body": "본문"}])
    with pytest.raises(CurateError) as info:
        RetrievalChecks(corpus=str(corpus), queries=str(queries))(qrels)
    message = one_line(info)
    assert "'text'" in message and "bad.jsonl" in message and "retrieval_checks" in message


def test_only_qrels_are_accepted():
    mrc = Dataset.from_arrow(pa.Table.from_pylist(mrc_rows()), "mrc")
    with pytest.raises(ConfigError, match="does not accept kind 'mrc'.*accepts: qrels"):
        RetrievalChecks(corpus=str(SAMPLE))(mrc)


def test_unknown_reject_code_is_a_config_error():
    with pytest.raises(ConfigError, match="bad value for parameter 'reject.0'"):
        RetrievalChecks(corpus=str(SAMPLE), reject=["no_positive"])
