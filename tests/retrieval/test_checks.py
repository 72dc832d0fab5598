import json
import unicodedata

import pyarrow as pa
import pytest

from curate import io
from curate.errors import ConfigError
from curate.retrieval import CODES, PROBLEM_SCHEMA, find_retrieval_problems
from tests.conftest import REPO

CORPUS = pa.table(
    {
        "doc_id": ["d1", "d2", "d3"],
        "title": ["서울", "한강", "부산"],
        "text": ["서울은 대한민국의 수도이다.", "한강이 서울을 가로지른다.", "부산은 대한민국 제2의 도시이다."],
    }
)
QUERIES = pa.table({"query_id": ["q1", "q2"], "text": ["대한민국의 수도는?", "서울을 가로지르는 강은?"]})
QRELS = pa.table({"query_id": ["q1", "q2"], "doc_id": ["d1", "d2"], "score": pa.array([1, 1], pa.int32())})


def problems(corpus=CORPUS, queries=QUERIES, qrels=QRELS, **kwargs):
    found = find_retrieval_problems(corpus, queries, qrels, **kwargs)
    assert found.schema == PROBLEM_SCHEMA
    return [(r["table"], r["row"], r["id"], r["code"]) for r in found.to_pylist()]


def qrels(*rows, split=None):
    table = pa.table(
        {
            "query_id": [r[0] for r in rows],
            "doc_id": [r[1] for r in rows],
            "score": pa.array([r[2] if len(r) > 2 else 1 for r in rows], pa.int32()),
        }
    )
    return table.append_column("split", pa.array(split, pa.string())) if split else table


def with_answers(answers):
    return QUERIES.append_column("answers", pa.array(answers, pa.list_(pa.string())))


def test_a_consistent_set_has_no_problems():
    assert problems() == []


def test_sample_retrieval_folder_shows_exactly_its_planted_defects():
    defects = json.loads((REPO / "sample_data" / "defects.json").read_text(encoding="utf-8"))["retrieval"]
    parts = io.read_bundle(REPO / "sample_data" / "retrieval")
    found = find_retrieval_problems(*(parts[k].to_arrow() for k in ("corpus", "queries", "qrels")))
    by_code = {(r["code"], r["table"]): r["id"] for r in found.to_pylist()}
    assert by_code == {
        ("missing_document", "qrels"): defects["missing_doc_qrel"][0]["corpus-id"],
        ("no_positive", "queries"): defects["query_without_qrel"][0],
        ("empty_passage", "corpus"): defects["empty_passage"][0],
    }
    row = found.filter(pa.compute.equal(found.column("code"), "missing_document")).to_pylist()[0]
    assert parts["qrels"].to_arrow().slice(row["row"], 1).to_pylist()[0]["query_id"] == "q029"


def test_missing_query_and_missing_document():
    found = problems(qrels=qrels(("q1", "d1"), ("q9", "d2"), ("q2", "d9")))
    assert found == [("qrels", 1, "q9", "missing_query"), ("qrels", 2, "d9", "missing_document")]


def test_duplicate_qrels_within_a_split_only():
    assert problems(qrels=qrels(("q1", "d1"), ("q2", "d2"), ("q1", "d1", 2))) == [("qrels", 2, "d1", "duplicate_qrel")]
    across = qrels(("q1", "d1"), ("q2", "d2"), ("q1", "d1"), split=["train", "train", "test"])
    assert problems(qrels=across) == []


def test_queries_without_a_positive():
    only_zero = qrels(("q1", "d1"), ("q2", "d2", 0), ("q2", "d3", 0))
    found = find_retrieval_problems(CORPUS, QUERIES, only_zero)
    assert [(r["id"], r["code"], r["detail"]) for r in found.to_pylist()] == [
        ("q2", "no_positive", "2 qrels, none with score > 0")
    ]
    found = find_retrieval_problems(CORPUS, QUERIES, qrels(("q1", "d1")))
    assert [(r["id"], r["detail"]) for r in found.to_pylist()] == [("q2", "no qrels for this query")]


def test_duplicate_ids():
    corpus = pa.concat_tables([CORPUS, CORPUS.slice(0, 1)])
    queries = pa.concat_tables([QUERIES, QUERIES.slice(1, 1)])
    assert problems(corpus, queries) == [
        ("corpus", 3, "d1", "duplicate_doc_id"),
        ("queries", 2, "q2", "duplicate_query_id"),
    ]


@pytest.mark.parametrize("blank", ["", "   ", "\u3000\t\n", "\u200b\ufeff", None])
def test_empty_passages_and_queries_are_reported_with_their_qrels(blank):
    corpus = CORPUS.set_column(2, "text", pa.array(["서울은 대한민국의 수도이다.", blank, "x"], pa.string()))
    queries = QUERIES.set_column(1, "text", pa.array([blank, "강은?"], pa.string()))
    assert problems(corpus, queries) == [
        ("corpus", 1, "d2", "empty_passage"),
        ("queries", 0, "q1", "empty_query"),
        ("qrels", 0, "q1", "empty_query"),
        ("qrels", 1, "d2", "empty_passage"),
    ]


def test_a_single_character_is_not_empty():
    corpus = CORPUS.set_column(2, "text", pa.array(["가", "b", "."], pa.string()))
    assert problems(corpus) == []


def test_answer_not_in_positive():
    queries = with_answers([["서울"], ["낙동강", "금강"]])
    found = find_retrieval_problems(CORPUS, queries, QRELS)
    assert [(r["row"], r["id"], r["code"], r["detail"]) for r in found.to_pylist()] == [
        (1, "d2", "answer_not_in_positive", "no answer of query q2 (낙동강 | 금강) is in passage d2")
    ]


def test_answers_match_after_nfc_whitespace_and_case_folding_and_in_the_title():
    corpus = pa.table(
        {
            "doc_id": ["d1", "d2", "d3"],
            "title": ["Paris", None, None],
            "text": [
                "It is the capital.",
                unicodedata.normalize("NFD", "서울은  대한민국의\u00a0수도이다."),
                "THE RIVER Seine",
            ],
        }
    )
    queries = pa.table(
        {
            "query_id": ["q1", "q2", "q3"],
            "text": ["capital of France?", "수도는?", "river?"],
            "answers": [["paris"], ["대한민국의 수도"], ["the river seine"]],
        }
    )
    assert problems(corpus, queries, qrels(("q1", "d1"), ("q2", "d2"), ("q3", "d3"))) == []


def test_answers_are_checked_on_positives_only_and_only_for_queries_with_answers():
    queries = with_answers([["부산"], []])
    assert problems(queries=queries, qrels=qrels(("q1", "d1", 0), ("q2", "d2"), ("q1", "d3"))) == []
    assert problems(queries=with_answers([["부산"], None]), qrels=qrels(("q1", "d1"), ("q2", "d2"))) == [
        ("qrels", 0, "d1", "answer_not_in_positive")
    ]
    assert problems(queries=with_answers([["부산"], None]), answers_column=None) == []
    renamed = with_answers([["부산"], None]).rename_columns(["query_id", "text", "gold"])
    assert problems(queries=renamed) == []  # no 'answers' column: nothing to check
    assert problems(queries=renamed, answers_column="gold") == [("qrels", 0, "d1", "answer_not_in_positive")]


def test_a_positive_with_a_duplicated_doc_id_passes_when_any_copy_has_the_answer():
    corpus = pa.concat_tables([CORPUS, pa.table({"doc_id": ["d1"], "title": ["x"], "text": ["부산"]})])
    found = problems(corpus, with_answers([["부산"], ["한강"]]))
    assert found == [("corpus", 3, "d1", "duplicate_doc_id")]


def test_bad_tables_are_config_errors():
    with pytest.raises(ConfigError, match="answers column must be list<string>.*field 'answers'"):
        find_retrieval_problems(CORPUS, QUERIES.append_column("answers", pa.array(["서울", "한강"])), QRELS)
    with pytest.raises(ConfigError, match="corpus has no column 'text'"):
        find_retrieval_problems(CORPUS.drop_columns(["text"]), QUERIES, QRELS)
    with pytest.raises(ConfigError, match="qrels has no column 'score'"):
        find_retrieval_problems(CORPUS, QUERIES, QRELS.drop_columns(["score"]))


def test_problems_are_ordered_by_table_row_and_code():
    corpus = CORPUS.set_column(2, "text", pa.array(["", "", ""], pa.string()))
    found = find_retrieval_problems(corpus, QUERIES, qrels(("q1", "d1"), ("q9", "d9"), ("q1", "d1")))
    keys = [(r["table"], r["row"], CODES.index(r["code"])) for r in found.to_pylist()]
    order = {"corpus": 0, "queries": 1, "qrels": 2}
    assert keys == sorted(keys, key=lambda k: (order[k[0]], k[1], k[2]))
    assert ("qrels", 1, CODES.index("missing_query")) in keys and ("qrels", 1, CODES.index("missing_document")) in keys
